/**
 * The root change of the offline ceremony (client/root-change.ts, root-diff.ts): what a
 * proposal may change, how signatures of both sides are counted, and how a change file
 * refuses being edited, signed by strangers, or mixed with another change.
 */
import { createRootCertificate } from '../../../src/metadata/certificate';
import { TufKey } from '../../../src/metadata/keys';
import { signMetadata } from '../../../src/metadata/sign';
import { Root } from '../../../src/metadata/root';
import { BASE_ROLES } from '../../../src/metadata/roles';
import { parseMetadata, type Signature } from '../../../src/metadata/signed';
import { GoTime } from '../../../src/metadata/time';
import { methodFor } from '../../../src/metadata/verify';
import {
  changeStatus,
  formatRootChange,
  newRootChange,
  parseRootChange,
  proposeRootChange,
  sameChange,
  withSignatures,
  type RootChange,
} from '../../../src/client/root-change';
import { mergeRootChanges } from '../../../src/client/root-ceremony';
import { MemorySigner } from '../../helpers/memory-signer';

const GUN = 'registry.example.com/acme/app';
const NOW = new Date();

const alice = new MemorySigner();
const bob = new MemorySigner();
const carol = new MemorySigner();
const stranger = new MemorySigner();
const other = new MemorySigner();

const cert = (s: MemorySigner, gun = GUN) => createRootCertificate({ gun, signer: s, now: NOW });

async function currentRoot(...signers: MemorySigner[]) {
  const certs = await Promise.all(signers.map((s) => cert(s)));
  const targets = TufKey.ecdsa(other.publicKeySpki);
  const keys = new Map<string, TufKey>([...certs.map((c) => [c.id, c] as const)]);
  keys.set(targets.id, targets);
  const root = new Root({
    expires: GoTime.daysFromNow(365, NOW),
    version: 1,
    keys,
    roles: new Map(
      BASE_ROLES.map((r) => [
        r,
        r === 'root'
          ? { keyIds: certs.map((c) => c.id), threshold: 1 }
          : { keyIds: [targets.id], threshold: 1 },
      ]),
    ),
  });
  const file = await signMetadata({
    role: 'root',
    signed: root,
    requirements: [{ role: 'root', keys: certs, threshold: 1 }],
    signers: signers.slice(0, 1),
  });
  return { file: parseMetadata('root', file.bytes), certs };
}

/** A signature of the proposal by `signer` under certificate key ID `keyid`. */
async function sign(change: RootChange, signer: MemorySigner, keyid: string): Promise<Signature> {
  return {
    keyid,
    method: methodFor('ecdsa-x509'),
    sig: Buffer.from(await signer.sign(change.message)),
  };
}

describe('proposeRootChange', () => {
  it('adds and removes root keys, keeps old certificates in keys, and bumps the version', async () => {
    const { file, certs } = await currentRoot(alice, bob);
    const carolCert = await cert(carol);
    const next = proposeRootChange(file, GUN, {
      add: [carolCert],
      remove: [certs[0]!.id.slice(0, 10)],
      threshold: 2,
    });
    expect(next.version).toBe(2);
    expect(next.role('root')).toEqual({ keyIds: [certs[1]!.id, carolCert.id], threshold: 2 });
    expect(next.keys.has(certs[0]!.id)).toBe(true); // the leaving key can still sign
    expect(next.role('targets')).toEqual(file.signed.role('targets'));
  });

  it('finds a key to remove by its canonical key ID too', async () => {
    const { file, certs } = await currentRoot(alice, bob);
    const next = proposeRootChange(file, GUN, { add: [], remove: [certs[1]!.canonicalId] });
    expect(next.role('root').keyIds).toEqual([certs[0]!.id]);
  });

  it.each([
    ['nothing to change', {}],
    ['a threshold above the keys', { threshold: 3 }],
    ['removing every root key', { removeAll: true }],
    ['a key that is not a root key', { remove: ['00000000'] }],
    ['a key ID that is not hex', { remove: ['alice'] }],
    ['an empty key ID', { remove: [''] }],
  ])('refuses %s (USAGE)', async (_name, edit: Record<string, unknown>) => {
    const { file, certs } = await currentRoot(alice, bob);
    const remove = edit.removeAll ? certs.map((c) => c.id) : ((edit.remove as string[]) ?? []);
    expect(() =>
      proposeRootChange(file, GUN, {
        add: [],
        remove,
        ...(edit.threshold === undefined ? {} : { threshold: edit.threshold as number }),
      }),
    ).toThrowWithCode('USAGE');
  });

  it('refuses a key that is already a root key, and a certificate for another GUN', async () => {
    const { file, certs } = await currentRoot(alice);
    expect(() => proposeRootChange(file, GUN, { add: [certs[0]!], remove: [] })).toThrowWithCode(
      'USAGE',
    );
    const foreign = await cert(carol, 'registry.example.com/acme/other');
    expect(() => proposeRootChange(file, GUN, { add: [foreign], remove: [] })).toThrowWithCode(
      'CERTIFICATE_INVALID',
    );
  });
});

describe('a root change and its signatures', () => {
  async function change() {
    const { file, certs } = await currentRoot(alice);
    const bobCert = await cert(bob);
    const c = newRootChange(
      GUN,
      file,
      proposeRootChange(file, GUN, { add: [bobCert], remove: [], threshold: 2 }),
    );
    return { c, alice: certs[0]!, bob: bobCert };
  }

  it('is complete only when the current and the proposed thresholds are both met', async () => {
    const { c, alice: a, bob: b } = await change();
    expect(changeStatus(c).complete).toBe(false);
    const withBob = withSignatures(c, [await sign(c, bob, b.id)], 'test');
    // Bob counts for the proposed root only: the current root's key has not signed.
    expect(changeStatus(withBob)).toMatchObject({
      complete: false,
      current: { signed: [] },
      proposed: { signed: [b.id] },
    });
    const both = withSignatures(withBob, [await sign(c, alice, a.id)], 'test');
    expect(changeStatus(both)).toMatchObject({
      complete: true,
      current: { signed: [a.id] },
      proposed: { signed: [a.id, b.id] },
    });
  });

  it('refuses a signature by a key neither root lists, or one that does not verify', async () => {
    const { c, alice: a } = await change();
    const strangerCert = await cert(stranger);
    await expect(
      (async () => withSignatures(c, [await sign(c, stranger, strangerCert.id)], 'x.json'))(),
    ).rejects.toThrowWithCode('SIGNATURE_INVALID');
    await expect(
      (async () => withSignatures(c, [await sign(c, bob, a.id)], 'x.json'))(),
    ).rejects.toThrowWithCode('SIGNATURE_INVALID');
  });

  it('round-trips through its file, signatures included', async () => {
    const { c, alice: a } = await change();
    const signed = withSignatures(c, [await sign(c, alice, a.id)], 'test');
    const back = parseRootChange(formatRootChange(signed), 'change.json');
    expect(sameChange(back, signed)).toBe(true);
    expect(back.signatures.map((s) => s.keyid)).toEqual([a.id]);
  });

  it('refuses a file whose proposal or summary was edited, or that is not a change file', async () => {
    const { c } = await change();
    const doc = JSON.parse(formatRootChange(c)) as {
      proposed: { version: number; expires: string };
      summary: string[];
    };
    const proposal = structuredClone(doc);
    proposal.proposed.version = 3;
    expect(() => parseRootChange(JSON.stringify(proposal), 'p.json')).toThrowWithCode(
      'CEREMONY_FILE_INVALID',
    );
    const expiry = structuredClone(doc);
    expiry.proposed.expires = '2099-01-01T00:00:00Z';
    expect(() => parseRootChange(JSON.stringify(expiry), 'e.json')).toThrowWithCode(
      'CEREMONY_FILE_INVALID',
    );
    const summary = structuredClone(doc);
    summary.summary = summary.summary.slice(0, 1);
    expect(() => parseRootChange(JSON.stringify(summary), 's.json')).toThrowWithCode(
      'CEREMONY_FILE_INVALID',
    );
    expect(() => parseRootChange('{"signed":{}}', 'root.json')).toThrowWithCode(
      'CEREMONY_FILE_INVALID',
    );
    expect(() => parseRootChange('not json', 'x')).toThrowWithCode('CEREMONY_FILE_INVALID');
  });

  it('merges copies of one change and refuses copies of two', async () => {
    const { c, alice: a, bob: b } = await change();
    const one = withSignatures(c, [await sign(c, alice, a.id)], 'a');
    const two = withSignatures(c, [await sign(c, bob, b.id)], 'b');
    const merged = mergeRootChanges([
      { change: one, source: 'a.json' },
      { change: two, source: 'b.json' },
    ]);
    expect(changeStatus(merged).complete).toBe(true);
    const { file } = await currentRoot(alice);
    const elsewhere = newRootChange(
      GUN,
      file,
      proposeRootChange(file, GUN, { add: [], remove: [], expiresDays: 30 }),
    );
    expect(() =>
      mergeRootChanges([
        { change: one, source: 'a.json' },
        { change: elsewhere, source: 'other.json' },
      ]),
    ).toThrowWithCode('CEREMONY_FILE_INVALID');
  });
});
