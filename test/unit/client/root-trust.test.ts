/**
 * Which root pinned verification trusts, on roots made in memory: a pinned key must
 * have signed the root (copying a pinned certificate into a root signed by another key
 * is refused); with a cached root the chain is followed version by version, each step
 * signed by the previous root's keys and its own, older roots allowed to have expired;
 * a missing or forged step, an older root, or the same version with other bytes is
 * refused; pins given alongside a cache must match a root key somewhere on the chain.
 */
import { establishRoot } from '../../../src/client/root-trust';
import { tufKeyOf } from '../../../src/client/signing';
import type { CachedTrust } from '../../../src/client/trust-cache';
import type { VerifySource } from '../../../src/client/watched-server';
import { NotaryHsmError } from '../../../src/errors';
import { createRootCertificate } from '../../../src/metadata/certificate';
import type { TufKey } from '../../../src/metadata/keys';
import { Root } from '../../../src/metadata/root';
import { BASE_ROLES } from '../../../src/metadata/roles';
import { signMetadata } from '../../../src/metadata/sign';
import type { SignedMetadata } from '../../../src/metadata/signed';
import { GoTime } from '../../../src/metadata/time';
import { MemorySigner } from '../../helpers/memory-signer';

const GUN = 'example.com/acme/app';
const DAY = 86_400_000;
const other = tufKeyOf(new MemorySigner());

interface RootKey {
  signer: MemorySigner;
  cert: TufKey;
}

async function rootKey(now = new Date(), days?: number): Promise<RootKey> {
  const signer = new MemorySigner();
  const cert = await createRootCertificate({
    gun: GUN,
    signer,
    now,
    ...(days ? { days } : {}),
  });
  return { signer, cert };
}

/** Root `version` listing `listed` (threshold `threshold`), signed by `signers`. */
async function root(
  version: number,
  listed: readonly RootKey[],
  signers: readonly RootKey[],
  opts: { threshold?: number; expires?: GoTime } = {},
): Promise<SignedMetadata<Root>> {
  const keys = new Map<string, TufKey>([[other.id, other]]);
  for (const k of [...listed, ...signers]) keys.set(k.cert.id, k.cert);
  const r = new Root({
    expires: opts.expires ?? GoTime.daysFromNow(365),
    version,
    keys,
    roles: new Map(
      BASE_ROLES.map((name) => [
        name,
        name === 'root'
          ? { keyIds: listed.map((k) => k.cert.id), threshold: opts.threshold ?? 1 }
          : { keyIds: [other.id], threshold: 1 },
      ]),
    ),
  });
  return signMetadata({
    role: 'root',
    signed: r,
    signers: signers.map((k) => k.signer),
    requirements: [{ role: 'root', keys: signers.map((k) => k.cert), threshold: signers.length }],
  });
}

function serverOf(roots: readonly SignedMetadata<Root>[]): VerifySource {
  const byVersion = new Map(roots.map((r) => [r.signed.version, r.bytes]));
  const current = roots[roots.length - 1]!;
  const missing = (what: string) =>
    Promise.reject(new NotaryHsmError('SERVER_NOT_FOUND', `no ${what}`));
  return {
    getCurrent: (_g, role) =>
      role === 'root' ? Promise.resolve(current.bytes) : missing(`${role}.json`),
    getByVersion: (_g, _role, v) => {
      const b = byVersion.get(v);
      return b ? Promise.resolve(b) : missing(`${v}.root.json`);
    },
    getByHash: () => missing('file'),
    getServerKey: () => missing('key'),
    publish: () => missing('publish'),
  };
}

function cachedOf(r: SignedMetadata<Root>, rootKeyIds: string[] = []): CachedTrust {
  return {
    gun: GUN,
    root: r.bytes,
    versions: new Map([['root', r.signed.version]]),
    rootKeyIds,
    updated: new Date().toISOString(),
  };
}

const pinOf = (k: RootKey) => ({ source: 'test', ids: [k.cert.id] });
const now = new Date();

describe('establishRoot', () => {
  let a: RootKey;
  let b: RootKey;
  let evil: RootKey;
  beforeAll(async () => {
    [a, b, evil] = await Promise.all([rootKey(), rootKey(), rootKey()]);
  });

  it('without a pin and without a cache, refuses to trust on first use', async () => {
    const r1 = await root(1, [a], [a]);
    await expect(establishRoot(serverOf([r1]), GUN, { pins: [], now })).rejects.toThrowWithCode(
      'ROOT_NOT_PINNED',
    );
  });

  it('trusts a root a pinned key signed, by certificate or canonical ID', async () => {
    const r1 = await root(1, [a], [a]);
    const t = await establishRoot(serverOf([r1]), GUN, { pins: [pinOf(a)], now });
    expect(t).toMatchObject({ via: 'pin', pin: { keyId: a.cert.id } });
    const byCanonical = await establishRoot(serverOf([r1]), GUN, {
      pins: [{ source: 'canonical', ids: [a.cert.canonicalId] }],
      now,
    });
    expect(byCanonical.pin?.keyId).toBe(a.cert.canonicalId);
    expect(t.rootKeyIds).toEqual(expect.arrayContaining([a.cert.id, a.cert.canonicalId]));
  });

  it('refuses a root that lists the pinned certificate but was signed by another key', async () => {
    const forged = await root(1, [a, evil], [evil]);
    await expect(
      establishRoot(serverOf([forged]), GUN, { pins: [pinOf(a)], now }),
    ).rejects.toThrowWithCode('ROOT_PIN_MISMATCH');
  });

  it('refuses a root below its own threshold even when a pinned key signed it', async () => {
    const r1 = await root(1, [a, b], [a], { threshold: 2 });
    await expect(
      establishRoot(serverOf([r1]), GUN, { pins: [pinOf(a)], now }),
    ).rejects.toThrowWithCode('THRESHOLD_NOT_MET');
  });

  it('refuses an expired root, and a root whose certificate is for another GUN', async () => {
    const expired = await root(1, [a], [a], {
      expires: GoTime.fromDate(new Date(Date.now() - DAY)),
    });
    await expect(
      establishRoot(serverOf([expired]), GUN, { pins: [pinOf(a)], now }),
    ).rejects.toThrowWithCode('METADATA_EXPIRED');
    const r1 = await root(1, [a], [a]);
    await expect(
      establishRoot(serverOf([r1]), 'example.com/acme/other', { pins: [pinOf(a)], now }),
    ).rejects.toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('follows rotations from the cached root, fetching each version; the old pin still counts through the chain', async () => {
    const r1 = await root(1, [a], [a]);
    const r2 = await root(2, [b], [a, b]);
    const r3 = await root(3, [evil], [b, evil]); // a rotation to a third key, properly signed
    const t = await establishRoot(serverOf([r1, r2, r3]), GUN, {
      pins: [pinOf(a)],
      cached: cachedOf(r1, [a.cert.id, a.cert.canonicalId]),
      now,
    });
    expect(t).toMatchObject({ via: 'cache', followed: [2, 3] });
    expect(t.root.signed.version).toBe(3);
    // The same key as a fresh pin is refused: only the chain carries it.
    await expect(
      establishRoot(serverOf([r1, r2, r3]), GUN, { pins: [pinOf(a)], now }),
    ).rejects.toThrowWithCode('ROOT_PIN_MISMATCH');
  });

  it('a chain step signed only by the new key, or missing on the server, breaks the chain', async () => {
    const r1 = await root(1, [a], [a]);
    const notByOld = await root(2, [b], [b]);
    await expect(
      establishRoot(serverOf([r1, notByOld]), GUN, { pins: [], cached: cachedOf(r1), now }),
    ).rejects.toThrowWithCode('ROOT_CHAIN_INVALID');
    const notByNew = await root(2, [b], [a]);
    const r3 = await root(3, [b], [b]);
    await expect(
      establishRoot(serverOf([r1, notByNew, r3]), GUN, { pins: [], cached: cachedOf(r1), now }),
    ).rejects.toThrowWithCode('ROOT_CHAIN_INVALID');
    const r2 = await root(2, [b], [a, b]);
    const gap = serverOf([r1, r2, r3]);
    const withoutTwo: VerifySource = {
      ...gap,
      getByVersion: (g, role, v) =>
        v === 2
          ? Promise.reject(new NotaryHsmError('SERVER_NOT_FOUND', 'gone'))
          : gap.getByVersion(g, role, v),
    };
    await expect(
      establishRoot(withoutTwo, GUN, { pins: [], cached: cachedOf(r1), now }),
    ).rejects.toThrowWithCode('ROOT_CHAIN_INVALID');
  });

  it('an older root than the cached one is a rollback; the same version with other bytes is refused', async () => {
    const r1 = await root(1, [a], [a]);
    const r2 = await root(2, [a], [a]);
    await expect(
      establishRoot(serverOf([r1]), GUN, { pins: [], cached: cachedOf(r2), now }),
    ).rejects.toThrowWithCode('ROLLBACK_DETECTED');
    const other2 = await root(2, [a], [a], { expires: GoTime.daysFromNow(100) });
    await expect(
      establishRoot(serverOf([r1, other2]), GUN, { pins: [], cached: cachedOf(r2), now }),
    ).rejects.toThrowWithCode('ROOT_CHAIN_INVALID');
    const same = await establishRoot(serverOf([r1, r2]), GUN, {
      pins: [],
      cached: cachedOf(r2),
      now,
    });
    expect(same).toMatchObject({ via: 'cache', followed: [] });
  });

  it('an old root whose certificate has since expired still starts a chain', async () => {
    const past = new Date(Date.now() - 30 * DAY);
    const old = await rootKey(past, 10); // expired 20 days ago
    const r1 = await root(1, [old], [old], {
      expires: GoTime.fromDate(new Date(Date.now() - DAY)),
    });
    const r2 = await root(2, [a], [old, a]);
    const t = await establishRoot(serverOf([r1, r2]), GUN, {
      pins: [],
      cached: cachedOf(r1),
      now,
    });
    expect(t.followed).toEqual([2]);
  });

  it('pins given with a cache must match a root key somewhere on its chain', async () => {
    const r1 = await root(1, [a], [a]);
    await expect(
      establishRoot(serverOf([r1]), GUN, {
        pins: [pinOf(b)],
        cached: cachedOf(r1, [a.cert.id]),
        now,
      }),
    ).rejects.toThrowWithCode('ROOT_PIN_MISMATCH');
  });
});
