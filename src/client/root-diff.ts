/**
 * What a root change does, in lines a person reads before signing it: the version, each
 * base role whose keys or threshold change (root keys with their certificate and
 * canonical key IDs, subject and validity), keys listed or dropped without a role, the
 * expiry and consistent_snapshot. Everything that differs between the two roots is
 * named, so nothing changes unseen; the lines depend on the two roots only.
 */
import type { TufKey } from '../metadata/keys';
import type { Root } from '../metadata/root';
import { BASE_ROLES } from '../metadata/roles';
import { describeRootKey } from './root-info';

/** A key of a role; the certificate's subject and validity for x509 keys (not judged here). */
function keyLine(mark: string, key: TufKey | undefined, id: string, gun: string): string {
  if (!key) return `  ${mark} ${id} (not listed in keys)`;
  if (!key.isX509) return `  ${mark} ${id} (${key.keytype})`;
  const k = describeRootKey(key, gun, new Date(0));
  return (
    `  ${mark} ${id}  canonical ${k.canonicalKeyId || '?'}  CN ${JSON.stringify(k.subjectCn)}` +
    `  valid ${k.notBefore} to ${k.notAfter}`
  );
}

/** The lines describing `next` against `current`, for `gun`. */
export function describeRootChange(gun: string, current: Root, next: Root): string[] {
  const lines = [`root of ${gun}: version ${current.version} -> ${next.version}`];
  for (const role of BASE_ROLES) {
    const was = current.roles.get(role);
    const now = next.roles.get(role);
    const wasIds = was?.keyIds ?? [];
    const nowIds = now?.keyIds ?? [];
    const same =
      was?.threshold === now?.threshold &&
      wasIds.length === nowIds.length &&
      wasIds.every((id) => nowIds.includes(id));
    if (same) {
      lines.push(`${role}: unchanged (${now?.threshold ?? 0} of ${nowIds.length} key(s))`);
      continue;
    }
    const threshold =
      was?.threshold === now?.threshold
        ? `threshold ${now?.threshold ?? 0}`
        : `threshold ${was?.threshold ?? 0} -> ${now?.threshold ?? 0}`;
    lines.push(`${role}: ${threshold} of ${nowIds.length} key(s) (was ${wasIds.length})`);
    for (const id of nowIds) {
      const mark = wasIds.includes(id) ? '=' : '+';
      lines.push(keyLine(mark, next.keys.get(id), id, gun));
    }
    for (const id of wasIds.filter((x) => !nowIds.includes(x))) {
      lines.push(keyLine('-', current.keys.get(id), id, gun));
    }
  }
  const used = new Set(BASE_ROLES.flatMap((r) => next.roles.get(r)?.keyIds ?? []));
  for (const [id, key] of next.keys) {
    if (!used.has(id) && !current.keys.has(id)) {
      lines.push(`keys: lists ${id} (${key.keytype}) for no role`);
    }
  }
  for (const id of current.keys.keys()) {
    if (!next.keys.has(id)) lines.push(`keys: drops ${id}`);
  }
  const kept = [...next.keys.keys()].filter((id) => !used.has(id) && current.keys.has(id));
  if (kept.length > 0) {
    lines.push(`keys: keeps ${kept.length} certificate(s) of earlier root keys (as Notary does)`);
  }
  lines.push(
    current.expires.toString() === next.expires.toString()
      ? `expires: unchanged (${next.expires.toString()})`
      : `expires: ${current.expires.toString()} -> ${next.expires.toString()}`,
  );
  if (current.consistentSnapshot !== next.consistentSnapshot) {
    lines.push(
      `consistent_snapshot: ${String(current.consistentSnapshot)} -> ${String(next.consistentSnapshot)}`,
    );
  }
  return lines;
}
