/**
 * The packed signature requests and signatures between a token owner and its module
 * host: what is unpacked is what was packed (ids, deadlines or none, token, key label and
 * ID each present or not, digest), a batch keeps its order around other messages, and
 * requests with a PIN are never packed.
 */
import { randomBytes } from 'node:crypto';
import type { HostMessage } from '../../../src/pkcs11/host/protocol';
import {
  packable,
  packSignatures,
  packSignRequests,
  unpackRequests,
  unpackSignatures,
  type WireMessage,
} from '../../../src/pkcs11/host/sign-frames';

function sign(id: number, key: { label?: string; id?: string }, deadline?: number): HostMessage {
  const req = { op: 'sign' as const, token: 'tøken', key, digest: randomBytes(32) };
  return deadline === undefined ? { id, req } : { id, req, deadline };
}

describe('sign frames', () => {
  it('unpacks the signature requests it packed, in order, among other messages', () => {
    const a = [
      sign(1, { label: 'ci', id: '03' }, 1234.5678),
      sign(2, { label: 'ci' }),
      sign(2 ** 40, { id: 'ff' }, 9e12),
    ];
    const status: HostMessage = { id: 4, req: { op: 'status', token: 'soft' } };
    const b = [sign(5, { label: 'qa', id: '' }, 0)];
    // the second frame as a worker's structured clone gives it: a plain Uint8Array
    const wire: WireMessage[] = [packSignRequests(a), status, new Uint8Array(packSignRequests(b))];
    const back = unpackRequests(wire);
    expect(back).toEqual([...a, status, ...b].map((m) => ({ ...m, req: { ...m.req } })));
    // absent fields stay absent (not undefined members)
    expect(Object.keys((back[1] as HostMessage).req)).toEqual(['op', 'token', 'key', 'digest']);
    expect('id' in (back[1] as { req: { key: object } }).req.key).toBe(false);
    expect('deadline' in (back[1] as object)).toBe(false);
  });

  it('never packs a signature request that carries a PIN, nor other operations', () => {
    const withPin: HostMessage = {
      id: 1,
      req: { op: 'sign', token: 't', key: { label: 'k' }, digest: randomBytes(32), pin: '1' },
    };
    expect(packable(withPin)).toBe(false);
    expect(packable({ id: 2, req: { op: 'listKeys', token: 't' } })).toBe(false);
    expect(packable(sign(3, { label: 'k' }))).toBe(true);
  });

  it('unpacks the signatures it packed', () => {
    const sigs = [
      { id: 7, sig: randomBytes(64) },
      { id: 2 ** 33, sig: randomBytes(64) },
      { id: 9, sig: randomBytes(71) },
    ];
    const seen: { id: number; sig: Uint8Array }[] = [];
    // As the structured clone of a worker or the child's IPC would give it: a Uint8Array.
    const frame = new Uint8Array(packSignatures(sigs));
    unpackSignatures(frame, (id, sig) => seen.push({ id, sig: Buffer.from(sig) }));
    expect(seen).toEqual(sigs);
  });

  it('refuses a frame of the other kind', () => {
    expect(() => unpackSignatures(packSignRequests([sign(1, { label: 'k' })]), () => {})).toThrow();
    expect(() => unpackRequests([packSignatures([{ id: 1, sig: randomBytes(64) }])])).toThrow();
  });
});
