/**
 * Messages between a token owner in the main process and the module host that runs
 * every PKCS#11 call of one module off the main event loop (a child process, or a
 * worker thread for comparison). Requests and replies travel in batches: one message
 * carries every request queued in the same turn of the event loop.
 */

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
  | { op: 'attach'; token: string; selector: TokenSelector; sessions: number }
  | { op: 'status'; token: string }
  | { op: 'login'; token: string; pin: string }
  | { op: 'findKey'; token: string; key: KeyRef }
  | { op: 'listKeys'; token: string }
  | { op: 'generateKey'; token: string; label: string; id: string }
  | { op: 'sign'; token: string; key: KeyRef; digest: Uint8Array; pin?: string }
  | { op: 'shutdown' };

export interface HostMessage {
  readonly id: number;
  readonly req: HostRequest;
}

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export type HostReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };
