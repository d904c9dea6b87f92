/**
 * One tag of a verified repository, resolved to exactly one trusted digest or refused.
 * Without required roles it is Notary's lookup: the roles in walk order (breadth-first
 * from `targets`, each delegation's paths restricted to its parent's), the first role
 * that lists the tag inside its paths wins. A role that lists the tag outside its paths
 * is never trusted for it (a delegation escaping its paths): when no role trusts the tag,
 * that is the refusal. With required roles, every one of them must list the tag inside
 * its paths with the same digest and size.
 */
import { NotaryHsmError } from '../errors';
import { pathAllowed, restrictPaths } from '../metadata/roles';
import type { FileMeta } from '../metadata/file-meta';
import type { TrustedRepository } from './reader';

/** The answer: one digest, its size, and the role(s) that vouch for it. */
export interface TrustedTarget {
  readonly name: string;
  /** `sha256:<hex>` */
  readonly digest: string;
  readonly size: number;
  /** The role the lookup found it in (the first required role with --require-role). */
  readonly role: string;
  /** Every role that vouches for it (one without required roles). */
  readonly roles: readonly string[];
}

/** Every verified role in walk order with its effective paths. */
export function walkRoles(repo: TrustedRepository): { name: string; paths: readonly string[] }[] {
  const out: { name: string; paths: readonly string[] }[] = [];
  const queue: { name: string; paths: readonly string[] }[] = [{ name: 'targets', paths: [''] }];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const role = queue.shift() as { name: string; paths: readonly string[] };
    const file = repo.targets.get(role.name);
    if (!file || seen.has(role.name)) continue;
    seen.add(role.name);
    out.push(role);
    for (const d of file.signed.delegationRoles) {
      queue.push({ name: d.name, paths: restrictPaths(role.paths, d.paths) });
    }
  }
  return out;
}

function digestOf(meta: FileMeta): string | undefined {
  const sha = meta.sha256Digest;
  return sha ? `sha256:${sha.toString('hex')}` : undefined;
}

interface Entry {
  role: string;
  paths: readonly string[];
  meta?: FileMeta;
  inside: boolean;
}

function entries(repo: TrustedRepository, tag: string): Entry[] {
  return walkRoles(repo).map(({ name, paths }) => {
    const meta = repo.targets.get(name)?.signed.target(tag);
    return { role: name, paths, ...(meta ? { meta } : {}), inside: pathAllowed(tag, paths) };
  });
}

function show(e: Entry): string {
  if (!e.meta) return `${e.role}: does not list it`;
  const d = digestOf(e.meta) ?? 'no sha256 hash';
  return e.inside
    ? `${e.role}: ${d} (${e.meta.length} bytes)`
    : `${e.role}: ${d} (${e.meta.length} bytes) outside its paths ${JSON.stringify(e.paths)}`;
}

function trusted(e: Entry, tag: string, roles: readonly string[]): TrustedTarget {
  const meta = e.meta as FileMeta;
  const digest = digestOf(meta);
  if (!digest) {
    throw new NotaryHsmError(
      'TARGET_INVALID',
      `${tag} in ${e.role} is pinned by no sha256 hash, so it has no digest to trust`,
      { details: { target: tag, role: e.role } },
    );
  }
  return { name: tag, digest, size: meta.length, role: e.role, roles };
}

function notFound(repo: TrustedRepository, tag: string, all: readonly Entry[]): NotaryHsmError {
  const escaped = all.filter((e) => e.meta && !e.inside);
  if (escaped.length > 0) {
    return new NotaryHsmError(
      'TARGET_OUTSIDE_PATHS',
      `${repo.gun}: no role may vouch for ${JSON.stringify(tag)}; it is listed only by ` +
        `${escaped.map(show).join('; ')}, which is not trusted`,
      {
        details: {
          gun: repo.gun,
          target: tag,
          candidates: escaped.map((e) => ({
            role: e.role,
            paths: e.paths,
            digest: digestOf(e.meta as FileMeta) ?? '',
            size: (e.meta as FileMeta).length,
          })),
        },
      },
    );
  }
  const skipped = repo.warnings.length > 0 ? ` (${repo.warnings.join('; ')})` : '';
  return new NotaryHsmError(
    'TARGET_NOT_FOUND',
    `${repo.gun}: no verified role lists ${JSON.stringify(tag)}${skipped}`,
    { details: { gun: repo.gun, target: tag, warnings: repo.warnings } },
  );
}

/** Notary's lookup. throws: TARGET_NOT_FOUND, TARGET_OUTSIDE_PATHS, TARGET_INVALID */
function lookup(repo: TrustedRepository, tag: string): TrustedTarget {
  const all = entries(repo, tag);
  const hit = all.find((e) => e.meta && e.inside);
  if (!hit) throw notFound(repo, tag, all);
  return trusted(hit, tag, [hit.role]);
}

/** All of `required` must agree. throws: TARGET_ROLES_DISAGREE, ROLE_MISSING, TARGET_NOT_FOUND */
function lookupRequired(
  repo: TrustedRepository,
  tag: string,
  required: readonly string[],
): TrustedTarget {
  const byRole = new Map(entries(repo, tag).map((e) => [e.role, e]));
  const rows = required.map((role) => ({ role, e: byRole.get(role) }));
  const vouching = rows.filter((r) => r.e?.meta && r.e.inside);
  const kinds = new Set(
    vouching.map(
      (r) => `${digestOf(r.e?.meta as FileMeta) ?? ''} ${(r.e?.meta as FileMeta).length}`,
    ),
  );
  const describe = rows
    .map((r) => (r.e ? show(r.e) : `${r.role}: not delegated, or did not verify`))
    .join('; ');
  const details = {
    gun: repo.gun,
    target: tag,
    roles: rows.map((r) => ({
      role: r.role,
      verified: r.e !== undefined,
      ...(r.e?.meta
        ? {
            digest: digestOf(r.e.meta) ?? '',
            size: r.e.meta.length,
            insidePaths: r.e.inside,
          }
        : {}),
    })),
    warnings: repo.warnings,
  };
  if (kinds.size > 1) {
    throw new NotaryHsmError(
      'TARGET_ROLES_DISAGREE',
      `${repo.gun}: the required roles do not agree on ${JSON.stringify(tag)}: ${describe}`,
      { details },
    );
  }
  if (rows.some((r) => !r.e)) {
    throw new NotaryHsmError(
      'ROLE_MISSING',
      `${repo.gun}: a required role is missing, so ${JSON.stringify(tag)} is refused: ${describe}` +
        (repo.warnings.length > 0 ? ` (${repo.warnings.join('; ')})` : ''),
      { details },
    );
  }
  if (vouching.length < rows.length) {
    throw new NotaryHsmError(
      'TARGET_NOT_FOUND',
      `${repo.gun}: not every required role vouches for ${JSON.stringify(tag)}: ${describe}`,
      { details },
    );
  }
  const first = vouching[0]?.e as Entry;
  return trusted(first, tag, required);
}

/**
 * The one trusted digest of `tag`, by Notary's lookup or, with `required` roles, by all
 * of them agreeing.
 * throws: TARGET_NOT_FOUND, TARGET_OUTSIDE_PATHS, TARGET_ROLES_DISAGREE, ROLE_MISSING,
 * TARGET_INVALID
 */
export function trustedTarget(
  repo: TrustedRepository,
  tag: string,
  required: readonly string[] = [],
): TrustedTarget {
  return required.length === 0
    ? lookup(repo, tag)
    : lookupRequired(repo, tag, [...new Set(required)]);
}
