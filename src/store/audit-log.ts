/**
 * The audit log as the daemon uses it: append a decision, get it back once it is durable.
 * Every refusal and failure goes through `append`; a signature of a versioned role goes
 * through SigningState.reserve instead, which checks the version before it is recorded.
 */
import { NotaryHsmError } from '../errors';
import type { AuditEntry, AuditInput } from '../signing/types';
import { normalizeInput, rejection } from './record';
import type { AuditHead, AuditLogStats, AuditWriter } from './writer';

/** An open, hash-chained, append-only audit log (made by openStore). */
export class AuditLog {
  constructor(private readonly writer: AuditWriter) {}

  /** The log file. */
  get path(): string {
    return this.writer.path;
  }

  /** False once a write failed or the store was closed: appends are refused. */
  get available(): boolean {
    return this.writer.unavailable() === undefined;
  }

  /**
   * Records a decision and resolves with the stored entry once its bytes are durable. The
   * entry's seq and place in the chain are fixed when append is called; strings the log
   * cannot hold are made loggable (control characters become U+FFFD, overlong text is cut).
   * rejects: AUDIT_UNAVAILABLE (nothing was recorded for sure; sign nothing),
   * AUDIT_RECORD_INVALID (wrong member types; a `signed` record with a version, which
   * belongs to SigningState.reserve)
   */
  append(input: AuditInput): Promise<AuditEntry> {
    let record: AuditInput;
    try {
      record = normalizeInput(input);
    } catch (err) {
      return rejection(err);
    }
    if (record.outcome === 'signed' && record.version !== undefined) {
      return Promise.reject(
        new NotaryHsmError(
          'AUDIT_RECORD_INVALID',
          'a signature of a versioned role is recorded by SigningState.reserve, not append',
        ),
      );
    }
    return this.writer.commit(record);
  }

  /** The end of the chain, including records not yet durable. */
  head(): AuditHead {
    return this.writer.head();
  }

  /** Group-commit counters since the store was opened. */
  stats(): AuditLogStats {
    return this.writer.stats();
  }
}
