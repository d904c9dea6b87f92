/**
 * Reading an audit log without opening the store (no lock, no recovery, nothing written):
 * `verifyAuditLog` checks the whole chain and tolerates nothing, `readAudit` streams the
 * records for `notary-hsm audit show`. Both may run while the daemon appends.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { NotaryHsmError } from '../errors';
import type { AuditEntry } from '../signing/types';
import { readLines } from './lines';
import { ChainChecker, isProblem, MAX_RECORD_BYTES, type RecordProblem } from './record';

/** The outcome of verifying a whole log. */
export interface AuditVerification {
  readonly ok: boolean;
  /** Records that verified (before the first problem). */
  readonly records: number;
  /** Hash of the last record that verified (64 zeros for none). */
  readonly lastHash: string;
  /** The first problem: its line (1-based) and, when it parsed that far, its seq. */
  readonly error?: { readonly line: number; readonly seq?: number; readonly problem: string };
  /** The hash of the record at the seq asked for (`at`), when the log verified that far. */
  readonly hashAt?: string;
}

export interface ReadAuditOptions {
  /** Only records whose time is at or after this. */
  since?: Date;
  /** Only records about this GUN. */
  gun?: string;
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDONLY);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new NotaryHsmError(
      'AUDIT_UNAVAILABLE',
      code === 'ENOENT'
        ? `no audit log at ${path} (is --state-dir / NOTARY_HSM_STATE_DIR right?)`
        : `cannot read the audit log ${path}: ${(cause as Error).message}`,
      { cause, details: { path } },
    );
  }
}

/**
 * Verifies every record of the log at `path` and the chain that links them, streaming.
 * Reports the first problem, including a last record without its `\n` (a crash mid-write,
 * or a write in progress when the daemon is running: run it again).
 * throws: AUDIT_UNAVAILABLE (the file cannot be read)
 */
export async function verifyAuditLog(
  path: string,
  options: { at?: number } = {},
): Promise<AuditVerification> {
  const checker = new ChainChecker();
  const at = options.at;
  let hashAt: string | undefined = at === 0 ? checker.lastHash : undefined;
  const found = (): { hashAt?: string } => (hashAt === undefined ? {} : { hashAt });
  const file = await openForRead(path);
  try {
    for await (const line of readLines(file, MAX_RECORD_BYTES)) {
      const fail = (problem: string, seq?: number): AuditVerification => ({
        ok: false,
        records: checker.records,
        lastHash: checker.lastHash,
        ...found(),
        error:
          seq === undefined ? { line: line.number, problem } : { line: line.number, seq, problem },
      });
      if (line.overlong) return fail(`longer than ${MAX_RECORD_BYTES} bytes`);
      if (!line.terminated) {
        return fail('incomplete last record (no newline at its end): a write cut short');
      }
      const r = checker.check(line.bytes);
      if (isProblem(r)) return fail(r.problem, r.seq);
      if (checker.records === at) hashAt = checker.lastHash;
    }
  } catch (cause) {
    throw new NotaryHsmError('AUDIT_UNAVAILABLE', `cannot read the audit log ${path}`, { cause });
  } finally {
    await file.close();
  }
  return { ok: true, records: checker.records, lastHash: checker.lastHash, ...found() };
}

/**
 * The records of the log at `path`, oldest first, filtered. Every record is checked as
 * verifyAuditLog checks it; a last line without its `\n` is a record still being written
 * and is left out.
 * throws: AUDIT_UNAVAILABLE, AUDIT_CORRUPT (at the first record that does not verify, after
 * the ones before it were yielded)
 */
export async function* readAudit(
  path: string,
  options: ReadAuditOptions = {},
): AsyncGenerator<AuditEntry> {
  const since = options.since?.getTime();
  const checker = new ChainChecker();
  const file = await openForRead(path);
  try {
    for await (const line of readLines(file, MAX_RECORD_BYTES)) {
      if (!line.terminated) return;
      const r: AuditEntry | RecordProblem = line.overlong
        ? { problem: `longer than ${MAX_RECORD_BYTES} bytes`, unparseable: false }
        : checker.check(line.bytes);
      if (isProblem(r)) {
        throw new NotaryHsmError(
          'AUDIT_CORRUPT',
          `the audit log ${path} does not verify at line ${line.number}: ${r.problem}`,
          { details: { path, line: line.number, seq: r.seq, problem: r.problem } },
        );
      }
      if (options.gun !== undefined && r.gun !== options.gun) continue;
      if (since !== undefined && Date.parse(r.time) < since) continue;
      yield r;
    }
  } finally {
    await file.close();
  }
}
