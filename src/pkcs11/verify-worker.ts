/**
 * Entry point of the verification thread (see batch-verify.ts): receives batches of
 * P-256 signatures packed in one buffer and answers each batch with one byte a
 * signature (1: valid). Keys are sent once and kept here by their number.
 *
 * A batch: [keys added: u32] then per key [number: u32][DER length: u32][SPKI DER],
 * [items: u32] then per item [key number: u32][message length: u32][signature length: u32]
 * [message][signature]; little-endian.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { verifyP256 } from './batch-verify';

const keys = new Map<number, KeyObject>();

function verifyBatch(buf: Uint8Array): Uint8Array {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const u32 = (): number => {
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const bytes = (n: number): Uint8Array => {
    const b = buf.subarray(at, at + n);
    at += n;
    return b;
  };
  for (let added = u32(); added > 0; added--) {
    const number = u32();
    keys.set(
      number,
      createPublicKey({ key: Buffer.from(bytes(u32())), format: 'der', type: 'spki' }),
    );
  }
  const out = new Uint8Array(u32());
  for (let i = 0; i < out.length; i++) {
    const key = keys.get(u32());
    const messageLength = u32();
    const signatureLength = u32();
    const message = bytes(messageLength);
    const signature = bytes(signatureLength);
    out[i] = key !== undefined && verifyP256(key, message, signature) ? 1 : 0;
  }
  return out;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (m: Uint8Array) => {
    const answer = verifyBatch(m);
    port.postMessage(answer, [answer.buffer as ArrayBuffer]);
  });
}
