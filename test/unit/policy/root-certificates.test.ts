/**
 * Which root certificates a daemon root key signs under (policy/root-certificates.ts):
 * only single certificates self-signed by that very key, naming exactly the request's
 * GUN, valid now and not beyond the policy's root lifetime. A certificate that carries
 * the key but was made elsewhere (self-signed by an unrelated key), a wildcard or another
 * GUN's CN, a chain, a 100-year validity, an expired one: each is refused with
 * CERTIFICATE_INVALID, and a root that lists no certificate of the key is KEY_NOT_FOUND.
 */
import { createRootCertificate } from '../../../src/metadata/certificate';
import { TufKey } from '../../../src/metadata/keys';
import { Root } from '../../../src/metadata/root';
import { BASE_ROLES } from '../../../src/metadata/roles';
import { GoTime } from '../../../src/metadata/time';
import {
  rootSignatureKeyIds,
  type RootCertificatePolicy,
} from '../../../src/policy/root-certificates';
import type { Signer } from '../../../src/signer/signer';
import { MemorySigner } from '../../helpers/memory-signer';

const GUN = 'registry.example.com/acme/api';
const NOW = new Date('2026-12-05T10:00:00Z');
const POLICY: RootCertificatePolicy = { gun: GUN, now: NOW, maxDays: 3650, clockSkewSeconds: 300 };
const DAY = 86_400_000;

const token = new MemorySigner();
const other = new MemorySigner();

/** A signer that claims `publicOf`'s key but signs with `signWith`'s: a forger's tool. */
function forger(publicOf: Signer, signWith: Signer): Signer {
  return {
    scheme: 'ecdsa-p256',
    publicKeySpki: publicOf.publicKeySpki,
    sign: (m) => signWith.sign(m),
  };
}

function rootWith(...certs: TufKey[]): Root {
  const targets = TufKey.ecdsa(other.publicKeySpki);
  const keys = new Map<string, TufKey>([...certs.map((c) => [c.id, c] as const)]);
  keys.set(targets.id, targets);
  return new Root({
    expires: GoTime.daysFromNow(3000, NOW),
    version: 2,
    keys,
    roles: new Map(
      BASE_ROLES.map((r) => [
        r,
        { keyIds: r === 'root' ? certs.map((c) => c.id) : [targets.id], threshold: 1 },
      ]),
    ),
    consistentSnapshot: false,
  });
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'signed';
}

describe('root certificates a daemon key signs under', () => {
  let issued: TufKey;
  beforeAll(async () => {
    issued = await createRootCertificate({ gun: GUN, signer: token, now: NOW });
  });

  test("the certificate the daemon issues for the GUN: signed under that certificate's ID", () => {
    expect(rootSignatureKeyIds(rootWith(issued), token.publicKeySpki, POLICY)).toEqual([issued.id]);
  });

  test('after a renewal the key signs under both of its certificates', async () => {
    const renewed = await createRootCertificate({
      gun: GUN,
      signer: token,
      now: new Date(NOW.getTime() - 1000 * DAY),
    });
    const ids = rootSignatureKeyIds(rootWith(issued, renewed), token.publicKeySpki, POLICY);
    expect(new Set(ids)).toEqual(new Set([issued.id, renewed.id]));
  });

  test.each([
    ['naming another GUN', { gun: 'docker.io/library/ubuntu' }],
    ['with a wildcard CN', { gun: 'registry.example.com/acme/*' }],
    ['whose CN only starts with the GUN', { gun: `${GUN}x` }],
    ['valid for 100 years', { days: 36500 }],
    ['that has expired', { now: new Date(NOW.getTime() - 3651 * DAY) }],
    ['not valid yet', { now: new Date(NOW.getTime() + 2 * DAY) }],
  ])('a certificate of the token key %s is refused', async (_what, change) => {
    const cert = await createRootCertificate({ gun: GUN, signer: token, now: NOW, ...change });
    expect(codeOf(() => rootSignatureKeyIds(rootWith(cert), token.publicKeySpki, POLICY))).toBe(
      'CERTIFICATE_INVALID',
    );
  });

  test('a certificate carrying the token key but self-signed by an unrelated key is refused', async () => {
    for (const gun of [GUN, 'docker.io/library/ubuntu']) {
      const forged = await createRootCertificate({
        gun,
        signer: forger(token, other),
        now: NOW,
        days: 36500,
      });
      expect(forged.canonicalId).toBe(TufKey.ecdsa(token.publicKeySpki).id);
      expect(codeOf(() => rootSignatureKeyIds(rootWith(forged), token.publicKeySpki, POLICY))).toBe(
        'CERTIFICATE_INVALID',
      );
    }
  });

  test('the issued certificate beside a forged one of the same key: the whole root is refused', async () => {
    const forged = await createRootCertificate({
      gun: 'docker.io/library/ubuntu',
      signer: forger(token, other),
      now: NOW,
    });
    expect(
      codeOf(() => rootSignatureKeyIds(rootWith(issued, forged), token.publicKeySpki, POLICY)),
    ).toBe('CERTIFICATE_INVALID');
  });

  test('a chain whose leaf is the issued certificate is refused', async () => {
    const ca = await createRootCertificate({ gun: GUN, signer: other, now: NOW });
    const bundle = new TufKey(
      'ecdsa-x509',
      Buffer.concat([issued.public, ca.public]), // leaf first, then another certificate
    );
    expect(codeOf(() => rootSignatureKeyIds(rootWith(bundle), token.publicKeySpki, POLICY))).toBe(
      'CERTIFICATE_INVALID',
    );
  });

  test('beyond a shorter policy lifetime: refused', () => {
    const policy = { ...POLICY, maxDays: 365 };
    expect(codeOf(() => rootSignatureKeyIds(rootWith(issued), token.publicKeySpki, policy))).toBe(
      'CERTIFICATE_INVALID',
    );
  });

  test("a root that lists no certificate of the key: KEY_NOT_FOUND; other keys' certificates are not checked", async () => {
    const theirs = await createRootCertificate({
      gun: 'docker.io/library/ubuntu',
      signer: other,
      now: NOW,
    });
    expect(codeOf(() => rootSignatureKeyIds(rootWith(theirs), token.publicKeySpki, POLICY))).toBe(
      'KEY_NOT_FOUND',
    );
    expect(rootSignatureKeyIds(rootWith(issued, theirs), token.publicKeySpki, POLICY)).toEqual([
      issued.id,
    ]);
  });
});
