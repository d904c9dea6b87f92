/**
 * The hot operation between a token owner and its module host, packed: consecutive
 * signature requests (those without a PIN) travel as one binary frame instead of one
 * serialised object each, and the signatures a host makes leave as one frame per reply
 * message. Everything else (other operations, errors, signatures with a PIN) still
 * travels as HostMessage / HostReply objects beside the frames, so the message table
 * stays open to new operations; a frame is just one more element of a batch, and a
 * batch's order is kept.
 *
 * Request frame (little-endian): [kind u8 = 1][count u32], then per request
 * [id f64][deadline f64, NaN for none][token][key label][key id][digest], each text a
 * [length u16][UTF-8] (length 0xffff: absent) and the digest a [length u16][bytes].
 * Signature frame: [kind u8 = 2][count u32], then per signature [id f64][length u16][r‖s].
 */
import type { HostMessage, HostReply, HostRequest } from './protocol';

/** One element of a batch on the wire: a message, or a frame of several. */
export type WireMessage = HostMessage | Uint8Array;
export type WireReply = HostReply | Uint8Array;

type SignRequest = Extract<HostRequest, { op: 'sign' }>;

const REQUESTS = 1;
const SIGNATURES = 2;
const ABSENT = 0xffff;

/** A signature request that may travel in a frame (one without a PIN). */
export function packable(m: HostMessage): boolean {
  return m.req.op === 'sign' && m.req.pin === undefined;
}

function textLength(s: string | undefined): number {
  return 2 + (s === undefined ? 0 : Buffer.byteLength(s));
}

/** Packs signature requests (each packable()) into one frame. */
export function packSignRequests(msgs: readonly HostMessage[]): Uint8Array {
  let size = 5;
  for (const m of msgs) {
    const req = m.req as SignRequest;
    size +=
      16 +
      textLength(req.token) +
      textLength(req.key.label) +
      textLength(req.key.id) +
      2 +
      req.digest.length;
  }
  const out = Buffer.allocUnsafeSlow(size);
  out[0] = REQUESTS;
  out.writeUInt32LE(msgs.length, 1);
  let at = 5;
  const text = (s: string | undefined): void => {
    if (s === undefined) {
      out.writeUInt16LE(ABSENT, at);
      at += 2;
      return;
    }
    const n = out.write(s, at + 2, 'utf8');
    out.writeUInt16LE(n, at);
    at += 2 + n;
  };
  for (const m of msgs) {
    const req = m.req as SignRequest;
    out.writeDoubleLE(m.id, at);
    out.writeDoubleLE(m.deadline ?? NaN, at + 8);
    at += 16;
    text(req.token);
    text(req.key.label);
    text(req.key.id);
    out.writeUInt16LE(req.digest.length, at);
    out.set(req.digest, at + 2);
    at += 2 + req.digest.length;
  }
  return out;
}

function view(frame: Uint8Array): Buffer {
  return Buffer.isBuffer(frame)
    ? frame
    : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** The messages of a batch, frames unpacked, in order. */
export function unpackRequests(batch: readonly WireMessage[]): HostMessage[] {
  const out: HostMessage[] = [];
  for (const m of batch) {
    if (!ArrayBuffer.isView(m)) {
      out.push(m);
      continue;
    }
    const b = view(m);
    if (b[0] !== REQUESTS) throw new Error('not a frame of signature requests');
    let at = 5;
    const text = (): string | undefined => {
      const n = b.readUInt16LE(at);
      at += 2;
      if (n === ABSENT) return undefined;
      at += n;
      return b.toString('utf8', at - n, at);
    };
    for (let i = b.readUInt32LE(1); i > 0; i--) {
      const id = b.readDoubleLE(at);
      const deadline = b.readDoubleLE(at + 8);
      at += 16;
      const token = text() as string;
      const label = text();
      const keyId = text();
      const n = b.readUInt16LE(at);
      const digest = b.subarray(at + 2, at + 2 + n);
      at += 2 + n;
      const key: { label?: string; id?: string } = {};
      if (label !== undefined) key.label = label;
      if (keyId !== undefined) key.id = keyId;
      const req: HostRequest = { op: 'sign', token, key, digest };
      out.push(Number.isNaN(deadline) ? { id, req } : { id, req, deadline });
    }
  }
  return out;
}

/** Packs made signatures, [id, r‖s] each, into one frame. */
export function packSignatures(sigs: readonly { id: number; sig: Uint8Array }[]): Uint8Array {
  let size = 5;
  for (const s of sigs) size += 10 + s.sig.length;
  const out = Buffer.allocUnsafeSlow(size);
  out[0] = SIGNATURES;
  out.writeUInt32LE(sigs.length, 1);
  let at = 5;
  for (const s of sigs) {
    out.writeDoubleLE(s.id, at);
    out.writeUInt16LE(s.sig.length, at + 8);
    out.set(s.sig, at + 10);
    at += 10 + s.sig.length;
  }
  return out;
}

/** Calls `each` for every signature of a signature frame (views into the frame). */
export function unpackSignatures(frame: Uint8Array, each: (id: number, sig: Buffer) => void): void {
  const b = view(frame);
  if (b[0] !== SIGNATURES) throw new Error('not a frame of signatures');
  let at = 5;
  for (let i = b.readUInt32LE(1); i > 0; i--) {
    const id = b.readDoubleLE(at);
    const n = b.readUInt16LE(at + 8);
    each(id, b.subarray(at + 10, at + 10 + n));
    at += 10 + n;
  }
}
