/**
 * Proves the signing choke point's invariants with in-process test signers: it signs
 * when the given signers can meet every requirement (2 of 3 keys; old and new root at
 * once; ECDSA and Ed25519), and otherwise refuses with INSUFFICIENT_SIGNATURES naming the
 * missing key IDs before any signer is asked; it never asks a signer whose key is not
 * listed, asks each key's signer once, counts a key listed twice once, and rejects a
 * signer that returns a signature not valid for the listed key (SIGNER_INVALID_SIGNATURE).
 * Its output bytes parse back to the same model, message and bytes, and verify.
 */
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { isNotaryHsmError } from '../../../src/errors';
import { canonicalBytes } from '../../../src/metadata/canonical';
import { createRootCertificate } from '../../../src/metadata/certificate';
import type { RoleKeys } from '../../../src/metadata/common';
import { FileMeta } from '../../../src/metadata/file-meta';
import { TufKey } from '../../../src/metadata/keys';
import { Root } from '../../../src/metadata/root';
import type { BaseRole } from '../../../src/metadata/roles';
import { signerMatches, signMetadata } from '../../../src/metadata/sign';
import { parseMetadata, serialize } from '../../../src/metadata/signed';
import { Snapshot } from '../../../src/metadata/snapshot';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import { verifyThreshold, type Requirement } from '../../../src/metadata/verify';
import type { SignatureScheme, Signer } from '../../../src/signer/signer';
import { MemorySigner } from '../../helpers/memory-signer';
import { REFERENCE_GUN } from '../../helpers/vectors';

const EXPIRES = GoTime.parse('2030-01-01T00:00:00Z');

function targetsModel(version = 1): Targets {
  return new Targets({
    expires: EXPIRES,
    version,
    targets: new Map([['v1', FileMeta.sha256(Buffer.alloc(32, 7), 42)]]),
  });
}

const keyOf = (s: MemorySigner): TufKey =>
  s.scheme === 'ed25519' ? TufKey.ed25519(s.publicKeySpki) : TufKey.ecdsa(s.publicKeySpki);

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(
  p: Promise<unknown>,
): Promise<{ code: string; details: Record<string, unknown>; message: string }> {
  try {
    await p;
  } catch (err) {
    if (!isNotaryHsmError(err)) throw err;
    return { code: err.code, details: { ...err.details }, message: err.message };
  }
  throw new Error('expected a rejection');
}

/** A Signer that answers with fixed bytes, counting calls. */
class FixedSigner implements Signer {
  count = 0;
  constructor(
    readonly scheme: SignatureScheme,
    readonly publicKeySpki: Uint8Array,
    private readonly answer: (message: Uint8Array) => Uint8Array,
  ) {}
  sign(message: Uint8Array): Promise<Uint8Array> {
    this.count++;
    return Promise.resolve(this.answer(message));
  }
}

describe('thresholds', () => {
  it('2 of 3 keys with 2 signers: signs with exactly those two, and the result verifies', async () => {
    const [a, b, c] = [new MemorySigner(), new MemorySigner(), new MemorySigner()];
    const keys = [a, b, c].map(keyOf);
    const req: Requirement = { role: 'targets', keys, threshold: 2 };
    const file = await signMetadata({
      role: 'targets',
      signed: targetsModel(),
      requirements: [req],
      signers: [a, c],
    });
    expect([a.count, b.count, c.count]).toEqual([1, 0, 1]);
    expect(file.signatures.map((s) => s.keyid).sort()).toEqual([keys[0]?.id, keys[2]?.id].sort());
    expect(file.signatures.every((s) => s.method === 'ecdsa' && s.sig.length === 64)).toBe(true);
    expect(verifyThreshold(file.message, file.signatures, req).sort()).toEqual(
      [keys[0]?.id, keys[2]?.id].sort(),
    );
  });

  it('1 signer for a 2-of-3 role: INSUFFICIENT_SIGNATURES names the missing keys; nothing is signed', async () => {
    const [a, b, c] = [new MemorySigner(), new MemorySigner(), new MemorySigner()];
    const keys = [a, b, c].map(keyOf);
    const err = await rejection(
      signMetadata({
        role: 'targets',
        signed: targetsModel(),
        requirements: [{ role: 'targets', keys, threshold: 2 }],
        signers: [b],
      }),
    );
    expect(err.code).toBe('INSUFFICIENT_SIGNATURES');
    const missing = [keys[0]?.id, keys[2]?.id] as string[];
    expect((err.details.missing as string[]).sort()).toEqual([...missing].sort());
    expect(err.details).toMatchObject({ role: 'targets', threshold: 2, available: 1 });
    for (const id of missing) expect(err.message).toContain(id);
    expect(err.message).not.toContain(keys[1]?.id);
    expect([a.count, b.count, c.count]).toEqual([0, 0, 0]);
  });

  it('no signers at all: INSUFFICIENT_SIGNATURES', async () => {
    const key = keyOf(new MemorySigner());
    expect(
      (
        await rejection(
          signMetadata({
            role: 'targets',
            signed: targetsModel(),
            requirements: [{ role: 'targets', keys: [key], threshold: 1 }],
            signers: [],
          }),
        )
      ).code,
    ).toBe('INSUFFICIENT_SIGNATURES');
  });

  it('a key listed twice counts once toward the threshold, and no signer is asked', async () => {
    const a = new MemorySigner();
    const key = keyOf(a);
    const err = await rejection(
      signMetadata({
        role: 'targets',
        signed: targetsModel(),
        requirements: [{ role: 'targets', keys: [key, keyOf(a)], threshold: 2 }],
        signers: [a],
      }),
    );
    expect(err.code).toBe('INSUFFICIENT_SIGNATURES');
    expect(err.details.available).toBe(1);
    expect(a.count).toBe(0);
  });

  it('a signer whose key is not listed is never called', async () => {
    const listed = new MemorySigner();
    const stranger = new MemorySigner();
    const strangerEd = new MemorySigner('ed25519');
    const file = await signMetadata({
      role: 'targets',
      signed: targetsModel(),
      requirements: [{ role: 'targets', keys: [keyOf(listed)], threshold: 1 }],
      signers: [stranger, strangerEd, listed],
    });
    expect(stranger.count).toBe(0);
    expect(strangerEd.count).toBe(0);
    expect(listed.count).toBe(1);
    expect(file.signatures.map((s) => s.keyid)).toEqual([keyOf(listed).id]);
  });

  it('a threshold met without every listed key still lets every available listed key sign', async () => {
    const [a, b] = [new MemorySigner(), new MemorySigner()];
    const file = await signMetadata({
      role: 'targets',
      signed: targetsModel(),
      requirements: [{ role: 'targets', keys: [keyOf(a), keyOf(b)], threshold: 1 }],
      signers: [a, b],
    });
    expect(file.signatures).toHaveLength(2);
  });
});

describe('signers that misbehave', () => {
  const ecPair = (): { spki: Buffer; sign: (m: Uint8Array) => Buffer } => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return {
      spki: pair.publicKey.export({ format: 'der', type: 'spki' }),
      sign: (m) => nodeSign('sha256', m, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }),
    };
  };

  it.each<
    [
      string,
      (
        m: Uint8Array,
        other: (m: Uint8Array) => Buffer,
        own: (m: Uint8Array) => Buffer,
      ) => Uint8Array,
    ]
  >([
    ['64 random-looking bytes', () => Buffer.alloc(64, 0x5a)],
    ['an empty signature', () => new Uint8Array(0)],
    [
      'a DER signature instead of r||s',
      (m) => {
        const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        return nodeSign('sha256', m, { key: pair.privateKey, dsaEncoding: 'der' });
      },
    ],
    ['a valid signature by another key', (m, other) => other(m)],
    ['its own signature over other bytes', (_m, _other, own) => own(Buffer.from('something else'))],
  ])('%s → SIGNER_INVALID_SIGNATURE', async (_name, answer) => {
    const own = ecPair();
    const other = ecPair();
    const liar = new FixedSigner('ecdsa-p256', own.spki, (m) => answer(m, other.sign, own.sign));
    const err = await rejection(
      signMetadata({
        role: 'targets',
        signed: targetsModel(),
        requirements: [{ role: 'targets', keys: [TufKey.ecdsa(own.spki)], threshold: 1 }],
        signers: [liar],
      }),
    );
    expect(err.code).toBe('SIGNER_INVALID_SIGNATURE');
    expect(err.details.keyId).toBe(TufKey.ecdsa(own.spki).id);
    expect(liar.count).toBe(1);
  });

  it('a signer with an unreadable public key matches no key', () => {
    const bogus = new FixedSigner('ecdsa-p256', Buffer.from('not a key'), () => new Uint8Array(64));
    expect(signerMatches(bogus, keyOf(new MemorySigner()))).toBe(false);
  });
});

describe('root rotation: two requirements', () => {
  let oldSigner: MemorySigner;
  let newSigner: MemorySigner;
  let oldCert: TufKey;
  let newCert: TufKey;
  let root: Root;
  let others: MemorySigner[];

  beforeAll(async () => {
    oldSigner = new MemorySigner();
    newSigner = new MemorySigner();
    oldCert = await createRootCertificate({ gun: REFERENCE_GUN, signer: oldSigner });
    newCert = await createRootCertificate({ gun: REFERENCE_GUN, signer: newSigner });
    others = [new MemorySigner(), new MemorySigner(), new MemorySigner('ed25519')];
    const [t, s, ts] = others.map(keyOf) as [TufKey, TufKey, TufKey];
    const keys = new Map([oldCert, newCert, t, s, ts].map((k) => [k.id, k]));
    const role = (k: TufKey): RoleKeys => ({ keyIds: [k.id], threshold: 1 });
    root = new Root({
      expires: GoTime.parse('2036-01-01T00:00:00Z'),
      version: 2,
      keys,
      roles: new Map<BaseRole, RoleKeys>([
        ['root', role(newCert)],
        ['targets', role(t)],
        ['snapshot', role(s)],
        ['timestamp', role(ts)],
      ]),
    });
  });

  beforeEach(() => {
    oldSigner.count = 0;
    newSigner.count = 0;
  });

  const requirements = (): Requirement[] => [
    { role: 'root (old)', keys: [oldCert], threshold: 1 },
    { role: 'root', keys: root.roleKeys('root'), threshold: root.role('root').threshold },
  ];

  it('both old and new root keys sign, and each requirement verifies', async () => {
    const file = await signMetadata({
      role: 'root',
      signed: root,
      requirements: requirements(),
      signers: [newSigner, ...others, oldSigner],
    });
    expect(file.signatures.map((s) => s.keyid).sort()).toEqual([oldCert.id, newCert.id].sort());
    expect(file.signatures.every((s) => s.method === 'ecdsa')).toBe(true);
    for (const req of requirements()) {
      expect(verifyThreshold(file.message, file.signatures, req)).toHaveLength(1);
    }
    expect(others.map((o) => o.count)).toEqual([0, 0, 0]);
    const back = parseMetadata('root', file.bytes);
    expect(back.bytes.equals(serialize(back.signed, back.signatures))).toBe(true);
  });

  it('without the old root key: INSUFFICIENT_SIGNATURES for the old requirement only', async () => {
    const err = await rejection(
      signMetadata({
        role: 'root',
        signed: root,
        requirements: requirements(),
        signers: [newSigner],
      }),
    );
    expect(err.code).toBe('INSUFFICIENT_SIGNATURES');
    expect(err.details).toMatchObject({ role: 'root (old)', missing: [oldCert.id] });
    expect(newSigner.count).toBe(0);
  });

  it('the missing list names the keys of the failing requirement only', async () => {
    // The old requirement is met by oldCert although its second key has no signer.
    const stray = keyOf(new MemorySigner());
    const err = await rejection(
      signMetadata({
        role: 'root',
        signed: root,
        requirements: [
          { role: 'root (old)', keys: [oldCert, stray], threshold: 1 },
          { role: 'root', keys: [newCert], threshold: 1 },
        ],
        signers: [oldSigner],
      }),
    );
    expect(err.details).toMatchObject({ role: 'root', missing: [newCert.id] });
    expect(err.message).not.toContain(stray.id);
    expect(oldSigner.count).toBe(0);
  });

  it('a key in both requirements is signed with once', async () => {
    const file = await signMetadata({
      role: 'root',
      signed: root,
      requirements: [
        { role: 'root (old)', keys: [newCert], threshold: 1 },
        { role: 'root', keys: [newCert], threshold: 1 },
      ],
      signers: [newSigner],
    });
    expect(newSigner.count).toBe(1);
    expect(file.signatures).toHaveLength(1);
  });

  it('an x509 key is matched by the signer of its certificate key only', () => {
    expect(signerMatches(newSigner, newCert)).toBe(true);
    expect(signerMatches(oldSigner, newCert)).toBe(false);
    expect(signerMatches(newSigner, TufKey.ecdsa(newSigner.publicKeySpki))).toBe(true);
  });
});

describe('Ed25519 and the output bytes', () => {
  it('an ed25519 signer signs with method eddsa and the result verifies', async () => {
    const signer = new MemorySigner('ed25519');
    const key = keyOf(signer);
    expect(key.keytype).toBe('ed25519');
    expect(key.public).toHaveLength(32);
    const snapshot = new Snapshot({
      expires: GoTime.parse('2029-11-21T00:00:22.491872442Z'),
      version: 7,
      meta: new Map([
        ['root', FileMeta.of(Buffer.from('root bytes'))],
        ['targets', FileMeta.of(Buffer.from('targets bytes'))],
      ]),
    });
    const req = { role: 'snapshot', keys: [key], threshold: 1 };
    const file = await signMetadata({
      role: 'snapshot',
      signed: snapshot,
      requirements: [req],
      signers: [signer],
    });
    expect(file.signatures).toEqual([expect.objectContaining({ keyid: key.id, method: 'eddsa' })]);
    expect(file.signatures[0]?.sig).toHaveLength(64);
    expect(verifyThreshold(file.message, file.signatures, req)).toEqual([key.id]);
    expect(file.bytes.toString('utf8')).toContain('"method":"eddsa"');
  });

  it('TufKey.ed25519 refuses an SPKI that is not Ed25519 instead of making a bogus key', () => {
    expect(() => TufKey.ed25519(new MemorySigner().publicKeySpki)).toThrowWithCode('KEY_INVALID');
    expect(() => TufKey.ed25519(Buffer.from('not der'))).toThrowWithCode('KEY_INVALID');
    const ed = new MemorySigner('ed25519');
    expect(
      TufKey.ed25519(ed.publicKeySpki).public.equals(Buffer.from(ed.publicKeySpki).subarray(-32)),
    ).toBe(true);
  });

  it('output bytes parse back to the same model, message and bytes', async () => {
    const signer = new MemorySigner();
    const model = targetsModel(9);
    const file = await signMetadata({
      role: 'targets',
      signed: model,
      requirements: [{ role: 'targets', keys: [keyOf(signer)], threshold: 1 }],
      signers: [signer],
    });
    expect(file.message.equals(canonicalBytes(model.toJson()))).toBe(true);
    expect(file.bytes.equals(serialize(model, file.signatures))).toBe(true);
    const back = parseMetadata('targets', file.bytes);
    expect(back.message.equals(file.message)).toBe(true);
    expect(back.signed.toJson()).toEqual(model.toJson());
    expect(serialize(back.signed, back.signatures).equals(file.bytes)).toBe(true);
    expect(back.signatures.map((s) => s.sig.toString('hex'))).toEqual(
      file.signatures.map((s) => s.sig.toString('hex')),
    );
    expect(file.bytes.at(-1)).toBe(0x7d); // no trailing newline
  });

  it('a model canonical JSON cannot carry is refused before any signer is asked', async () => {
    const signer = new MemorySigner();
    const model = new Targets({
      expires: EXPIRES,
      version: 1,
      targets: new Map([['bad\u0001name', FileMeta.sha256(Buffer.alloc(32), 1)]]),
    });
    expect(
      (
        await rejection(
          signMetadata({
            role: 'targets',
            signed: model,
            requirements: [{ role: 'targets', keys: [keyOf(signer)], threshold: 1 }],
            signers: [signer],
          }),
        )
      ).code,
    ).toBe('CANONICAL_UNREPRESENTABLE');
    expect(signer.count).toBe(0);
  });
});
