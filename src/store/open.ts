/**
 * Opening the store: lock the state directory, read the whole audit log, verify its chain,
 * rebuild the signing state, and recover from the one kind of damage a crash can leave.
 *
 * A crash (kill -9, power loss) can cut the last write short. What it leaves after the
 * last complete record is either bytes without a final `\n`, or a last line that is not
 * even JSON. No promise of those records ever resolved (a commit resolves only after its
 * fdatasync), so nothing was signed on their strength: they are cut away, the cut is made
 * durable, and a `recovered` record saying how many bytes went is appended. Anything else
 * (a record that parses but does not verify, damage before the last line, a seq gap) is
 * AUDIT_CORRUPT: the daemon must not start on a log it cannot trust.
 */
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NotaryHsmError } from '../errors';
import type { AuditInput } from '../signing/types';
import { AuditLog } from './audit-log';
import {
  anchorRecord,
  checkpointVerdict,
  type Checkpoint,
  type CheckpointStore,
  type CheckpointVerdict,
  type LogExtent,
} from './checkpoint';
import { readLines } from './lines';
import { lockStateDir, type StateLock } from './lock';
import {
  ChainChecker,
  isProblem,
  MAX_RECORD_BYTES,
  normalizeInput,
  type RecordProblem,
} from './record';
import { SigningState, forgetGun, stateKey } from './signing-state';
import { AuditWriter, RECOVER_MS, nodeFileIo, type AuditFileIo, type AuditHead } from './writer';

/** The audit log's name inside the state directory. */
export const AUDIT_LOG_FILE = 'audit.log';

/** The daemon's open state: its audit log and the signing state derived from it. */
export interface Store {
  readonly audit: AuditLog;
  readonly state: SigningState;
  /** What recovery did at open (undefined when the log was intact). */
  readonly recovered?: { readonly truncatedBytes: number };
  /**
   * Why nothing can be recorded (so nothing may be signed), checked now: a write failed,
   * the store is closed, or the audit log, its lock or the state directory was removed or
   * replaced while the store was open. Undefined while records are taken. A problem found
   * here is final: the store refuses every later record, as after a failed write.
   */
  problem(): string | undefined;
  /** Waits until every record appended so far is durable (or failed), then closes. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** The clock for record times (tests). */
  now?: () => Date;
  /**
   * Replaces the writer's file operations (tests: count them, make them fail). Unless it
   * says `durableWrites: true`, the file is opened without O_DSYNC and every batch gets
   * its own datasync call.
   */
  io?: Partial<AuditFileIo>;
  /**
   * Where the log's checkpoint is kept (checkpoint.ts). With one, the log is checked
   * against it at open (AUDIT_BEHIND_CHECKPOINT) and every batch's answers wait for it.
   */
  checkpoint?: CheckpointStore;
  /**
   * Told what was found about the checkpoint, at open or once it could be read ('adopt':
   * a log that had none; 'behind': the log lacks records it covers — `error` says which —
   * and nothing will be signed).
   */
  onCheckpoint?: (
    verdict: 'ok' | 'new' | 'adopt' | 'behind',
    at: Checkpoint,
    error?: Error,
  ) => void;
}

const { O_WRONLY, O_RDONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_DSYNC } = constants;

function unavailable(message: string, cause: unknown): NotaryHsmError {
  return new NotaryHsmError('AUDIT_UNAVAILABLE', `${message}: ${(cause as Error).message}`, {
    cause,
  });
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Opens the log for appending, creating it (0600, and durable in its directory) if needed;
 * `durable`: with O_DSYNC (every write returns once its bytes are durable).
 */
async function openForAppend(
  path: string,
  dirCreated: boolean,
  durable: boolean,
): Promise<FileHandle> {
  const sync = durable ? O_DSYNC : 0;
  let file: FileHandle;
  try {
    file = await open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | sync, 0o600);
    await syncDir(dirname(path));
    if (dirCreated) await syncDir(dirname(dirname(path)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw unavailable(`cannot create the audit log ${path}`, err);
    }
    try {
      file = await open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | sync);
    } catch (cause) {
      throw unavailable(`cannot open the audit log ${path}`, cause);
    }
  }
  const st = await file.stat();
  if (!st.isFile()) {
    await file.close();
    throw new NotaryHsmError('AUDIT_UNAVAILABLE', `the audit log ${path} is not a regular file`);
  }
  return file;
}

function corrupt(path: string, line: number, p: RecordProblem): NotaryHsmError {
  const where = `line ${line}${p.seq === undefined ? '' : ` (seq ${p.seq})`}`;
  return new NotaryHsmError(
    'AUDIT_CORRUPT',
    `the audit log ${path} does not verify at ${where}: ${p.problem}. ` +
      'The daemon does not start on a damaged log: keep a copy, inspect it with ' +
      '"notary-hsm audit verify", and restore it or move it aside',
    { details: { path, line, seq: p.seq, problem: p.problem } },
  );
}

interface Scan {
  head: AuditHead;
  /** Highest signed version per state key. */
  versions: Map<string, number>;
  /** Bytes up to the end of the last good record. */
  goodBytes: number;
  /** Bytes after it (a torn tail), to cut away. */
  tornBytes: number;
  /** The hash of the record at the seq asked for (undefined without one). */
  hashAt: string | undefined;
  /** The last `checkpointed` record (checkpoint.ts), if any. */
  anchor: { seq: number; reason: string } | undefined;
}

/**
 * Reads and verifies the whole log, noting the hash of record `at` on the way.
 * throws: AUDIT_CORRUPT, AUDIT_UNAVAILABLE
 */
async function scan(path: string, at = 0): Promise<Scan> {
  const checker = new ChainChecker();
  let hashAt: string | undefined = at === 0 ? checker.lastHash : undefined;
  let anchor: { seq: number; reason: string } | undefined;
  const versions = new Map<string, number>();
  let goodBytes = 0;
  let endBytes = 0;
  let suspect: { line: number; problem: RecordProblem } | undefined;
  let file: FileHandle;
  try {
    file = await open(path, O_RDONLY | O_NOFOLLOW);
  } catch (cause) {
    throw unavailable(`cannot read the audit log ${path}`, cause);
  }
  try {
    for await (const line of readLines(file, MAX_RECORD_BYTES)) {
      // a bad line followed by anything is damage, not a write cut short
      if (suspect) throw corrupt(path, suspect.line, suspect.problem);
      endBytes = line.offset + line.length + (line.terminated ? 1 : 0);
      if (!line.terminated) break; // torn tail: everything from here is cut
      const r = line.overlong
        ? { problem: `longer than ${MAX_RECORD_BYTES} bytes`, unparseable: false }
        : checker.check(line.bytes);
      if (isProblem(r)) {
        suspect = { line: line.number, problem: r };
        continue;
      }
      goodBytes = endBytes;
      if (checker.records === at) hashAt = checker.lastHash;
      if (r.outcome === 'checkpointed') anchor = { seq: r.seq, reason: r.reason ?? '' };
      if (r.outcome === 'reset' && r.gun !== undefined) forgetGun(versions, r.gun);
      if (r.outcome === 'signed' && r.gun !== undefined && r.role !== undefined) {
        const key = stateKey(r.gun, r.role);
        if (r.version !== undefined && r.version > (versions.get(key) ?? 0)) {
          versions.set(key, r.version);
        }
      }
    }
  } catch (err) {
    if (err instanceof NotaryHsmError) throw err;
    throw unavailable(`cannot read the audit log ${path}`, err);
  } finally {
    await file.close();
  }
  if (suspect && !suspect.problem.unparseable) throw corrupt(path, suspect.line, suspect.problem);
  return {
    head: { seq: checker.records, hash: checker.lastHash },
    versions,
    goodBytes,
    tornBytes: endBytes - goodBytes,
    hashAt,
    anchor,
  };
}

/** What the start-up check needs of a scan. */
function extent(path: string, found: Scan): LogExtent {
  return {
    path,
    head: found.head,
    hashAtCheckpoint: found.hashAt,
    ...(found.anchor ? { anchor: found.anchor } : {}),
  };
}

/** The checkpoint, or CHECKPOINT_UNAVAILABLE naming where it is kept. */
async function readCheckpoint(store: CheckpointStore): Promise<Checkpoint | undefined> {
  try {
    return await store.read();
  } catch (cause) {
    if (cause instanceof NotaryHsmError && cause.code === 'CHECKPOINT_UNAVAILABLE') throw cause;
    throw new NotaryHsmError(
      'CHECKPOINT_UNAVAILABLE',
      `cannot read the audit checkpoint from ${store.where}: ${(cause as Error).message}`,
      { cause, details: { where: store.where } },
    );
  }
}

/**
 * Opens (creating if needed: directory 0700, log 0600) the store in `stateDir`, verifies
 * the whole audit log, recovers a torn tail (see the file comment) and rebuilds the
 * signing state. The directory stays locked until close.
 * throws: AUDIT_CORRUPT (refuse to start), STATE_LOCKED, AUDIT_UNAVAILABLE
 */
export async function openStore(stateDir: string, options: StoreOptions = {}): Promise<Store> {
  let dirCreated: boolean;
  try {
    dirCreated = (await mkdir(stateDir, { recursive: true, mode: 0o700 })) !== undefined;
  } catch (cause) {
    throw unavailable(`cannot create the state directory ${stateDir}`, cause);
  }
  const lock = await lockStateDir(stateDir);
  let file: FileHandle | undefined;
  try {
    const path = join(stateDir, AUDIT_LOG_FILE);
    const io: AuditFileIo = options.io
      ? { ...nodeFileIo, durableWrites: false, ...options.io }
      : nodeFileIo;
    file = await openForAppend(path, dirCreated, io.durableWrites === true);
    const cp = options.checkpoint;
    // A checkpoint that cannot be read now (its token absent, its PIN refused) does not stop
    // the start: the store opens held, signs nothing, and checks again every RECOVER_MS.
    let saved: Checkpoint | undefined;
    let unread: NotaryHsmError | undefined;
    if (cp) {
      try {
        saved = await readCheckpoint(cp);
      } catch (err) {
        if (!(err instanceof NotaryHsmError)) throw err;
        unread = err;
      }
    }
    const found = await scan(path, saved?.seq);
    const verdict =
      cp && !unread ? checkpointVerdict(saved, extent(path, found), cp.where) : undefined;
    if (found.tornBytes > 0) {
      try {
        await file.truncate(found.goodBytes);
        await file.datasync();
      } catch (cause) {
        throw unavailable(`cannot cut the incomplete record off the audit log ${path}`, cause);
      }
    }
    const now = options.now ?? (() => new Date());
    const writer = new AuditWriter(path, file, found.head, io, now, lock, cp);
    file = undefined; // the writer owns it now
    const store = new OpenStore(writer, found.versions, lock);
    if (cp && unread) {
      store.verifyLater(cp, unread, found.tornBytes, options.onCheckpoint);
      return store;
    }
    try {
      await store.started(found.tornBytes, cp, verdict);
    } catch (err) {
      await store.close();
      throw err;
    }
    if (verdict) options.onCheckpoint?.(verdict, writer.head());
    return store;
  } catch (err) {
    await file?.close();
    await lock.release();
    throw err;
  }
}

class OpenStore implements Store {
  readonly audit: AuditLog;
  readonly state: SigningState;
  recovered?: { readonly truncatedBytes: number };
  private closing: Promise<void> | undefined;
  /** Set while the log waits to be checked against its checkpoint (verifyLater). */
  private verifying: NodeJS.Timeout | undefined;

  constructor(
    private readonly writer: AuditWriter,
    versions: ReadonlyMap<string, number>,
    private readonly lock: StateLock,
  ) {
    this.audit = new AuditLog(writer);
    this.state = new SigningState(writer, versions);
  }

  /**
   * What follows a good open: the record of a recovered tail, and for a checkpoint made
   * now the `checkpointed` record that says so (their batches write the checkpoint), or
   * else the checkpoint of the head as found.
   */
  async started(
    truncatedBytes: number,
    cp: CheckpointStore | undefined,
    verdict: CheckpointVerdict | undefined,
  ): Promise<void> {
    if (truncatedBytes > 0) await this.recover(truncatedBytes);
    if (cp && (verdict === 'new' || verdict === 'adopt')) {
      const why = verdict === 'new' ? 'a new log' : 'a log that had none, from here on';
      await this.writer.commit(normalizeInput(anchorRecord(cp.where, why)));
    } else if (cp && truncatedBytes === 0) {
      await this.writer.writeCheckpoint();
    }
  }

  /**
   * The checkpoint could not be read at open (`why`): sign nothing, and every RECOVER_MS
   * read it again and check the log against it; a log behind it holds the store for good.
   */
  verifyLater(
    cp: CheckpointStore,
    why: NotaryHsmError,
    truncatedBytes: number,
    told: StoreOptions['onCheckpoint'],
  ): void {
    const held = (reason: string): NotaryHsmError =>
      new NotaryHsmError('AUDIT_UNAVAILABLE', reason, { cause: why, details: { where: cp.where } });
    this.writer.hold(
      held(`${why.message}; nothing is signed until the audit log is checked against it`),
    );
    let trying = false;
    this.verifying = setInterval(() => {
      if (trying) return;
      trying = true;
      void this.verifyNow(cp, truncatedBytes, told, held).finally(() => (trying = false));
    }, RECOVER_MS);
    this.verifying.unref();
  }

  private async verifyNow(
    cp: CheckpointStore,
    truncatedBytes: number,
    told: StoreOptions['onCheckpoint'],
    held: (reason: string) => NotaryHsmError,
  ): Promise<void> {
    let saved: Checkpoint | undefined;
    try {
      saved = await cp.read();
    } catch {
      return; // still unreadable: try again later
    }
    const stop = (): void => {
      clearInterval(this.verifying);
      this.verifying = undefined;
    };
    if (this.closing) return stop();
    let verdict: CheckpointVerdict;
    try {
      const found = await scan(this.writer.path, saved?.seq);
      verdict = checkpointVerdict(saved, extent(this.writer.path, found), cp.where);
    } catch (err) {
      stop();
      // final: the daemon must not sign on a log behind its checkpoint
      this.writer.hold(held((err as Error).message));
      told?.('behind', { seq: 0, hash: '' }, err as Error);
      return;
    }
    if (truncatedBytes > 0 || verdict !== 'ok') {
      // once only: the records' batch writes the checkpoint, or the writer retries it
      stop();
      this.writer.resume();
      await this.started(truncatedBytes, cp, verdict).catch(() => undefined);
    } else {
      // written while still held: no batch can write a newer checkpoint meanwhile
      try {
        await this.writer.writeCheckpoint();
      } catch {
        return; // the whole check again later
      }
      stop();
      this.writer.resume();
    }
    told?.(verdict, this.writer.head());
  }

  async recover(truncatedBytes: number): Promise<void> {
    const record: AuditInput = {
      client: 'notary-hsmd',
      endpoint: 'store/open',
      outcome: 'recovered',
      reason: `truncated ${truncatedBytes} bytes of an incomplete record`,
    };
    await this.writer.commit(normalizeInput(record));
    this.recovered = { truncatedBytes };
  }

  problem(): string | undefined {
    return this.writer.check()?.message;
  }

  close(): Promise<void> {
    clearInterval(this.verifying);
    this.verifying = undefined;
    this.closing ??= this.writer.close().finally(() => this.lock.release());
    return this.closing;
  }
}
