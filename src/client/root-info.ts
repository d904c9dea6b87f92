/**
 * What a repository's root says about itself, for `notary-hsm root show`: its root
 * certificates (subject CN, validity, PEM), their certificate key IDs and the canonical
 * key IDs of the keys inside, the threshold, and whether the root is consistent on its
 * own (signed by its threshold, certificates valid for the GUN). This is the one place
 * where notary-hsm reads a root it has no reason to trust yet: the IDs are for comparing
 * out of band before pinning, never a substitute for that comparison.
 */
import { isNotaryHsmError, type ErrorCode } from '../errors';
import { certificateCommonName, checkRootKey } from '../metadata/certificate';
import type { TufKey } from '../metadata/keys';
import { parseMetadata } from '../metadata/signed';
import { verifyRoot } from './reader';
import { MAX_UNKNOWN_BYTES, type TrustServer } from './trust-server';

/** One root key as shown. */
export interface RootKeyInfo {
  /** The certificate key ID: root.json, signatures, notary's trust_pinning.certs. */
  readonly certificateKeyId: string;
  /** The ID of the bare public key: `notary key list`, notary-hsmd's key list. */
  readonly canonicalKeyId: string;
  readonly keytype: string;
  readonly subjectCn: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly pem: string;
  /** Why this key would not count for the GUN (CN, validity…), if it would not. */
  readonly problem?: string;
}

/** One repository's root as shown. */
export interface RootInfo {
  readonly gun: string;
  readonly version: number;
  readonly expires: string;
  readonly threshold: number;
  readonly keys: readonly RootKeyInfo[];
  /** Why the root does not verify on its own, if it does not. */
  readonly problem?: string;
  readonly problemCode?: ErrorCode;
}

function isoOf(text: string): string {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}

/** One root key as shown; `problem` says why it would not count for `gun` at `now`. */
export function describeRootKey(key: TufKey, gun: string, now: Date): RootKeyInfo {
  let problem: string | undefined;
  try {
    checkRootKey(key, gun, now);
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  let canonicalKeyId = '';
  let subjectCn = '';
  let notBefore = '';
  let notAfter = '';
  try {
    canonicalKeyId = key.canonicalId;
    subjectCn = certificateCommonName(key) ?? '';
    const cert = key.certificate();
    notBefore = isoOf(cert.validFrom);
    notAfter = isoOf(cert.validTo);
  } catch (err) {
    problem ??= err instanceof Error ? err.message : String(err);
  }
  return {
    certificateKeyId: key.id,
    canonicalKeyId,
    keytype: key.keytype,
    subjectCn,
    notBefore,
    notAfter,
    pem: key.isX509 ? key.public.toString('utf8') : '',
    ...(problem === undefined ? {} : { problem }),
  };
}

/**
 * The server's current root of `gun`, described; a root that does not verify on its own
 * is described with its problem rather than refused.
 * throws: SERVER_*, JSON_*, FIELD_* (no root, or one that does not parse)
 */
export async function describeRoot(
  server: TrustServer,
  gun: string,
  now: Date = new Date(),
): Promise<RootInfo> {
  const root = parseMetadata(
    'root',
    await server.getCurrent(gun, 'root', MAX_UNKNOWN_BYTES),
    'from the server',
  );
  let problem: { problem: string; problemCode: ErrorCode } | undefined;
  try {
    verifyRoot(root, gun, now);
  } catch (err) {
    if (!isNotaryHsmError(err)) throw err;
    problem = { problem: err.message, problemCode: err.code };
  }
  return {
    gun,
    version: root.signed.version,
    expires: root.signed.expires.toString(),
    threshold: root.signed.role('root').threshold,
    keys: root.signed.roleKeys('root').map((k) => describeRootKey(k, gun, now)),
    ...(problem ?? {}),
  };
}

/** GUNs grouped by the set of canonical root key IDs their roots list. */
export interface RootKeyGroup {
  readonly canonicalKeyIds: readonly string[];
  readonly guns: readonly string[];
}

/** Which repositories share the same root key(s). */
export function groupByRootKey(infos: readonly RootInfo[]): RootKeyGroup[] {
  const groups = new Map<string, { canonicalKeyIds: string[]; guns: string[] }>();
  for (const info of infos) {
    const ids = [...new Set(info.keys.map((k) => k.canonicalKeyId || k.certificateKeyId))].sort();
    const key = ids.join(' ');
    const g = groups.get(key) ?? { canonicalKeyIds: ids, guns: [] };
    g.guns.push(info.gun);
    groups.set(key, g);
  }
  return [...groups.values()];
}
