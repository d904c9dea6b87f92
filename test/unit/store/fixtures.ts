/**
 * Shared pieces of the store tests: audit inputs of every shape, the log path of a state
 * directory, raw access to the log's lines, and file operations that count or fail.
 */
import type { FileHandle } from 'node:fs/promises';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditInput } from '../../../src/signing/types';
import type { AuditFileIo, ReserveInput } from '../../../src/store';
import { makeTempDir } from '../../helpers/tmp';

export const GUN = 'registry.example.com/acme/api';

/** A fresh state directory (not yet created: openStore makes it). */
export async function stateDir(prefix = 'store-'): Promise<string> {
  return join(await makeTempDir(prefix), 'state');
}

export function logPath(dir: string): string {
  return join(dir, 'audit.log');
}

/** A refusal, with a few members set. */
export function refusal(n: number, extra: Partial<AuditInput> = {}): AuditInput {
  return {
    client: `ci-${n % 3}`,
    endpoint: 'sign/delegation',
    gun: GUN,
    role: 'targets/ci',
    version: n,
    outcome: 'refused',
    code: 'FORBIDDEN',
    reason: `client may not sign this (#${n})`,
    requestId: `req-${n}`,
    ...extra,
  };
}

/** A signature of `version` of `role` for `gun`, as the pipeline reserves it. */
export function signing(version: number, role = 'targets', gun = GUN): ReserveInput {
  return {
    client: 'ci',
    endpoint: role === 'targets' ? 'sign/targets' : 'sign/delegation',
    gun,
    role,
    version,
    payloadDigest: 'ab'.repeat(32),
    keyIds: ['cd'.repeat(32)],
    outcome: 'signed',
    requestId: `req-${gun}-${role}-${version}`,
  };
}

/** The log's lines, each with its `\n`. */
export async function logLines(dir: string): Promise<string[]> {
  const text = await readFile(logPath(dir), 'utf8');
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

export async function writeLines(dir: string, lines: readonly string[]): Promise<void> {
  await writeFile(logPath(dir), lines.join(''));
}

/** File operations that count their calls and can be made to fail. */
export class TestIo implements AuditFileIo {
  writes = 0;
  syncs = 0;
  /** When set, the next write calls fail with it (after `partialBytes`, if set, went out). */
  failWrite: NodeJS.ErrnoException | undefined;
  /** With failWrite: the first failing call writes this many bytes and reports them. */
  partialBytes: number | undefined;
  failSync: NodeJS.ErrnoException | undefined;
  /** When set, datasync waits for this promise first. */
  gate: Promise<void> | undefined;

  write = async (file: FileHandle, data: Buffer, offset: number, length: number) => {
    this.writes++;
    if (this.failWrite) {
      if (this.partialBytes !== undefined) {
        const n = this.partialBytes;
        this.partialBytes = undefined;
        return (await file.write(data, offset, Math.min(n, length))).bytesWritten;
      }
      throw this.failWrite;
    }
    return (await file.write(data, offset, length)).bytesWritten;
  };

  datasync = async (file: FileHandle) => {
    this.syncs++;
    if (this.gate) await this.gate;
    if (this.failSync) throw this.failSync;
    await file.datasync();
  };
}

export function errno(code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: simulated`);
  err.code = code;
  return err;
}

/** A promise and the function that settles it. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every pending setImmediate and I/O callback run once. */
export function turn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Waits (turn by turn, at most 10 s) until `condition` holds. */
export async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 10 s');
    await new Promise((r) => setTimeout(r, 1));
  }
}
