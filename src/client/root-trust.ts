/**
 * Which root to trust for a GUN, without ever trusting on first use. With a root in the
 * trust cache, the server's newest root must follow from it version by version: each
 * `N.root.json` signed by the threshold of the previous root's root keys and by its own
 * (notary-v1.md §7.2 step 4); the same version must be the same bytes, and an older one
 * is a rollback. Without a cached root, the server's root must be signed by its own
 * threshold of root certificates valid for the GUN, and at least one of the valid
 * signatures must come from a pinned key (listing a pinned key is not enough: anyone can
 * copy a public key into a root they sign themselves). The newest root must not be
 * expired and its certificates must be valid now; older roots in the chain are allowed
 * to have expired, as Notary allows.
 */
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import { certificateCommonName, commonNameMatchesGun } from '../metadata/certificate';
import type { TufKey } from '../metadata/keys';
import type { Root } from '../metadata/root';
import { parseMetadata, type SignedMetadata } from '../metadata/signed';
import { matchingPin, type RootPin } from './pins';
import { baseRequirement } from './reader';
import { checkSignatures } from './signature-failure';
import { verifyThreshold } from '../metadata/verify';
import type { CachedTrust } from './trust-cache';
import { MAX_UNKNOWN_BYTES } from './trust-server';
import type { VerifySource } from './watched-server';

/** A root we trust, and how we came to trust it. */
export interface TrustedRoot {
  readonly root: SignedMetadata<Root>;
  /** `pin`: a pinned key signed it; `cache`: it follows from the cached root. */
  readonly via: 'pin' | 'cache';
  /** Root versions followed from the cached root to the newest (empty if none). */
  readonly followed: readonly number[];
  /** The pin that matched, and the key ID it matched (none when trusted through the cache alone). */
  readonly pin?: { readonly source: string; readonly keyId: string };
  /** Root key IDs (certificate and canonical) of every root trusted on the way. */
  readonly rootKeyIds: readonly string[];
}

export interface RootTrustOptions {
  readonly pins: readonly RootPin[];
  readonly cached?: CachedTrust;
  readonly now: Date;
}

const FROM_SERVER = 'from the server';

function idsOf(keys: readonly TufKey[]): string[] {
  return keys.flatMap((k) => {
    try {
      return [k.id, k.canonicalId];
    } catch {
      return [k.id];
    }
  });
}

function describeKeys(keys: readonly TufKey[]): string {
  return keys
    .map((k) => {
      try {
        return `${k.id} (canonical ${k.canonicalId})`;
      } catch {
        return k.id;
      }
    })
    .join(', ');
}

function expiryCheck(root: SignedMetadata<Root>): (now: Date) => void {
  return (now) => {
    if (root.signed.expires.isBefore(now)) {
      throw new NotaryHsmError(
        'METADATA_EXPIRED',
        `root version ${root.signed.version} expired at ${root.signed.expires.toString()}`,
        { details: { role: 'root', expires: root.signed.expires.toString() } },
      );
    }
  };
}

/**
 * The newest root checked on its own: its threshold met by valid root certificates for
 * the GUN, not expired. Returns the keys that signed validly.
 * throws: CERTIFICATE_INVALID, KEY_NOT_TRUSTED, SIGNATURE_INVALID, THRESHOLD_NOT_MET,
 * METADATA_EXPIRED
 */
function checkNewest(root: SignedMetadata<Root>, gun: string, now: Date): TufKey[] {
  const req = baseRequirement(root.signed, 'root', gun, now);
  const valid = new Set(checkSignatures(root.message, root.signatures, req, 'root.json'));
  expiryCheck(root)(now);
  return req.keys.filter((k) => valid.has(k.id));
}

/** The root keys of a root in the chain: certificates for the GUN, expiry not checked. */
function chainKeys(root: Root, gun: string): TufKey[] {
  return root.roleKeys('root').filter((k) => {
    try {
      const cn = certificateCommonName(k);
      return k.isX509 && cn !== undefined && commonNameMatchesGun(cn, gun);
    } catch {
      return false;
    }
  });
}

function chainBroken(gun: string, message: string, cause?: unknown): NotaryHsmError {
  return new NotaryHsmError(
    'ROOT_CHAIN_INVALID',
    `${gun}: ${message}; the root the server offers does not follow from the root this ` +
      'machine trusts, refusing it (if the repository was deliberately re-created, check its ' +
      `new root out of band with \`notary-hsm root show ${gun}\`, then remove its trust ` +
      'cache file and pin the new root)',
    { details: { gun }, ...(cause === undefined ? {} : { cause }) },
  );
}

async function rootByVersion(
  server: VerifySource,
  gun: string,
  version: number,
): Promise<SignedMetadata<Root>> {
  let bytes: Buffer;
  try {
    bytes = await server.getByVersion(gun, 'root', version, MAX_UNKNOWN_BYTES);
  } catch (err) {
    if (isNotaryHsmError(err, 'SERVER_NOT_FOUND')) {
      throw chainBroken(gun, `the server has no root version ${version}`, err);
    }
    throw err;
  }
  return parseMetadata('root', bytes, FROM_SERVER);
}

/** One step of the chain: `next` signed by `threshold` of `keys`. throws: ROOT_CHAIN_INVALID */
function chainStep(
  gun: string,
  next: SignedMetadata<Root>,
  keys: readonly TufKey[],
  threshold: number,
  whose: string,
): void {
  try {
    verifyThreshold(next.message, next.signatures, { role: 'root', keys, threshold });
  } catch (err) {
    const signers = [...new Set(next.signatures.map((s) => s.keyid))].join(', ') || 'no key';
    throw chainBroken(
      gun,
      `root version ${next.signed.version} (signed by ${signers}) is not signed by ${threshold} ` +
        `of ${whose} (${keys.map((k) => k.id).join(', ') || 'none valid for the GUN'})`,
      err,
    );
  }
}

/** Follows the chain from the cached root to `current`. */
async function followChain(
  server: VerifySource,
  gun: string,
  cached: CachedTrust,
  current: SignedMetadata<Root>,
  now: Date,
): Promise<{ followed: number[]; keyIds: string[] }> {
  let trusted: SignedMetadata<Root>;
  try {
    trusted = parseMetadata('root', cached.root, 'from the trust cache');
  } catch (cause) {
    throw new NotaryHsmError('TRUST_CACHE_INVALID', `the cached root of ${gun} does not parse`, {
      cause,
      details: { gun },
    });
  }
  const from = trusted.signed.version;
  const to = current.signed.version;
  if (to < from) {
    throw new NotaryHsmError(
      'ROLLBACK_DETECTED',
      `${gun}: the server offers root version ${to}, older than version ${from} this machine ` +
        'already trusts; refusing it: someone may be replaying old metadata',
      { details: { gun, roles: [{ role: 'root', version: to, seen: from }] } },
    );
  }
  if (to === from) {
    if (!current.bytes.equals(trusted.bytes)) {
      throw chainBroken(
        gun,
        `the server's root version ${to} is not the root version ${to} trusted here`,
      );
    }
    return { followed: [], keyIds: [] };
  }
  const followed: number[] = [];
  const keyIds: string[] = [];
  let prev = trusted;
  for (let v = from + 1; v <= to; v++) {
    const next = v === to ? current : await rootByVersion(server, gun, v);
    if (next.signed.version !== v) {
      throw chainBroken(gun, `the file of root version ${v} holds version ${next.signed.version}`);
    }
    const old = prev.signed;
    const fromOld = chainKeys(old, gun);
    chainStep(gun, next, fromOld, old.role('root').threshold, `the root keys of version ${v - 1}`);
    if (v < to) {
      const own = chainKeys(next.signed, gun);
      chainStep(gun, next, own, next.signed.role('root').threshold, 'its own root keys');
    } else {
      checkNewest(next, gun, now);
    }
    keyIds.push(...idsOf(next.signed.roleKeys('root')));
    followed.push(v);
    prev = next;
  }
  return { followed, keyIds };
}

/**
 * The root to trust for `gun`: from the trust cache through the chain, or from a pin.
 * throws: ROOT_NOT_PINNED, ROOT_PIN_MISMATCH, ROOT_CHAIN_INVALID, ROLLBACK_DETECTED,
 * CERTIFICATE_INVALID, KEY_NOT_TRUSTED, SIGNATURE_INVALID, THRESHOLD_NOT_MET,
 * METADATA_EXPIRED, TRUST_CACHE_INVALID, SERVER_*, JSON_*, FIELD_*
 */
export async function establishRoot(
  server: VerifySource,
  gun: string,
  opts: RootTrustOptions,
): Promise<TrustedRoot> {
  const { pins, cached, now } = opts;
  if (!cached && pins.length === 0) {
    throw new NotaryHsmError(
      'ROOT_NOT_PINNED',
      `no pinned root for ${gun}, and notary-hsm never trusts a root on first use: run ` +
        `\`notary-hsm root show ${gun}\`, compare its root key IDs with the repository's ` +
        'owner out of band, then pass --pin-root <key ID or certificate file> (or --trust-file)',
      { details: { gun } },
    );
  }
  const current = parseMetadata(
    'root',
    await server.getCurrent(gun, 'root', MAX_UNKNOWN_BYTES),
    FROM_SERVER,
  );
  if (cached) {
    const { followed, keyIds } = await followChain(server, gun, cached, current, now);
    if (followed.length === 0) checkNewest(current, gun, now);
    const history = [...cached.rootKeyIds, ...keyIds];
    let pin: TrustedRoot['pin'];
    if (pins.length > 0) {
      const hit = pins.find((p) => p.ids.some((id) => history.includes(id)));
      if (!hit) {
        throw new NotaryHsmError(
          'ROOT_PIN_MISMATCH',
          `${gun}: the trust cache follows a root chain whose root keys ` +
            `(${[...new Set(history)].join(', ')}) match none of the pins given; if the ` +
            'repository was really re-created, check its new root out of band and remove its ' +
            'trust cache file before pinning again',
          { details: { gun, pins: pins.map((p) => p.source), rootKeyIds: [...new Set(history)] } },
        );
      }
      pin = { source: hit.source, keyId: hit.ids.find((id) => history.includes(id)) as string };
    }
    return {
      root: current,
      via: 'cache',
      followed,
      ...(pin ? { pin } : {}),
      rootKeyIds: [...new Set(history)],
    };
  }
  const signers = checkNewest(current, gun, now);
  for (const key of signers) {
    const pin = matchingPin(key, pins);
    if (pin) {
      const keyId = pin.ids.includes(key.id) ? key.id : key.canonicalId;
      return {
        root: current,
        via: 'pin',
        followed: [],
        pin: { source: pin.source, keyId },
        rootKeyIds: idsOf(current.signed.roleKeys('root')),
      };
    }
  }
  throw new NotaryHsmError(
    'ROOT_PIN_MISMATCH',
    `${gun}: the server's root (version ${current.signed.version}) is signed by root key(s) ` +
      `${describeKeys(signers)}, none of which is pinned (${pins.map((p) => p.source).join(', ')}); ` +
      'refusing it. If the root was rotated, verify through the trust cache that saw the ' +
      `rotation, or check the new root out of band (\`notary-hsm root show ${gun}\`) and pin it`,
    {
      details: {
        gun,
        pins: pins.map((p) => p.source),
        rootKeyIds: idsOf(current.signed.roleKeys('root')),
      },
    },
  );
}
