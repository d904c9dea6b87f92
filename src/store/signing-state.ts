/**
 * The last version signed per GUN and role, derived from the audit log: the highest
 * `version` of the `signed` records for that GUN and role. The log is the only copy, so
 * the state survives whatever the log survives.
 *
 * Invariant: a version is handed out at most once per GUN and role, ever. `reserve`
 * checks and claims the version synchronously (so of two concurrent requests for the same
 * version exactly one wins), then writes the `signed` record and resolves only when it is
 * durable; the caller signs only after that. A crash at any point therefore leaves either
 * no record (and no signature) or a record that keeps the version taken after restart.
 * A claimed version is never given back, not even when its record could not be written:
 * skipping a version is harmless, signing one twice is not.
 */
import { NotaryHsmError } from '../errors';
import type { AuditEntry, AuditInput } from '../signing/types';
import { normalizeInput, rejection } from './record';
import type { AuditWriter } from './writer';

/** What reserve records: a signature of `version` of `role` for `gun`. */
export type ReserveInput = AuditInput & {
  readonly gun: string;
  readonly role: string;
  readonly version: number;
  readonly outcome: 'signed';
};

/** The key of a GUN and role in the state (neither can hold U+0000). */
export function stateKey(gun: string, role: string): string {
  return `${gun}\u0000${role}`;
}

/** Drops every role of `gun` from a state map (a `reset` record). */
export function forgetGun(map: Map<string, unknown>, gun: string): void {
  const prefix = stateKey(gun, '');
  for (const key of [...map.keys()]) if (key.startsWith(prefix)) map.delete(key);
}

/** What reset records: the admin's acknowledgement that `gun` starts over. */
export type ResetInput = AuditInput & { readonly gun: string; readonly outcome: 'reset' };

function invalid(message: string): NotaryHsmError {
  return new NotaryHsmError('AUDIT_RECORD_INVALID', message);
}

/** Checks what only a reservation requires, on top of normalizeInput. */
function reservation(input: ReserveInput): AuditInput {
  const record = normalizeInput(input);
  if (record.outcome !== 'signed') throw invalid('reserve records outcome "signed" only');
  for (const name of ['gun', 'role'] as const) {
    const v = input[name];
    if (typeof v !== 'string' || v === '' || record[name] !== v) {
      throw invalid(`reserve: ${name} must be a non-empty string the log can hold unchanged`);
    }
  }
  if (!Number.isSafeInteger(input.version) || input.version < 1) {
    throw invalid(`reserve: version ${String(input.version)} is not a positive integer`);
  }
  return record;
}

/**
 * How far above the last version a reservation may jump. Without a bound, one request for
 * version 2^53−1 would block its role forever (no higher safe integer is left).
 */
export interface VersionBounds {
  /** The largest step above the last version claimed for the GUN and role. */
  readonly maxStep: number;
  /** The highest version of a role this store has never seen. */
  readonly firstMax: number;
  /**
   * How long a client may take to publish what it had signed (reported with a rollback
   * refusal, so that other clients know when a version handed out is abandoned).
   */
  readonly leaseMs?: number;
}

/** Highest signed version per GUN and role, and the gate every versioned signature passes. */
export class SigningState {
  /** Versions whose `signed` record is durable. */
  private readonly signed: Map<string, number>;
  /** Versions claimed, durable or not: the bar a new reservation must clear. */
  private readonly claimed: Map<string, number>;
  /**
   * When each claim was made (monotonic ms). Versions read from the log count as claimed
   * when the store opened: a client that got one just before a restart may still be
   * publishing it.
   */
  private readonly claimedAt: Map<string, number>;

  constructor(
    private readonly writer: AuditWriter,
    versions: ReadonlyMap<string, number>,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.signed = new Map(versions);
    this.claimed = new Map(versions);
    const opened = clock();
    this.claimedAt = new Map([...versions.keys()].map((k) => [k, opened]));
  }

  /** How many roles of `gun` have a claimed version. */
  rolesOf(gun: string): number {
    const prefix = stateKey(gun, '');
    let n = 0;
    for (const key of this.claimed.keys()) if (key.startsWith(prefix)) n++;
    return n;
  }

  /** The highest version of `role` for `gun` whose `signed` record is durable. */
  lastVersion(gun: string, role: string): number | undefined {
    return this.signed.get(stateKey(gun, role));
  }

  /**
   * Claims `input.version` for its GUN and role and records the signature-to-be; resolves
   * with the durable record, after which (and only after which) the caller may sign. The
   * check and the claim happen before reserve returns; failures arrive as rejections.
   * With `bounds`, the version may also be at most `maxStep` above the last one (or
   * `firstMax` for a role never signed).
   * rejects: VERSION_ROLLBACK (not above the last version signed or being signed; details
   * name it), VERSION_JUMP (beyond `bounds`; details name the highest allowed), AUDIT_UNAVAILABLE (the record may not be durable: do not sign; the version
   * stays claimed), AUDIT_RECORD_INVALID
   */
  reserve(input: ReserveInput, bounds?: VersionBounds): Promise<AuditEntry> {
    const refused = this.writer.unavailable();
    if (refused) return Promise.reject(refused);
    let record: AuditInput;
    try {
      record = reservation(input);
    } catch (err) {
      return rejection(err);
    }
    const { gun, role, version } = input;
    const key = stateKey(gun, role);
    const last = this.claimed.get(key);
    if (last !== undefined && version <= last) {
      const lease = bounds?.leaseMs === undefined ? {} : { leaseMs: bounds.leaseMs };
      const durable = this.signed.get(key) === last;
      // How long ago the last version was handed out tells a client whether its signer may
      // still be publishing it (see client/update-loop.ts).
      const lastSignedAgeMs = Math.max(
        0,
        Math.round(this.clock() - (this.claimedAt.get(key) ?? 0)),
      );
      return Promise.reject(
        new NotaryHsmError(
          'VERSION_ROLLBACK',
          `version ${version} of ${role} for ${gun} is not above version ${last}, ` +
            `the last one ${durable ? 'signed' : 'being signed'}; sign version ${last + 1} or later`,
          { details: { gun, role, version, lastVersion: last, lastSignedAgeMs, ...lease } },
        ),
      );
    }
    if (bounds !== undefined) {
      const highest = last === undefined ? bounds.firstMax : last + bounds.maxStep;
      if (version > highest) {
        const since =
          last === undefined
            ? `the highest first version the policy allows`
            : `${bounds.maxStep} above version ${last}, the last one signed`;
        return Promise.reject(
          new NotaryHsmError(
            'VERSION_JUMP',
            `version ${version} of ${role} for ${gun} is beyond version ${highest}, ${since}`,
            { details: { gun, role, version, lastVersion: last ?? null, maxVersion: highest } },
          ),
        );
      }
    }
    this.claimed.set(key, version);
    this.claimedAt.set(key, this.clock());
    return this.writer.commit(record).then((entry) => {
      if ((this.signed.get(key) ?? 0) < version) this.signed.set(key, version);
      return entry;
    });
  }

  /**
   * Forgets every version of `input.gun` and records that the repository starts over: an
   * admin's acknowledgement that the repository was deleted on the server. The state
   * changes when reset is called, so a reservation made after it belongs to the new
   * repository, in the log's order as in memory. Versions signed before it are still in
   * the log; nothing about them is erased.
   * rejects: AUDIT_UNAVAILABLE, AUDIT_RECORD_INVALID
   */
  reset(input: ResetInput): Promise<AuditEntry> {
    const refused = this.writer.unavailable();
    if (refused) return Promise.reject(refused);
    let record: AuditInput;
    try {
      record = normalizeInput(input);
      if (record.outcome !== 'reset' || typeof input.gun !== 'string' || record.gun !== input.gun) {
        throw invalid('reset records outcome "reset" for a GUN the log can hold unchanged');
      }
    } catch (err) {
      return rejection(err);
    }
    forgetGun(this.claimed, input.gun);
    forgetGun(this.claimedAt, input.gun);
    forgetGun(this.signed, input.gun);
    return this.writer.commit(record);
  }
}
