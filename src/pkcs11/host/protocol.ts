/**
 * Messages between a token owner in the main process and the module host that runs
 * every PKCS#11 call of one module off the main event loop (a child process, or a
 * worker thread for comparison). Requests and replies travel in batches: one message
 * carries every request queued in the same turn of the event loop.
 */
import { performance } from 'node:perf_hooks';

/** How a token is found: by label or serial (never by slot number: slots renumber). */
export interface TokenSelector {
  readonly label?: string;
  readonly serial?: string;
}

/** How a key is found on a token: by label, by CKA_ID (hex), or both. */
export interface KeyRef {
  readonly label?: string;
  readonly id?: string;
}

/**
 * A private data object (CKO_DATA, CKA_TOKEN, CKA_PRIVATE) found by its CKA_APPLICATION,
 * holding a short text in its CKA_LABEL: the daemon's audit checkpoint lives in one. The
 * label, not CKA_VALUE, because tokens may refuse to change a data object's value once
 * it is made (SoftHSM2: CKR_ATTRIBUTE_READ_ONLY), while a storage object's label is
 * modifiable: one C_SetAttributeValue per update (~0.3 ms on SoftHSM2's file store)
 * instead of a create and a destroy (~3 ms).
 */
export interface DataRef {
  readonly application: string;
}

export type PinState = 'ok' | 'count_low' | 'final_try' | 'locked';

export interface TokenReport {
  readonly present: boolean;
  readonly label?: string;
  readonly serial?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly pinState?: PinState;
  readonly loggedIn: boolean;
}

export interface SlotReport {
  readonly label: string;
  readonly serial: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly pinState: PinState;
}

export interface KeyReport {
  readonly label: string;
  /** CKA_ID, hex. */
  readonly id: string;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** CKA_ALWAYS_AUTHENTICATE: a PIN is needed for every signature (YubiKey slot 9c). */
  readonly alwaysAuthenticate: boolean;
  readonly sensitive: boolean;
  readonly extractable: boolean;
}

export type HostRequest =
  | { op: 'init'; module: string }
  | { op: 'slots' }
  | { op: 'attach'; token: string; selector: TokenSelector; sessions: number; syncSign?: boolean }
  | { op: 'status'; token: string }
  | { op: 'login'; token: string; pin: string }
  | { op: 'findKey'; token: string; key: KeyRef }
  | { op: 'listKeys'; token: string }
  | { op: 'generateKey'; token: string; label: string; id: string }
  | { op: 'sign'; token: string; key: KeyRef; digest: Uint8Array; pin?: string }
  | { op: 'readData'; token: string; object: DataRef }
  | { op: 'writeData'; token: string; object: DataRef; value: string }
  | { op: 'shutdown' };

export interface HostMessage {
  readonly id: number;
  readonly req: HostRequest;
  /**
   * When the caller stops waiting, in monotonicMs(). A request that needs one of the
   * token's sessions and is still queued in the host at its deadline is answered
   * TOKEN_TIMEOUT without reaching the module.
   */
  readonly deadline?: number;
}

/** monotonicMs() − performance.now(), fixed for the life of this process or thread. */
const MONOTONIC_OFFSET = ((): number => {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6 - performance.now();
})();

/**
 * Milliseconds on the system's monotonic clock (CLOCK_MONOTONIC on Linux, as libuv reads
 * it): the same clock in every process and thread of the machine, so a deadline keeps its
 * meaning on the other side of the IPC channel; it never steps with the wall clock.
 */
export function monotonicMs(): number {
  return MONOTONIC_OFFSET + performance.now();
}

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export type HostReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };
