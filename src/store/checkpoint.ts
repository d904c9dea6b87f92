/**
 * The audit log's checkpoint: the sequence number and hash of its last durable record,
 * kept where an old copy of the state directory cannot bring it back.
 *
 * Why: the hash chain proves that no record was changed, not that none was cut off the
 * end. A log whose last records are gone — cut, or the whole state directory restored
 * from an older copy — still verifies, and the signing state rebuilt from it forgets the
 * versions those records claimed: the daemon would sign a second, different document at a
 * version it already signed. A checkpoint beside the log does not help (an older copy of
 * it replays with the log, signed or not). The daemon keeps it in a PKCS#11 token instead,
 * as a private data object (src/pkcs11/token-checkpoint.ts): restoring files does not
 * restore the token's object, and reading it needs the token's PIN.
 *
 * Cost: one write to the token per batch of records (the writer's group commit), not per
 * record; no answer for a record goes out before the checkpoint covering it is written.
 * At start the log must reach the checkpoint and hold, at its sequence number, the record
 * with its hash; a log ahead of it is normal (a crash between a batch and its checkpoint:
 * none of that batch's answers went out).
 *
 * The log also says that it has a checkpoint: a `checkpointed` record, written when the
 * checkpoint is made (and when an operator re-anchors it). A token that then holds none —
 * its object lost (SoftHSM2's file store rewrites an object in place without fsync, so a
 * power cut can leave it unreadable, and the object is then simply not found), the token
 * replaced, or the configuration pointing elsewhere — is refused (CHECKPOINT_MISSING)
 * rather than taken for a first start, which would let a log cut back at the same time
 * through.
 */
import { NotaryHsmError } from '../errors';

/** A point of the hash chain: a record's seq and hash (seq 0: the empty log). */
export interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
}

/** Where the checkpoint is kept: read at start, written after every batch. */
export interface CheckpointStore {
  /** Names the place for messages, e.g. `token ci (data object "…")`; never a secret. */
  readonly where: string;
  /** The checkpoint, or undefined when none was ever written. throws: CHECKPOINT_UNAVAILABLE */
  read(): Promise<Checkpoint | undefined>;
  /** Replaces the checkpoint; resolves once the token holds it. */
  write(checkpoint: Checkpoint): Promise<void>;
}

/** The checkpoint's format tag, in the token's object and in exported files. */
export const CHECKPOINT_FORMAT = 'notary-hsmd-audit-checkpoint/1';

const HASH = /^[0-9a-f]{64}$/;

/** The text kept on the token (and the body of an exported file, less its extra members). */
export function encodeCheckpoint(c: Checkpoint): string {
  return JSON.stringify({ format: CHECKPOINT_FORMAT, seq: c.seq, hash: c.hash });
}

/** Reads a checkpoint from its bytes. throws: CHECKPOINT_UNAVAILABLE naming `where` */
export function decodeCheckpoint(text: string, where: string): Checkpoint {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  const o = v as { format?: unknown; seq?: unknown; hash?: unknown } | null | undefined;
  if (
    typeof o !== 'object' ||
    o === null ||
    o.format !== CHECKPOINT_FORMAT ||
    typeof o.seq !== 'number' ||
    !Number.isSafeInteger(o.seq) ||
    o.seq < 0 ||
    typeof o.hash !== 'string' ||
    !HASH.test(o.hash)
  ) {
    throw new NotaryHsmError(
      'CHECKPOINT_UNAVAILABLE',
      `the audit checkpoint in ${where} is not one this daemon wrote`,
      { details: { where } },
    );
  }
  return { seq: o.seq, hash: o.hash };
}

/** What the log holds, as far as the start-up check needs it. */
export interface LogExtent {
  /** The log file (for messages). */
  readonly path: string;
  /** Its last record. */
  readonly head: Checkpoint;
  /** The hash of its record at the checkpoint's seq (undefined when it has none). */
  readonly hashAtCheckpoint: string | undefined;
  /** Its last `checkpointed` record (seq and reason), if it has one. */
  readonly anchor?: { readonly seq: number; readonly reason: string };
}

/** What start-up does about the checkpoint. */
export type CheckpointVerdict =
  /** The log reaches the checkpoint and holds its record. */
  | 'ok'
  /** No checkpoint and an empty log: a new daemon. */
  | 'new'
  /** No checkpoint but records: the first start with checkpoints on (written from now on). */
  | 'adopt';

const short = (hash: string): string => hash.slice(0, 16);

/**
 * Checks the log against the checkpoint at start.
 * throws: AUDIT_BEHIND_CHECKPOINT naming the checkpoint and the log's last record when
 * the log ends before the checkpoint, or holds a different record at its seq
 */
export function checkpointVerdict(
  checkpoint: Checkpoint | undefined,
  log: LogExtent,
  where: string,
): CheckpointVerdict {
  if (checkpoint === undefined) {
    if (log.anchor !== undefined) {
      throw new NotaryHsmError(
        'CHECKPOINT_MISSING',
        `the audit log ${log.path} says at seq ${log.anchor.seq} "${log.anchor.reason}", ` +
          `but ${where} holds no checkpoint: the checkpoint was lost, the token replaced, or ` +
          'audit_checkpoint changed. The daemon does not start: a log cut back meanwhile ' +
          'would go unnoticed. If the checkpoint moved on purpose and the log is the newest ' +
          'copy, re-anchor it with "notary-hsmd checkpoint reset --yes"',
        {
          details: { where, path: log.path, anchor: log.anchor, log: { seq: log.head.seq } },
        },
      );
    }
    return log.head.seq === 0 ? 'new' : 'adopt';
  }
  const details = {
    where,
    path: log.path,
    checkpoint: { seq: checkpoint.seq, hash: checkpoint.hash },
    log: { seq: log.head.seq, hash: log.head.hash },
  };
  const named = `the audit checkpoint in ${where} (seq ${checkpoint.seq}, hash ${short(checkpoint.hash)}…)`;
  const advice =
    'Restore the newest copy of the state directory; if its records are truly lost, keep ' +
    'what is left for investigation and re-anchor the checkpoint deliberately ' +
    '("notary-hsmd checkpoint reset --yes"): versions signed in the lost records could ' +
    'then be signed again';
  if (log.head.seq < checkpoint.seq) {
    const last =
      log.head.seq === 0
        ? `the audit log ${log.path} is empty`
        : `the audit log ${log.path} ends at seq ${log.head.seq} (hash ${short(log.head.hash)}…)`;
    throw new NotaryHsmError(
      'AUDIT_BEHIND_CHECKPOINT',
      `${last}, behind ${named}: records were cut off or an older copy restored. ` +
        `The daemon does not start, or it could sign a version twice. ${advice}`,
      { details },
    );
  }
  if (log.hashAtCheckpoint !== checkpoint.hash) {
    throw new NotaryHsmError(
      'AUDIT_BEHIND_CHECKPOINT',
      `the audit log ${log.path} holds a different record at seq ${checkpoint.seq} ` +
        `(hash ${short(log.hashAtCheckpoint ?? '')}…) than ${named}: it is not the log the ` +
        `checkpoint was written for. The daemon does not start. ${advice}`,
      { details },
    );
  }
  return 'ok';
}

/** The `checkpointed` record that says where the checkpoint is kept from here on. */
export function anchorRecord(
  where: string,
  why: string,
): {
  client: string;
  endpoint: string;
  outcome: 'checkpointed';
  reason: string;
} {
  return {
    client: 'notary-hsmd',
    endpoint: 'store/checkpoint',
    outcome: 'checkpointed',
    reason: `checkpoint kept in ${where} (${why})`,
  };
}
