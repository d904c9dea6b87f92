/**
 * The audit log's writer: group commit over one O_APPEND file.
 *
 * Invariants (the choke point every audit record and every version reservation passes):
 * - `commit` gives a record its seq, time, prev and hash synchronously, in call order, so
 *   the chain's order is the order of the calls, whatever the disk does later.
 * - Records committed in the same event-loop turn, or while a write and fdatasync are in
 *   flight, go to the file together: one write (more only if the kernel takes part of it)
 *   and one fdatasync — or, on a file opened with O_DSYNC (`durableWrites`, the default),
 *   one write that returns once its bytes are durable. There is at most one flush in flight, so batches reach the file in
 *   chain order.
 * - A commit's promise resolves only after the fdatasync (or O_DSYNC write) that covers its
 *   bytes returned.
 * - The first write or fdatasync that fails rejects every record of its batch and every
 *   record queued behind it with AUDIT_UNAVAILABLE, and the writer refuses all later
 *   commits: after a failed fsync the kernel may have dropped the dirty pages and report
 *   success next time, so nothing written afterwards could be trusted. Reopening the store
 *   re-reads the file and recovers from whatever reached it.
 * - Except a write refused for want of space or because the filesystem turned read-only
 *   (ENOSPC, EDQUOT, EROFS) on a file opened with O_DSYNC: every byte an earlier write
 *   returned for is durable, so the writer cuts the file back to the end of the last
 *   batch that was durable (dropping whatever part of the failed batch got in), puts the
 *   chain's head back to that batch's last record, and takes commits again. It tries
 *   every RECOVER_MS until the cut succeeds (a read-only filesystem refuses it until it is
 *   writable again) and the log and the lock are still its own. The versions claimed by
 *   the rejected records stay claimed (SigningState), so nothing is signed twice.
 * - Before each batch is written, the writer checks that the log's path still names the
 *   file it writes (device and inode) and that the state directory's lock is still its own
 *   (`StateLock.check`). If not — the log or the whole directory removed, renamed or
 *   replaced, the lock gone or someone else's — records would land in a file no one reads
 *   again, or beside a second daemon's: the batch and everything queued are rejected as
 *   above, nothing is written, and all later commits are refused. A problem found by
 *   `check()` between batches (readiness) counts the same. The check is synchronous: a
 *   stat of the log, a stat of the lock and a 64-byte read of it, once per batch.
 * - With a checkpoint store (checkpoint.ts), each durable batch's last record is written
 *   there before any of the batch's promises resolve. If that write fails (the token
 *   pulled out, its login lost), the batch's records are in the file but rejected like a
 *   failed write, and later commits are refused until a retry every RECOVER_MS writes the
 *   checkpoint of the durable head; then commits are taken again. Nothing is answered
 *   on the strength of a record its checkpoint does not cover.
 */
import { fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { NotaryHsmError } from '../errors';
import type { AuditEntry, AuditInput } from '../signing/types';
import type { CheckpointStore } from './checkpoint';
import { identityOf, identityProblem, type FileIdentity } from './identity';
import { MAX_RECORD_BYTES, sealRecord, type SealedRecord } from './record';

/** The two file operations the writer performs; tests wrap them to count or to fail. */
export interface AuditFileIo {
  /** Writes `length` bytes of `data` from `offset`, at the end of the file; returns how many. */
  write(file: FileHandle, data: Buffer, offset: number, length: number): Promise<number>;
  /** Makes the written bytes durable (fdatasync). */
  datasync(file: FileHandle): Promise<void>;
  /**
   * write() returns only once its bytes are durable: the file is opened with O_DSYNC, the
   * kernel makes each write durable as fdatasync would, and the writer calls no datasync —
   * one system call and one thread-pool hop a batch instead of two.
   */
  readonly durableWrites?: boolean;
}

export const nodeFileIo: AuditFileIo = {
  write: async (file, data, offset, length) =>
    (await file.write(data, offset, length)).bytesWritten,
  datasync: (file) => file.datasync(),
  durableWrites: true,
};

/** Where the chain ends: the last record's seq and hash (0 and 64 zeros when empty). */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/** Counters of the writer since the store was opened. */
export interface AuditLogStats {
  /** Records made durable. */
  readonly records: number;
  /** Batches made durable (each with one fdatasync, or one O_DSYNC write). */
  readonly batches: number;
  /** write calls, including failed ones. */
  readonly writes: number;
  /** fdatasync calls, including failed ones (with durable writes: batches written). */
  readonly syncs: number;
  /** The most records one batch held. */
  readonly largestBatch: number;
  /** Times the writer resumed after a full or read-only filesystem. */
  readonly recoveries: number;
}

/** How often a writer stopped by a full or read-only filesystem tries to resume. */
export const RECOVER_MS = 500;

/** Write errors after which the file is intact up to the last durable batch. */
const RECOVERABLE = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

interface Pending {
  readonly entry: AuditEntry;
  readonly resolve: (entry: AuditEntry) => void;
  readonly reject: (err: unknown) => void;
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Group-commit appender of sealed records; see the file comment for its invariants. */
export class AuditWriter {
  private seq: number;
  private prev: string;
  private batch: Pending[] = [];
  private lines: string[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private failure: NotaryHsmError | undefined;
  private closed = false;
  private readonly counters = {
    records: 0,
    batches: 0,
    writes: 0,
    syncs: 0,
    largestBatch: 0,
    recoveries: 0,
  };
  /** The file's length and the chain's head after the last durable batch. */
  private durable: { length: number; seq: number; prev: string };
  /** Set while a failure may be recovered from (see the file comment). */
  private recovering: NodeJS.Timeout | undefined;
  /** True while the durable head's checkpoint is not written (see the file comment). */
  private checkpointBehind = false;
  /** The open log's device and inode (fstat once: a descriptor's file never changes). */
  private readonly identity: FileIdentity;

  /**
   * `lock`: the state directory's lock, checked with the log before each batch.
   * throws: the fstat error of `file`
   */
  constructor(
    readonly path: string,
    private readonly file: FileHandle,
    head: AuditHead,
    private readonly io: AuditFileIo,
    private readonly now: () => Date,
    private readonly lock?: { check(): string | undefined },
    private readonly checkpoint?: CheckpointStore,
  ) {
    this.seq = head.seq;
    this.prev = head.hash;
    this.identity = identityOf(file.fd);
    this.durable = { length: fstatSync(file.fd).size, seq: head.seq, prev: head.hash };
  }

  /** The last record given a place in the chain (durable or not yet). */
  head(): AuditHead {
    return { seq: this.seq, hash: this.prev };
  }

  stats(): AuditLogStats {
    return { ...this.counters };
  }

  /** Why commits are refused (closed, or a failed write), or undefined while they are taken. */
  unavailable(): NotaryHsmError | undefined {
    if (this.failure) return this.failure;
    if (this.closed) {
      return new NotaryHsmError('AUDIT_UNAVAILABLE', `the audit log ${this.path} is closed`);
    }
    return undefined;
  }

  /**
   * Why commits are refused, like `unavailable`, but also checking now that the log and
   * the lock are still this writer's (see the file comment). A problem found is final:
   * queued records are rejected and all later commits refused.
   */
  check(): NotaryHsmError | undefined {
    const refused = this.unavailable();
    if (refused) return refused;
    const found = this.tampered();
    if (found) this.fail(found);
    return found;
  }

  /**
   * Seals a normalised record now and resolves with it once it is durable.
   * rejects: AUDIT_UNAVAILABLE (closed, this or an earlier write failed, or the log or the
   * lock was found removed or replaced),
   * AUDIT_RECORD_INVALID (a record longer than MAX_RECORD_BYTES)
   */
  commit(input: AuditInput): Promise<AuditEntry> {
    const refused = this.unavailable();
    if (refused) return Promise.reject(refused);
    let sealed: SealedRecord;
    try {
      sealed = sealRecord(input, this.seq + 1, this.now().toISOString(), this.prev);
    } catch (cause) {
      return Promise.reject(
        new NotaryHsmError('AUDIT_RECORD_INVALID', 'audit record cannot be written', { cause }),
      );
    }
    if (Buffer.byteLength(sealed.line) > MAX_RECORD_BYTES) {
      return Promise.reject(
        new NotaryHsmError('AUDIT_RECORD_INVALID', `audit record over ${MAX_RECORD_BYTES} bytes`),
      );
    }
    this.seq = sealed.entry.seq;
    this.prev = sealed.entry.hash;
    return new Promise<AuditEntry>((resolve, reject) => {
      this.batch.push({ entry: sealed.entry, resolve, reject });
      this.lines.push(sealed.line);
      this.schedule();
    });
  }

  /**
   * Writes the durable head to the checkpoint store (none: nothing to do).
   * throws: CHECKPOINT_UNAVAILABLE
   */
  async writeCheckpoint(): Promise<void> {
    if (!this.checkpoint) return;
    try {
      await this.checkpoint.write({ seq: this.durable.seq, hash: this.durable.prev });
    } catch (cause) {
      throw new NotaryHsmError(
        'CHECKPOINT_UNAVAILABLE',
        `cannot write the audit checkpoint to ${this.checkpoint.where} (${describe(cause)}); ` +
          'nothing is signed until it can be written',
        { cause, details: { where: this.checkpoint.where } },
      );
    }
  }

  /** Refuses new commits, waits until everything committed is durable (or failed), closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.recovering);
    this.recovering = undefined;
    while (this.flushing !== undefined || this.batch.length > 0) {
      if (this.flushing === undefined) this.startFlush();
      await this.flushing;
    }
    await this.file.close();
  }

  private schedule(): void {
    if (this.flushing !== undefined || this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every request handled in this turn joins the batch
    setImmediate(() => {
      this.scheduled = false;
      this.startFlush();
    });
  }

  /** Starts writing the queued batch if the log and the lock are still this writer's. */
  private startFlush(): void {
    if (this.flushing !== undefined || this.batch.length === 0) return;
    const refused = this.failure ?? this.tampered();
    if (refused) {
      this.fail(refused);
      return;
    }
    this.flushing = this.flush();
  }

  /** Writes and syncs the queued batch. Never rejects: failures go to the batch's promises. */
  private async flush(): Promise<void> {
    const batch = this.batch;
    const lines = this.lines;
    this.batch = [];
    this.lines = [];
    const data = Buffer.from(lines.join(''), 'utf8');
    try {
      let offset = 0;
      while (offset < data.length) {
        this.counters.writes++;
        const n = await this.io.write(this.file, data, offset, data.length - offset);
        if (!(n > 0)) throw new Error(`write returned ${n}`);
        offset += n;
      }
      this.counters.syncs++;
      if (this.io.durableWrites !== true) await this.io.datasync(this.file);
    } catch (cause) {
      this.flushing = undefined;
      const code = (cause as { code?: unknown } | null)?.code;
      const recoverable =
        this.io.durableWrites === true && typeof code === 'string' && RECOVERABLE.has(code);
      this.fail(
        new NotaryHsmError(
          'AUDIT_UNAVAILABLE',
          `cannot write the audit log ${this.path} (${describe(cause)}); ` +
            (recoverable
              ? 'nothing is recorded or signed until it can be written again'
              : 'nothing more is recorded or signed until the store is reopened'),
          { cause, details: { path: this.path } },
        ),
        batch,
      );
      if (recoverable && this.failure?.cause === cause) this.startRecovering();
      return;
    }
    if (this.failure !== undefined) {
      this.flushing = undefined;
      // check() found the log or the lock gone while this batch was in flight
      for (const p of batch) p.reject(this.failure);
      return;
    }
    const last = batch[batch.length - 1];
    if (last) {
      this.durable = {
        length: this.durable.length + data.length,
        seq: last.entry.seq,
        prev: last.entry.hash,
      };
    }
    if (this.checkpoint) {
      // still `flushing`: the next batch waits, so checkpoints reach the token in order
      try {
        await this.writeCheckpoint();
      } catch (err) {
        this.flushing = undefined;
        this.checkpointBehind = true;
        this.fail(
          new NotaryHsmError('AUDIT_UNAVAILABLE', (err as Error).message, {
            cause: err,
            details: { path: this.path, where: this.checkpoint.where },
          }),
          batch,
        );
        this.startRecovering();
        return;
      }
    }
    this.flushing = undefined;
    if (this.failure !== undefined) {
      for (const p of batch) p.reject(this.failure); // found while the checkpoint was written
      return;
    }
    this.counters.records += batch.length;
    this.counters.batches++;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    for (const p of batch) p.resolve(p.entry);
    if (this.batch.length > 0) this.schedule();
  }

  /** Tries every RECOVER_MS to resume after a full or read-only filesystem. */
  private startRecovering(): void {
    if (this.recovering !== undefined || this.closed) return;
    let trying = false;
    this.recovering = setInterval(() => {
      if (trying) return;
      trying = true;
      void this.recover().finally(() => (trying = false));
    }, RECOVER_MS);
    this.recovering.unref();
  }

  /** Cuts the file back to its last durable batch and takes commits again, if it can. */
  private async recover(): Promise<void> {
    if (this.closed || this.flushing !== undefined || this.failure === undefined) return;
    if (this.tampered() !== undefined) {
      clearInterval(this.recovering); // the log or the lock is gone: that failure is final
      this.recovering = undefined;
      return;
    }
    if (this.checkpointBehind) {
      try {
        await this.writeCheckpoint();
      } catch {
        return; // the token is still away: try again later
      }
      this.checkpointBehind = false;
      if (this.closed) return;
      this.resume();
      return;
    }
    try {
      await this.file.truncate(this.durable.length);
    } catch {
      return; // still read-only (or full in a way a cut cannot help): try again later
    }
    if (this.closed || fstatSync(this.file.fd).size !== this.durable.length) return;
    this.resume();
  }

  /**
   * Refuses commits with `reason` (nothing queued is affected) until resume(): the store
   * holds the writer while its log is not yet checked against the checkpoint, and for
   * good once the log is found behind it.
   */
  hold(reason: NotaryHsmError): void {
    this.failure = reason;
  }

  /** Takes commits again from the durable head. */
  resume(): void {
    clearInterval(this.recovering);
    this.recovering = undefined;
    this.seq = this.durable.seq;
    this.prev = this.durable.prev;
    this.failure = undefined;
    this.counters.recoveries++;
  }

  /**
   * What became of the log at its path or of the lock (checked now), as the refusal of all
   * later commits; undefined while both are this writer's.
   */
  private tampered(): NotaryHsmError | undefined {
    const problem =
      identityProblem(this.path, this.identity, 'the audit log') ?? this.lock?.check();
    if (problem === undefined) return undefined;
    return new NotaryHsmError(
      'AUDIT_UNAVAILABLE',
      `${problem} while the daemon ran; nothing more is recorded in the audit log or signed ` +
        'until the daemon is restarted on an intact state directory',
      { details: { path: this.path, problem } },
    );
  }

  /**
   * Refuses all later commits with `failure` (the first one stays) and rejects `inFlight`
   * and every queued record with it.
   */
  private fail(failure: NotaryHsmError, inFlight: readonly Pending[] = []): void {
    this.failure ??= failure;
    const queued = this.batch;
    this.batch = [];
    this.lines = [];
    for (const p of [...inFlight, ...queued]) p.reject(this.failure);
  }
}
