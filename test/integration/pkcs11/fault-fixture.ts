/**
 * Shared set-up for the fault tests in this directory (not a test file itself): SoftHSM2
 * tokens that already hold a P-256 key, module hosts that load the fault-injecting shim
 * (test/fault-shim) in front of SoftHSM2, token owners, and small helpers to time and
 * classify how each request settles.
 *
 * Keys are generated through plain SoftHSM2 in a host of their own, so that a scenario's
 * shim process starts with all its counters at zero (login_calls counts only the
 * scenario's own logins).
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isNotaryHsmError, type NotaryHsmError } from '../../../src/errors';
import { ModuleHost, TokenOwner, pinSource, type KeyRef } from '../../../src/pkcs11';
import { buildFaultShim, FaultControl } from '../../helpers/fault-shim';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../helpers/softhsm';
import { makeTempDir } from '../../helpers/tmp';

// throwaway PINs for tokens that live in private temp dirs
export const PIN = '482913';
export const SO_PIN = '73920461';
export const WRONG_PIN = '917364';

/** The key every token made here holds. */
export const KEY: KeyRef = { label: 'fault-key', id: '0a' };

/**
 * Initialises tokens `labels` in one fresh SoftHSM2 directory and generates KEY on each
 * (through SoftHSM2 directly, not the shim). Returns the directory's config.
 */
export async function makeTokens(labels: readonly string[]): Promise<SoftHsmToken> {
  const dir = await makeTempDir('faults-');
  let first: SoftHsmToken | undefined;
  for (const label of labels) {
    const t = await createSoftHsmToken({ label, pin: PIN, soPin: SO_PIN, dir });
    first ??= t;
  }
  if (!first) throw new Error('makeTokens needs at least one label');
  const host = new ModuleHost({ module: SOFTHSM_MODULE, env: { ...process.env, ...first.env } });
  try {
    for (const label of labels) {
      const owner = new TokenOwner({ name: label, host, selector: { label }, pin: envPin(PIN) });
      await owner.generateKey(KEY.label as string, KEY.id as string);
    }
  } finally {
    await host.close();
  }
  return first;
}

/** A PIN source over a private environment (never process.env). */
export function envPin(pin: string): ReturnType<typeof pinSource> {
  return pinSource('env:FAULT_TEST_PIN', { FAULT_TEST_PIN: pin });
}

export interface ShimHost {
  readonly host: ModuleHost;
  readonly control: FaultControl;
}

/**
 * A module host (child process) that loads the fault shim in front of SoftHSM2 for the
 * tokens of `token`'s directory, steered by a fresh control file preset with `setup`.
 */
export async function shimHost(
  token: SoftHsmToken,
  setup: Record<string, string | number> = {},
): Promise<ShimHost> {
  const [shim, dir] = await Promise.all([buildFaultShim(), makeTempDir('faults-control-')]);
  const control = new FaultControl(dir);
  control.set(setup);
  const host = new ModuleHost({
    module: shim,
    env: { ...process.env, ...token.env, ...control.env },
  });
  return { host, control };
}

/** A token owner for `label` on `host`, with PIN `pin` from a private environment. */
export function ownerOf(
  host: ModuleHost,
  label: string,
  opts: { pin?: string; sessions?: number; queueLimit?: number; timeoutMs?: number } = {},
): TokenOwner {
  return new TokenOwner({
    name: label,
    host,
    selector: { label },
    pin: envPin(opts.pin ?? PIN),
    ...(opts.sessions === undefined ? {} : { sessions: opts.sessions }),
    ...(opts.queueLimit === undefined ? {} : { queueLimit: opts.queueLimit }),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  });
}

/** The message `text` and its SHA-256 digest (what TokenOwner.sign takes). */
export function message(text: string): { data: Buffer; digest: Buffer } {
  const data = Buffer.from(text, 'utf8');
  return { data, digest: createHash('sha256').update(data).digest() };
}

/** Whether `sig` (raw r‖s) is a signature of `data` by the key with SubjectPublicKeyInfo `spki`. */
export function verifies(spki: Uint8Array, data: Buffer, sig: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
}

/** How a request settled, and when (performance.now() ms). */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly at: number }
  | { readonly ok: false; readonly error: NotaryHsmError; readonly at: number };

/** Never rejects: records the value or the NotaryHsmError (anything else is rethrown). */
export function outcome<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value, at: performance.now() }),
    (error: unknown) => {
      if (!isNotaryHsmError(error)) throw error;
      return { ok: false as const, error, at: performance.now() };
    },
  );
}

/** The error code of an outcome, or 'ok'. */
export const codeOf = (o: Outcome<unknown>): string => (o.ok ? 'ok' : o.error.code);

/** Polls `check` every 10 ms until it holds; fails after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every text of an error a user or a log could see: message, details, stack, causes. */
export function visibleText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(String(e), e.message, e.stack ?? '');
      if (isNotaryHsmError(e)) parts.push(JSON.stringify(e.details));
      e = e.cause;
    } else {
      parts.push(typeof e === 'string' ? e : (JSON.stringify(e) ?? typeof e));
      e = undefined;
    }
  }
  return parts.join('\n');
}
