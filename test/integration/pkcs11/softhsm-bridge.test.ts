/**
 * The PKCS#11 bridge against real SoftHSM2 tokens, through a module host process:
 * keys generated on the token (sensitive, never extractable), found again by label and
 * by CKA_ID, signatures that verify, two tokens at once, a duplicate label refused, and
 * the PIN handling that needs no fault injection (a wrong PIN is reported and not tried
 * again by itself), and many signatures at once (packed both ways between the owner and
 * its host) each answered with its own signature.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { ModuleHost, Pkcs11Signer, TokenOwner, pinSource } from '../../../src/pkcs11';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../helpers/softhsm';
import { makeTempDir } from '../../helpers/tmp';
import { recordTestPins } from '../../helpers/pin-registry';

const PIN = '246810';

describe('PKCS#11 bridge over SoftHSM2', () => {
  let tokenA: SoftHsmToken;
  let host: ModuleHost;
  let a: TokenOwner;
  let b: TokenOwner;

  beforeAll(async () => {
    const dir = await makeTempDir('bridge-');
    tokenA = await createSoftHsmToken({ label: 'bridge-a', pin: PIN, soPin: '13579135', dir });
    await createSoftHsmToken({ label: 'bridge-b', pin: PIN, soPin: '13579135', dir });
    host = new ModuleHost({ module: SOFTHSM_MODULE, env: { ...process.env, ...tokenA.env } });
    const env = { BRIDGE_PIN: PIN };
    a = new TokenOwner({
      name: 'a',
      host,
      selector: { label: 'bridge-a' },
      pin: pinSource('env:BRIDGE_PIN', env),
      sessions: 2,
    });
    b = new TokenOwner({
      name: 'b',
      host,
      selector: { label: 'bridge-b' },
      pin: pinSource('env:BRIDGE_PIN', env),
    });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('reports both tokens, present, with their labels and PIN state', async () => {
    const slots = await a.slots();
    expect(slots.map((s) => s.label).sort()).toEqual(['bridge-a', 'bridge-b']);
    const status = await a.status();
    expect(status).toMatchObject({ present: true, label: 'bridge-a', pinState: 'ok' });
  });

  it('generates a P-256 key on the token that is sensitive and not extractable', async () => {
    const key = await a.generateKey('root-1', '01');
    expect(key).toMatchObject({ label: 'root-1', id: '01', sensitive: true, extractable: false });
    const pub = createPublicKey({ key: Buffer.from(key.spki), format: 'der', type: 'spki' });
    expect(pub.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('refuses a second key with the same label or the same ID', async () => {
    await expect(a.generateKey('root-1', '02')).rejects.toThrowWithCode('KEY_EXISTS');
    await expect(a.generateKey('root-2', '01')).rejects.toThrowWithCode('KEY_EXISTS');
  });

  it('finds the key by label and by ID, and signs digests that verify', async () => {
    const byLabel = await a.findKey({ label: 'root-1' });
    const byId = await a.findKey({ id: '01' });
    expect(Buffer.from(byId.spki).equals(Buffer.from(byLabel.spki))).toBe(true);
    const msg = Buffer.from('canonical bytes');
    const sig = await a.sign({ label: 'root-1' }, createHash('sha256').update(msg).digest());
    expect(sig).toHaveLength(64);
    const pub = createPublicKey({ key: Buffer.from(byLabel.spki), format: 'der', type: 'spki' });
    expect(verify('sha256', msg, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  });

  it('an unknown key is KEY_NOT_FOUND', async () => {
    await expect(a.findKey({ label: 'nope' })).rejects.toThrowWithCode('KEY_NOT_FOUND');
  });

  it('two tokens sign concurrently, each with its own key', async () => {
    await b.generateKey('deleg', 'aa');
    const sa = await Pkcs11Signer.open(a, { label: 'root-1' });
    const sb = await Pkcs11Signer.open(b, { id: 'aa' });
    const msgs = Array.from({ length: 50 }, (_, i) => Buffer.from(`message ${i}`));
    const sigs = await Promise.all(msgs.flatMap((m) => [sa.sign(m), sb.sign(m)]));
    expect(sigs).toHaveLength(100);
    const pa = createPublicKey({ key: Buffer.from(sa.publicKeySpki), format: 'der', type: 'spki' });
    expect(verify('sha256', msgs[7]!, { key: pa, dsaEncoding: 'ieee-p1363' }, sigs[14]!)).toBe(
      true,
    );
    expect(Buffer.from(sa.publicKeySpki).equals(Buffer.from(sb.publicKeySpki))).toBe(false);
  });

  it('a wrong PIN is reported and never tried again by itself', async () => {
    const dir = await makeTempDir('bridge-pin-');
    const t = await createSoftHsmToken({ label: 'pin-test', pin: PIN, soPin: '13579135', dir });
    const h = new ModuleHost({ module: SOFTHSM_MODULE, env: { ...process.env, ...t.env } });
    try {
      recordTestPins('000000');
      const owner = new TokenOwner({
        name: 'p',
        host: h,
        selector: { label: 'pin-test' },
        pin: pinSource('env:P', { P: '000000' }),
      });
      const first = await owner.listKeys().catch((e: unknown) => e);
      expect(first).toMatchObject({ code: 'PIN_INCORRECT' });
      expect(String((first as Error).message)).not.toContain('000000');
      const second = await owner.listKeys().catch((e: unknown) => e);
      expect(second).toMatchObject({ code: 'PIN_INCORRECT' });
      expect(String((second as Error).message)).toMatch(/not tried again/);
    } finally {
      await h.close();
    }
  });
});

describe('shutdown', () => {
  it('drains queued signatures, then refuses new work with TOKEN_SHUTDOWN', async () => {
    const dir = await makeTempDir('bridge-drain-');
    const t = await createSoftHsmToken({ label: 'drain', pin: PIN, soPin: '13579135', dir });
    const h = new ModuleHost({ module: SOFTHSM_MODULE, env: { ...process.env, ...t.env } });
    try {
      const owner = new TokenOwner({
        name: 'd',
        host: h,
        selector: { label: 'drain' },
        pin: pinSource('env:P', { P: PIN }),
      });
      await owner.generateKey('k', '01');
      const digest = createHash('sha256').update('x').digest();
      const pending = Array.from({ length: 40 }, () => owner.sign({ id: '01' }, digest));
      await owner.drain(5000);
      const results = await Promise.allSettled(pending);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
      await expect(owner.sign({ id: '01' }, digest)).rejects.toThrowWithCode('TOKEN_SHUTDOWN');
    } finally {
      await h.close();
    }
  });
});

describe('signatures in batches', () => {
  it('answers each of 40 signatures at once, by label, by ID and by both, each verifying', async () => {
    const dir = await makeTempDir('bridge-batch-');
    const t = await createSoftHsmToken({ label: 'batch', pin: PIN, soPin: '13579135', dir });
    const h = new ModuleHost({ module: SOFTHSM_MODULE, env: { ...process.env, ...t.env } });
    try {
      const owner = new TokenOwner({
        name: 'batch',
        host: h,
        selector: { label: 'batch' },
        pin: pinSource('env:P', { P: PIN }),
        pipeline: 32,
        syncSign: true,
      });
      const key = await owner.generateKey('k', '0a');
      const refs = [{ label: 'k' }, { id: '0a' }, { label: 'k', id: '0a' }];
      const data = Array.from({ length: 40 }, (_, i) => Buffer.from(`message ${i}`));
      const sigs = await Promise.all(
        data.map((d, i) =>
          owner.sign(
            refs[i % 3] as { label?: string; id?: string },
            createHash('sha256').update(d).digest(),
          ),
        ),
      );
      const pub = createPublicKey({ key: Buffer.from(key.spki), format: 'der', type: 'spki' });
      sigs.forEach((sig, i) => {
        expect(sig).toHaveLength(64);
        expect(
          verify('sha256', data[i] as Buffer, { key: pub, dsaEncoding: 'ieee-p1363' }, sig),
        ).toBe(true);
      });
      // and a key that is not there fails its own request only
      const [missing, found] = await Promise.allSettled([
        owner.sign({ label: 'nope' }, createHash('sha256').update('x').digest()),
        owner.sign({ id: '0a' }, createHash('sha256').update('y').digest()),
      ]);
      expect(missing).toMatchObject({ status: 'rejected', reason: { code: 'KEY_NOT_FOUND' } });
      expect(found.status).toBe('fulfilled');
    } finally {
      await h.close();
    }
  });
});
