/**
 * The batch verifier behind every token signature: the signatures asked for in one turn
 * of the event loop go to the verification thread as one message and each is answered
 * for what it is (valid, altered, the wrong length, another key's); without a thread, or
 * when the thread dies before answering, they are verified on the calling thread.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BatchVerifier } from '../../../src/pkcs11/batch-verify';

const BUILT = resolve(__dirname, '..', '..', '..', 'dist', 'src', 'pkcs11', 'verify-worker.js');

function pair(): { spki: Buffer; priv: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { spki: publicKey.export({ format: 'der', type: 'spki' }), priv: privateKey };
}

function p1363(priv: KeyObject, message: Buffer): Buffer {
  return sign('sha256', message, { key: priv, dsaEncoding: 'ieee-p1363' });
}

/** 24 cases over two keys: valid, one bit flipped, truncated, and signed by the other key. */
interface Case {
  spki: Buffer;
  message: Buffer;
  sig: Buffer;
  valid: boolean;
}

function cases(): Case[] {
  const keys = [pair(), pair()];
  const spki = (k: number): Buffer => (keys[k] as { spki: Buffer }).spki;
  const out: Case[] = [];
  for (let i = 0; i < 6; i++) {
    for (const k of [0, 1]) {
      const message = Buffer.from(`{"signed":{"_type":"Targets","version":${i}}}`);
      const sig = p1363((keys[k] as { priv: KeyObject }).priv, message);
      const flipped = Buffer.from(sig);
      flipped[5] = (flipped[5] as number) ^ 1;
      out.push({ spki: spki(k), message, sig, valid: true });
      out.push({ spki: spki(k), message, sig: flipped, valid: false });
      out.push({ spki: spki(k), message, sig: sig.subarray(0, 63), valid: false });
      out.push({ spki: spki(1 - k), message, sig, valid: false });
    }
  }
  return out;
}

async function check(v: BatchVerifier): Promise<void> {
  const all = cases();
  const answers = await Promise.all(all.map((c) => v.verify(v.key(c.spki), c.message, c.sig)));
  expect(answers).toEqual(all.map((c) => c.valid));
}

describe('BatchVerifier', () => {
  it('answers each signature of one turn for what it is, in one message to its thread', async () => {
    const v = new BatchVerifier({ entry: BUILT });
    await check(v);
    expect(v.batchesSent).toBe(1);
    // A second turn: a second message, the keys already known to the thread.
    await check(v);
    expect(v.batchesSent).toBe(2);
    await v.close();
  });

  it('starts a new thread after close() and still answers correctly', async () => {
    const v = new BatchVerifier({ entry: BUILT });
    await check(v);
    await v.close();
    await check(v);
    expect(v.batchesSent).toBe(2);
    await v.close();
  });

  it('verifies a lone signature on the calling thread, and a pair in the thread', async () => {
    const v = new BatchVerifier({ entry: BUILT });
    const [valid, invalid] = cases();
    const one = valid as Case;
    await expect(v.verify(v.key(one.spki), one.message, one.sig)).resolves.toBe(true);
    expect(v.batchesSent).toBe(0);
    const two = [valid, invalid] as Case[];
    await expect(
      Promise.all(two.map((c) => v.verify(v.key(c.spki), c.message, c.sig))),
    ).resolves.toEqual([true, false]);
    expect(v.batchesSent).toBe(1);
    await v.close();
  });

  it('verifies on the calling thread when there is no thread', async () => {
    const v = new BatchVerifier({ entry: null });
    await check(v);
    expect(v.batchesSent).toBe(0);
  });

  it('verifies here what a thread that dies without answering was given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'verify-'));
    const dies = join(dir, 'dies.js');
    writeFileSync(
      dies,
      "require('node:worker_threads').parentPort.on('message', () => process.exit(3));\n",
    );
    const v = new BatchVerifier({ entry: dies });
    await check(v);
    expect(v.batchesSent).toBe(1);
    await check(v); // a new thread, which dies too
    expect(v.batchesSent).toBe(2);
  });

  it('sends what arrives while a batch is with the thread as the next batch, each answered with its own results', async () => {
    const v = new BatchVerifier({ entry: BUILT });
    const first = check(v);
    // The next turn, once the first batch is on its way.
    const second = new Promise((r) => setImmediate(r)).then(() => check(v));
    await Promise.all([first, second]);
    expect(v.batchesSent).toBe(2);
    await v.close();
  });
});
