/** Loads the reference metadata captured from the real notary 0.7.0 server and CLI. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VECTORS_DIR = join(__dirname, '..', 'vectors', 'notary-reference');
export const REFERENCE_GUN = 'localhost:5000/demo/app';
/** The capture's instant: every file here was valid then (tests use it as their clock). */
export const REFERENCE_NOW = new Date('2026-11-22T00:00:30Z');

export const STAGES = ['before-snapshot-rotation', 'final'] as const;
export type Stage = (typeof STAGES)[number];
export const ROLES = [
  'root',
  'targets',
  'targets/releases',
  'targets/ci',
  'snapshot',
  'timestamp',
] as const;

export function vector(stage: Stage, role: string): Buffer {
  return readFileSync(join(VECTORS_DIR, stage, `${role}.json`));
}

/** Flips the lowest bit of byte `i` in place. */
export function flipByte(buf: Buffer, i: number): Buffer {
  buf.writeUInt8(buf.readUInt8(i) ^ 1, i);
  return buf;
}
