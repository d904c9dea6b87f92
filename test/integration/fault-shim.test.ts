/**
 * Proves the fault-injecting PKCS#11 module (test/fault-shim) through real pkcs11js calls:
 * each scenario runs a fresh child process (test/fault-shim/driver.ts) that loads the shim,
 * which forwards to SoftHSM2, while the test steers the shim through its control file and
 * reads its stats file. Covered: pass-through signing (verified with node:crypto), a slow
 * and a never-coming touch, a token pulled out and plugged back in (by `present` and by the
 * `remove_after_signs` countdown), the PIN retry counter and its token-info flags, and the
 * "no PC/SC" / "no reader" slot-list failures.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { createInterface } from 'node:readline';
import * as pkcs11js from 'pkcs11js';
import {
  buildFaultShim,
  buildFaultShimDriver,
  faultShimDriverEnv,
  FaultControl,
} from '../helpers/fault-shim';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm';
import { makeTempDir } from '../helpers/tmp';

// throwaway test PINs for a token that lives in a private temp dir
const PIN = '123456';
const SO_PIN = '12345678';
const WRONG_PIN = '654321';
const TOKEN_LABEL = 'fault-shim';
const KEY_LABEL = 'fault-shim-key';
const CKF_TOKEN_PRESENT = 0x1; // not among pkcs11js's typed constants
const PIN_FLAGS =
  pkcs11js.CKF_USER_PIN_COUNT_LOW | pkcs11js.CKF_USER_PIN_FINAL_TRY | pkcs11js.CKF_USER_PIN_LOCKED;

/** A PKCS#11 failure reported by the driver: `code` is the CKR_* value. */
class Pkcs11Failure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  code?: number;
  error?: string;
}

interface Signed {
  signature: string;
  ms: number;
  ticks: number;
}

/** One child process with one pkcs11js instance that has loaded the shim. */
class Driver {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private stderr = '';
  private died: string | undefined;
  private readonly exited: Promise<void>;

  private constructor(shim: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [driverScript, shim], { env, stdio: 'pipe' });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    // a driver that died is reported through 'exit' (with its stderr), not as an EPIPE
    this.child.on('error', (err) => (this.stderr += `\n${err.message}`));
    this.child.stdin.on('error', () => undefined);
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (!waiter) return;
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(new Pkcs11Failure(reply.code ?? -1, reply.error ?? 'unknown error'));
    });
    this.exited = new Promise((done) => {
      this.child.on('exit', (code, signal) => {
        const why = `fault-shim driver exited (${signal ?? code}): ${this.stderr.trim()}`;
        this.died = why;
        for (const waiter of this.pending.values()) waiter.reject(new Error(why));
        this.pending.clear();
        done();
      });
    });
  }

  /** Starts a driver and loads the shim (C_GetFunctionList), without C_Initialize. */
  static async load(shim: string, env: NodeJS.ProcessEnv): Promise<Driver> {
    const driver = new Driver(shim, env);
    running.add(driver);
    await driver.call('load');
    return driver;
  }

  /** Starts a driver and initializes the module. */
  static async start(shim: string, env: NodeJS.ProcessEnv): Promise<Driver> {
    const driver = await Driver.load(shim, env);
    await driver.call('init');
    return driver;
  }

  call<T = null>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.died !== undefined) return reject(new Error(this.died));
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      this.child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  slots(present: boolean): Promise<string[]> {
    return this.call('slots', { present });
  }

  /** The slot of our token (SoftHSM2 also lists a free slot with an empty token). */
  async tokenSlot(): Promise<string> {
    for (const slot of await this.slots(true)) {
      const info = await this.call<{ label: string }>('tokenInfo', { slot });
      if (info.label === TOKEN_LABEL) return slot;
    }
    throw new Error(`no slot with token ${TOKEN_LABEL}`);
  }

  /** A fresh session on our token, logged in unless `login` is false. */
  async session(login = true): Promise<{ slot: string; session: string }> {
    const slot = await this.tokenSlot();
    const session = await this.call<string>('open', { slot });
    if (login) await this.call('login', { session, pin: PIN });
    return { slot, session };
  }

  findKey(session: string): Promise<{ key: string; point: string }> {
    return this.call('findKey', { session, label: KEY_LABEL });
  }

  sign(session: string, key: string, digest: Buffer, async = false): Promise<Signed> {
    return this.call('sign', { session, key, digest: digest.toString('hex'), async });
  }

  async stop(): Promise<void> {
    running.delete(this);
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}

const running = new Set<Driver>();

/** A fresh message, the SHA-256 digest the token signs, and a check of the r‖s signature. */
function message(): { data: Buffer; digest: Buffer } {
  const data = randomBytes(48);
  return { data, digest: createHash('sha256').update(data).digest() };
}

function verifies(pointDer: string, data: Buffer, signatureHex: string): boolean {
  // CKA_EC_POINT is a DER OCTET STRING (04 41) around the uncompressed point 04‖X‖Y
  const der = Buffer.from(pointDer, 'hex');
  const point = der[0] === 0x04 && der[1] === 0x41 ? der.subarray(2) : der;
  expect(point).toHaveLength(65);
  const key = createPublicKey({
    format: 'jwk',
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
  });
  const signature = Buffer.from(signatureHex, 'hex');
  expect(signature).toHaveLength(64);
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves to the CKR code a promise rejects with (fails the test if it resolves). */
async function ckr(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Pkcs11Failure) return err.code;
    throw err;
  }
  throw new Error('expected a PKCS#11 error, the call succeeded');
}

let shim: string;
let driverScript: string;
let token: SoftHsmToken;
let control: FaultControl;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  [shim, driverScript, token] = await Promise.all([
    buildFaultShim(),
    buildFaultShimDriver(),
    createSoftHsmToken({ label: TOKEN_LABEL, pin: PIN, soPin: SO_PIN }),
  ]);
  // the key pair is made through the shim, too (C_GenerateKeyPair passes through)
  const setup = new FaultControl(await makeTempDir('fault-setup-'));
  const d = await Driver.start(shim, { ...token.env, ...faultShimDriverEnv, ...setup.env });
  try {
    const { session } = await d.session();
    await d.call('generateKey', { session, label: KEY_LABEL });
    await d.call('close', { session });
    await d.call('finalize');
  } finally {
    await d.stop();
  }
});

beforeEach(async () => {
  control = new FaultControl(await makeTempDir('fault-control-'));
  env = { ...token.env, ...faultShimDriverEnv, ...control.env };
});

afterEach(async () => {
  await Promise.all([...running].map((d) => d.stop()));
});

describe('fault shim: pass-through', () => {
  it('signs through to SoftHSM2 (sync and C_SignAsync); the r‖s signatures verify', async () => {
    const d = await Driver.start(shim, env);
    const { session } = await d.session();
    const { key, point } = await d.findKey(session);
    const one = message();
    const two = message();
    const sync = await d.sign(session, key, one.digest);
    const async = await d.sign(session, key, two.digest, true);
    expect(verifies(point, one.data, sync.signature)).toBe(true);
    expect(verifies(point, two.data, async.signature)).toBe(true);
    expect(verifies(point, two.data, sync.signature)).toBe(false);
    expect(control.stats()).toMatchObject({
      login_calls: 1,
      login_ok: 1,
      login_incorrect: 0,
      sign_init_calls: 2,
      sign_calls: 2,
      sign_ok: 2,
      open_sessions: 1,
      present: 1,
      pin_tries_left: -1,
    });
    await d.call('close', { session });
    expect(control.stats().open_sessions).toBe(0);
  });
});

describe('fault shim: touch', () => {
  it('sign_delay_ms=300 delays C_SignAsync by ≥ 300 ms while the event loop keeps ticking', async () => {
    const d = await Driver.start(shim, env);
    const { session } = await d.session();
    const { key, point } = await d.findKey(session);
    const fast = await d.sign(session, key, message().digest, true);
    expect(fast.ms).toBeLessThan(300);

    control.set({ sign_delay_ms: 300 });
    const m = message();
    const slow = await d.sign(session, key, m.digest, true);
    expect(slow.ms).toBeGreaterThanOrEqual(300);
    expect(slow.ticks).toBeGreaterThanOrEqual(10); // a 10 ms timer kept firing meanwhile
    expect(verifies(point, m.data, slow.signature)).toBe(true);
  });

  it('sign_delay_ms=-1 blocks the sign until the control changes (the touch comes)', async () => {
    const d = await Driver.start(shim, env);
    const { session } = await d.session();
    const { key, point } = await d.findKey(session);
    control.set({ sign_delay_ms: -1 });
    const m = message();
    let settled = false;
    const pending = d.sign(session, key, m.digest, true).finally(() => (settled = true));
    await waitFor('the sign to wait for touch', () => control.stats().sign_waiting === 1);
    // the driver's event loop is free: other calls are answered while the sign waits
    await expect(d.slots(true)).resolves.not.toHaveLength(0);
    await sleep(200);
    expect(settled).toBe(false);

    control.set({ sign_delay_ms: 0 });
    const signed = await pending;
    expect(signed.ms).toBeGreaterThanOrEqual(200);
    expect(verifies(point, m.data, signed.signature)).toBe(true);
    expect(control.stats()).toMatchObject({ sign_waiting: 0, sign_calls: 1, sign_ok: 1 });
  });

  it('a touch that never comes ends with CKR_DEVICE_REMOVED when the token is pulled', async () => {
    const d = await Driver.start(shim, env);
    const { session } = await d.session();
    const { key } = await d.findKey(session);
    control.set({ sign_delay_ms: -1 });
    const pending = ckr(d.sign(session, key, message().digest, true));
    await waitFor('the sign to wait for touch', () => control.stats().sign_waiting === 1);
    control.set({ present: 0 });
    expect(await pending).toBe(pkcs11js.CKR_DEVICE_REMOVED);
    expect(control.stats()).toMatchObject({ sign_waiting: 0, sign_ok: 0, removals: 1 });
  });
});

describe('fault shim: token removal', () => {
  it('present=0 pulls the token out; present=1 brings it back without the old sessions', async () => {
    const d = await Driver.start(shim, env);
    const { slot, session } = await d.session();
    const { key } = await d.findKey(session);
    await d.sign(session, key, message().digest);
    const allSlots = await d.slots(false);
    expect(allSlots).toContain(slot);

    control.set({ present: 0 });
    await expect(d.slots(true)).resolves.toEqual([]);
    await expect(d.slots(false)).resolves.toEqual(allSlots);
    const info = await d.call<{ flags: number }>('slotInfo', { slot });
    expect(info.flags & CKF_TOKEN_PRESENT).toBe(0);
    expect(await ckr(d.call('tokenInfo', { slot }))).toBe(pkcs11js.CKR_TOKEN_NOT_PRESENT);
    expect(await ckr(d.call('open', { slot }))).toBe(pkcs11js.CKR_TOKEN_NOT_PRESENT);
    expect(await ckr(d.sign(session, key, message().digest))).toBe(pkcs11js.CKR_DEVICE_REMOVED);
    expect(await ckr(d.call('login', { session, pin: PIN }))).toBe(pkcs11js.CKR_DEVICE_REMOVED);
    expect(await ckr(d.findKey(session))).toBe(pkcs11js.CKR_DEVICE_REMOVED);
    expect(control.stats()).toMatchObject({ present: 0, removals: 1, open_sessions: 0 });

    control.set({ present: 1 });
    await expect(d.slots(true)).resolves.toEqual(allSlots);
    const back = await d.call<{ flags: number }>('slotInfo', { slot });
    expect(back.flags & CKF_TOKEN_PRESENT).toBe(CKF_TOKEN_PRESENT);
    // the old session is gone for good, as on a real token
    expect(await ckr(d.sign(session, key, message().digest))).toBe(
      pkcs11js.CKR_SESSION_HANDLE_INVALID,
    );
    expect(await ckr(d.call('close', { session }))).toBe(pkcs11js.CKR_SESSION_HANDLE_INVALID);
    // a new session starts logged out (the login did not survive) and signs after login
    const fresh = await d.call<string>('open', { slot });
    await d.call('login', { session: fresh, pin: PIN }); // not CKR_USER_ALREADY_LOGGED_IN
    const again = await d.findKey(fresh);
    const m = message();
    expect(
      verifies(again.point, m.data, (await d.sign(fresh, again.key, m.digest)).signature),
    ).toBe(true);
    expect(control.stats()).toMatchObject({ present: 1, open_sessions: 1, removals: 1 });
  });

  it('remove_after_signs=3 lets exactly 3 signs succeed; a new generation plugs it back in', async () => {
    const d = await Driver.start(shim, env);
    control.set({ remove_after_signs: 3 });
    const { slot, session } = await d.session();
    const { key } = await d.findKey(session);
    for (let i = 0; i < 3; i++) await d.sign(session, key, message().digest);
    expect(await ckr(d.sign(session, key, message().digest))).toBe(pkcs11js.CKR_DEVICE_REMOVED);
    await expect(d.slots(true)).resolves.toEqual([]);
    expect(await ckr(d.call('tokenInfo', { slot }))).toBe(pkcs11js.CKR_TOKEN_NOT_PRESENT);
    expect(control.stats()).toMatchObject({ sign_ok: 3, present: 0, removals: 1 });

    // the latch is in memory: rewriting the file with the same generation changes nothing
    control.set({ present: 1 });
    await expect(d.slots(true)).resolves.toEqual([]);

    // a new generation plugs the token back in and re-arms the countdown (3 more signs)
    control.set({ generation: 1 });
    await expect(d.slots(true)).resolves.toContain(slot);
    expect(await ckr(d.sign(session, key, message().digest))).toBe(
      pkcs11js.CKR_SESSION_HANDLE_INVALID,
    );
    const next = await d.session();
    const nextKey = await d.findKey(next.session);
    for (let i = 0; i < 3; i++) await d.sign(next.session, nextKey.key, message().digest);
    expect(await ckr(d.sign(next.session, nextKey.key, message().digest))).toBe(
      pkcs11js.CKR_DEVICE_REMOVED,
    );

    // without remove_after_signs, a new generation brings it back for good
    control.set({ remove_after_signs: '', generation: 2 });
    const last = await d.session();
    const lastKey = await d.findKey(last.session);
    for (let i = 0; i < 4; i++) await d.sign(last.session, lastKey.key, message().digest);
    expect(control.stats()).toMatchObject({ sign_ok: 10, present: 1, removals: 2 });
  });
});

describe('fault shim: PIN retry counter', () => {
  async function pinFlags(d: Driver, slot: string): Promise<number> {
    const info = await d.call<{ flags: number }>('tokenInfo', { slot });
    return info.flags & PIN_FLAGS;
  }

  it('pin_tries=3 counts wrong PINs down to CKR_PIN_LOCKED, with the token-info flags', async () => {
    const { CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED } = pkcs11js;
    control.set({ pin_tries: 3 });
    const d = await Driver.start(shim, env);
    const { slot, session } = await d.session(false);
    const login = (pin: string): Promise<number> => ckr(d.call('login', { session, pin }));
    expect(await pinFlags(d, slot)).toBe(0);

    expect(await login(WRONG_PIN)).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW);
    // a right PIN resets the counter
    await d.call('login', { session, pin: PIN });
    expect(await pinFlags(d, slot)).toBe(0);
    await d.call('logout', { session });

    expect(await login(WRONG_PIN)).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW);
    expect(await login(WRONG_PIN)).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
    expect(await login(WRONG_PIN)).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
    // locked: even the right PIN is refused, and it never reaches the token
    expect(await login(PIN)).toBe(pkcs11js.CKR_PIN_LOCKED);
    expect(control.stats()).toMatchObject({
      login_calls: 6,
      login_incorrect: 4,
      login_ok: 1,
      login_locked: 1,
      pin_tries_left: 0,
    });
  });

  it('pin_state forces final_try / locked / ok once, and the counter goes on from there', async () => {
    const { CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED } = pkcs11js;
    const d = await Driver.start(shim, env);
    const { slot, session } = await d.session(false);
    const login = (pin: string): Promise<number> => ckr(d.call('login', { session, pin }));
    // no counter simulated: SoftHSM2's own flags pass through, no lockout
    expect(await login(WRONG_PIN)).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(control.stats().pin_tries_left).toBe(-1);

    control.set({ pin_state: 'final_try' }); // no pin_tries: a 3-try counter
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
    expect(control.stats()).toMatchObject({ login_calls: 1, pin_tries_left: 1 });
    expect(await login(WRONG_PIN)).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
    expect(await login(PIN)).toBe(pkcs11js.CKR_PIN_LOCKED);

    control.set({ pin_state: 'ok' });
    expect(await pinFlags(d, slot)).toBe(0);
    await d.call('login', { session, pin: PIN });
    await d.call('logout', { session });

    control.set({ pin_state: 'count_low' });
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW);
    control.set({ pin_state: 'locked' });
    expect(await pinFlags(d, slot)).toBe(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
    expect(await login(PIN)).toBe(pkcs11js.CKR_PIN_LOCKED);
    expect(control.stats()).toMatchObject({
      login_calls: 5,
      login_incorrect: 2,
      login_ok: 1,
      login_locked: 2,
    });
  });
});

describe('fault shim: no PC/SC, no reader', () => {
  it('device_error=1 fails C_Initialize and C_GetSlotList with CKR_DEVICE_ERROR', async () => {
    control.set({ device_error: 1 });
    const d = await Driver.load(shim, env);
    expect(await ckr(d.call('init'))).toBe(pkcs11js.CKR_DEVICE_ERROR);
    control.set({ device_error: 0 }); // pcscd came up
    await d.call('init');
    await expect(d.slots(true)).resolves.not.toHaveLength(0);
    control.set({ device_error: 1 });
    expect(await ckr(d.slots(true))).toBe(pkcs11js.CKR_DEVICE_ERROR);
    expect(await ckr(d.slots(false))).toBe(pkcs11js.CKR_DEVICE_ERROR);
  });

  it('empty_slots=1 lists no slots at all', async () => {
    const d = await Driver.start(shim, env);
    const slot = await d.tokenSlot();
    control.set({ empty_slots: 1 });
    await expect(d.slots(true)).resolves.toEqual([]);
    await expect(d.slots(false)).resolves.toEqual([]);
    expect(await ckr(d.call('open', { slot }))).toBe(pkcs11js.CKR_SLOT_ID_INVALID);
    control.set({ empty_slots: '' });
    await expect(d.slots(true)).resolves.toContain(slot);
    await d.call('open', { slot });
  });
});
