/**
 * One token as the module host sees it: the slot it sits in (found by label or serial
 * at every (re)attachment), a small pool of sessions (one operation per session at a
 * time), the login state, and cached key handles. A removal (TOKEN_NOT_PRESENT from any
 * call) drops all of it; the next operation finds the token again, so a token that comes
 * back is used again without a restart.
 */
import * as pkcs11 from 'pkcs11js';
import { NotaryHsmError, isNotaryHsmError } from '../../errors';
import { P256_PARAMS, p256Spki } from '../ec';
import type { Handle, Pkcs11Port, PortAttribute, PortTokenInfo } from '../port';
import type { DataRef, KeyRef, KeyReport, PinState, TokenReport, TokenSelector } from './protocol';

/** PIN state from CK_TOKEN_INFO flags. */
export function pinStateOf(flags: number): PinState {
  if (flags & pkcs11.CKF_USER_PIN_LOCKED) return 'locked';
  if (flags & pkcs11.CKF_USER_PIN_FINAL_TRY) return 'final_try';
  if (flags & pkcs11.CKF_USER_PIN_COUNT_LOW) return 'count_low';
  return 'ok';
}

function matches(info: PortTokenInfo, sel: TokenSelector): boolean {
  return (
    (sel.label === undefined || info.label === sel.label) &&
    (sel.serial === undefined || info.serial === sel.serial)
  );
}

function keyTemplate(cls: number, ref: KeyRef): PortAttribute[] {
  const t: PortAttribute[] = [
    { type: pkcs11.CKA_CLASS, value: cls },
    { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_EC },
  ];
  if (ref.label !== undefined) t.push({ type: pkcs11.CKA_LABEL, value: ref.label });
  if (ref.id !== undefined) t.push({ type: pkcs11.CKA_ID, value: Buffer.from(ref.id, 'hex') });
  return t;
}

const describe = (ref: KeyRef): string =>
  [
    ref.label !== undefined ? `label ${JSON.stringify(ref.label)}` : '',
    ref.id !== undefined ? `id ${ref.id}` : '',
  ]
    .filter(Boolean)
    .join(', ');

export class TokenRuntime {
  private slot?: Handle;
  private free: Handle[] = [];
  private all: Handle[] = [];
  private waiters: ((s: Handle) => void)[] = [];
  private loggedIn = false;
  private readonly keyCache = new Map<string, { handle: Handle; alwaysAuthenticate: boolean }>();
  /** Data objects' handles by application (see writeData). */
  private readonly dataCache = new Map<string, Handle>();

  constructor(
    private readonly port: Pkcs11Port,
    readonly name: string,
    private readonly selector: TokenSelector,
    private readonly sessions: number,
    /** Sign with the synchronous C_Sign (tokens that never wait for a touch). */
    private readonly syncSign = false,
  ) {}

  /** Finds the token's slot and opens its sessions, if not done since the last removal. */
  private attach(): void {
    if (this.slot) return;
    const found: { slot: Handle }[] = [];
    for (const slot of this.port.slots(true)) {
      const info = this.port.tokenInfo(slot);
      if (matches(info, this.selector)) found.push({ slot });
    }
    const what =
      describe({ label: this.selector.label, id: undefined }) ||
      `serial ${this.selector.serial ?? ''}`;
    if (found.length === 0) {
      if (this.port.slots(false).length === 0) {
        throw new NotaryHsmError(
          'NO_READER',
          `the module sees no slot or reader at all (token ${this.name})`,
          {
            details: { token: this.name },
          },
        );
      }
      throw new NotaryHsmError('TOKEN_NOT_PRESENT', `token ${this.name} (${what}) is not present`, {
        details: { token: this.name },
      });
    }
    if (found.length > 1) {
      throw new NotaryHsmError(
        'TOKEN_AMBIGUOUS',
        `${found.length} tokens match ${this.name} (${what}); select by serial`,
        {
          details: { token: this.name },
        },
      );
    }
    const slot = (found[0] as { slot: Handle }).slot;
    const opened: Handle[] = [];
    try {
      for (let i = 0; i < Math.max(1, this.sessions); i++)
        opened.push(this.port.openSession(slot, true));
    } catch (err) {
      for (const s of opened) this.tryClose(s);
      throw err;
    }
    this.slot = slot;
    this.all = opened;
    this.free = [...opened];
  }

  private tryClose(session: Handle): void {
    try {
      this.port.closeSession(session);
    } catch {
      // the session is gone with the token; nothing to release
    }
  }

  /** Forgets everything tied to the token's presence (after a removal). */
  detach(): void {
    for (const s of this.all) this.tryClose(s);
    this.slot = undefined;
    this.all = [];
    this.free = [];
    this.loggedIn = false;
    this.keyCache.clear();
    this.dataCache.clear();
  }

  /** Runs `fn` with the token attached; a removal detaches it and is reported. */
  private async guarded<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      this.attach();
      return await fn();
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** guarded() for a synchronous `fn`: the answer in the same turn, no promise. */
  private guardedNow<T>(fn: () => T): T {
    try {
      this.attach();
      return fn();
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** What to report for `err`: a removal detaches the token and says so. */
  private failure(err: unknown): unknown {
    if (!isNotaryHsmError(err, 'TOKEN_NOT_PRESENT')) return err;
    const attached = this.slot !== undefined;
    this.detach();
    if (!attached) return err; // attach() itself said so, with the token's name
    return this.removal(err);
  }

  /** What a session call failing with TOKEN_NOT_PRESENT means: the token or the reader is gone. */
  private removal(err: NotaryHsmError): NotaryHsmError {
    let noSlots = false;
    try {
      noSlots = this.port.slots(false).length === 0;
    } catch {
      // the module cannot even list slots: report the removal as seen
    }
    if (noSlots) {
      return new NotaryHsmError(
        'NO_READER',
        `the reader of token ${this.name} is gone (${err.message})`,
        {
          cause: err,
          details: { ...err.details, token: this.name },
        },
      );
    }
    return new NotaryHsmError(
      'TOKEN_NOT_PRESENT',
      `token ${this.name} was removed (${err.message})`,
      {
        cause: err,
        details: { ...err.details, token: this.name },
      },
    );
  }

  private acquire(): Promise<Handle> {
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(session: Handle): void {
    if (!this.all.includes(session)) return; // detached meanwhile
    const next = this.waiters.shift();
    if (next) next(session);
    else this.free.push(session);
  }

  /** Replaces a session left in an unknown state (an operation half done). */
  private renew(session: Handle): void {
    this.tryClose(session);
    this.all = this.all.filter((s) => s !== session);
    if (!this.slot) return;
    try {
      const fresh = this.port.openSession(this.slot, true);
      this.all.push(fresh);
      this.release(fresh);
    } catch {
      // the next attach after a removal reopens the pool
    }
  }

  status(): TokenReport {
    try {
      this.attach();
    } catch (err) {
      if (isNotaryHsmError(err, 'TOKEN_NOT_PRESENT')) {
        this.detach();
        return { present: false, loggedIn: false };
      }
      throw err;
    }
    let info: PortTokenInfo;
    try {
      info = this.port.tokenInfo(this.slot as Handle);
    } catch (err) {
      if (!isNotaryHsmError(err, 'TOKEN_NOT_PRESENT')) throw err;
      this.detach();
      return { present: false, loggedIn: false };
    }
    return {
      present: true,
      label: info.label,
      serial: info.serial,
      manufacturer: info.manufacturer,
      model: info.model,
      pinState: pinStateOf(info.flags),
      loggedIn: this.loggedIn,
    };
  }

  /**
   * Logs in as the user, once. The token's PIN flags are read first: no login is
   * attempted at final try or when locked. A refused PIN is reported, never retried.
   * throws: PIN_FINAL_TRY, PIN_LOCKED, PIN_INCORRECT, TOKEN_NOT_PRESENT
   */
  login(pin: string): Promise<TokenReport> {
    return this.guarded(() => {
      const state = pinStateOf(this.port.tokenInfo(this.slot as Handle).flags);
      if (state === 'locked') {
        throw new NotaryHsmError(
          'PIN_LOCKED',
          `the PIN of token ${this.name} is locked; unblock it with the PUK/SO PIN`,
          {
            details: { token: this.name },
          },
        );
      }
      if (state === 'final_try') {
        throw new NotaryHsmError(
          'PIN_FINAL_TRY',
          `token ${this.name} reports one PIN try left; not logging in (a wrong PIN would lock it). Log in once with the correct PIN using the vendor's tool to reset the counter`,
          { details: { token: this.name } },
        );
      }
      this.port.login(this.all[0] as Handle, pin);
      this.loggedIn = true;
      return Promise.resolve(this.status());
    });
  }

  private requireLogin(): void {
    if (!this.loggedIn) {
      throw new NotaryHsmError('NOT_LOGGED_IN', `token ${this.name} is not logged in`, {
        details: { token: this.name },
      });
    }
  }

  private keyReport(session: Handle, ref: KeyRef): KeyReport {
    const priv = this.port.findObjects(session, keyTemplate(pkcs11.CKO_PRIVATE_KEY, ref), 2);
    if (priv.length === 0) {
      throw new NotaryHsmError(
        'KEY_NOT_FOUND',
        `token ${this.name} holds no EC private key with ${describe(ref)}`,
        {
          details: { token: this.name, ...ref },
        },
      );
    }
    if (priv.length > 1) {
      throw new NotaryHsmError(
        'KEY_EXISTS',
        `token ${this.name} holds several keys with ${describe(ref)}`,
        {
          details: { token: this.name, ...ref },
        },
      );
    }
    const a = this.port.getAttributes(session, priv[0] as Handle, [
      pkcs11.CKA_LABEL,
      pkcs11.CKA_ID,
      pkcs11.CKA_SENSITIVE,
      pkcs11.CKA_EXTRACTABLE,
      pkcs11.CKA_ALWAYS_AUTHENTICATE,
    ]);
    const label = a.get(pkcs11.CKA_LABEL)?.toString('utf8') ?? '';
    const id = a.get(pkcs11.CKA_ID)?.toString('hex') ?? '';
    const pub = this.port.findObjects(
      session,
      keyTemplate(pkcs11.CKO_PUBLIC_KEY, { label: ref.label, id: ref.id ?? id }),
      1,
    );
    if (pub.length === 0) {
      throw new NotaryHsmError(
        'KEY_NOT_FOUND',
        `token ${this.name} holds no public key beside ${describe(ref)}`,
        {
          details: { token: this.name, ...ref },
        },
      );
    }
    const point = this.port
      .getAttributes(session, pub[0] as Handle, [pkcs11.CKA_EC_POINT])
      .get(pkcs11.CKA_EC_POINT);
    const flag = (t: number): boolean => (a.get(t)?.[0] ?? 0) !== 0;
    return {
      label,
      id,
      spki: p256Spki(point ?? Buffer.alloc(0)),
      alwaysAuthenticate: flag(pkcs11.CKA_ALWAYS_AUTHENTICATE),
      sensitive: flag(pkcs11.CKA_SENSITIVE),
      extractable: flag(pkcs11.CKA_EXTRACTABLE),
    };
  }

  private async withSession<T>(fn: (s: Handle) => Promise<T> | T): Promise<T> {
    const s = await this.acquire();
    try {
      return await fn(s);
    } finally {
      this.release(s);
    }
  }

  findKey(ref: KeyRef): Promise<KeyReport> {
    return this.guarded(() => {
      this.requireLogin();
      return this.withSession((s) => this.keyReport(s, ref));
    });
  }

  listKeys(): Promise<KeyReport[]> {
    return this.guarded(() => {
      this.requireLogin();
      return this.withSession((s) => {
        const handles = this.port.findObjects(s, keyTemplate(pkcs11.CKO_PRIVATE_KEY, {}), 1024);
        return handles.map((h) => {
          const a = this.port.getAttributes(s, h, [pkcs11.CKA_LABEL, pkcs11.CKA_ID]);
          const id = a.get(pkcs11.CKA_ID)?.toString('hex') ?? '';
          return this.keyReport(s, { id, label: a.get(pkcs11.CKA_LABEL)?.toString('utf8') });
        });
      });
    });
  }

  /**
   * Generates an EC P-256 key pair on the token: a token object, private, sensitive and
   * never extractable. A label or ID already in use is refused.
   * throws: KEY_EXISTS, KEY_TEMPLATE_INVALID, TOKEN_READ_ONLY, NOT_LOGGED_IN
   */
  generateKey(label: string, id: string): Promise<KeyReport> {
    return this.guarded(() => {
      this.requireLogin();
      return this.withSession(async (s) => {
        for (const cls of [pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY]) {
          for (const ref of [{ label }, { id }]) {
            if (this.port.findObjects(s, keyTemplate(cls, ref), 1).length > 0) {
              throw new NotaryHsmError(
                'KEY_EXISTS',
                `token ${this.name} already holds a key with ${describe(ref)}`,
                {
                  details: { token: this.name, ...ref },
                },
              );
            }
          }
        }
        const common: PortAttribute[] = [
          { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_EC },
          { type: pkcs11.CKA_TOKEN, value: true },
          { type: pkcs11.CKA_LABEL, value: label },
          { type: pkcs11.CKA_ID, value: Buffer.from(id, 'hex') },
        ];
        await this.port.generateEcKeyPair(
          s,
          [
            ...common,
            { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY },
            { type: pkcs11.CKA_EC_PARAMS, value: P256_PARAMS },
            { type: pkcs11.CKA_VERIFY, value: true },
          ],
          [
            ...common,
            { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
            { type: pkcs11.CKA_PRIVATE, value: true },
            { type: pkcs11.CKA_SENSITIVE, value: true },
            { type: pkcs11.CKA_EXTRACTABLE, value: false },
            { type: pkcs11.CKA_SIGN, value: true },
          ],
        );
        const report = this.keyReport(s, { label, id });
        if (!report.sensitive || report.extractable) {
          throw new NotaryHsmError(
            'KEY_TEMPLATE_INVALID',
            `token ${this.name} made key ${label} extractable or not sensitive`,
          );
        }
        return report;
      });
    });
  }

  /**
   * Signs a SHA-256 digest with CKM_ECDSA; returns raw r‖s — at once (no promise) when the
   * token signs synchronously and a session is free, so a host answers a whole batch of
   * signatures in one turn of its event loop.
   * throws: KEY_NOT_FOUND, NOT_LOGGED_IN, PIN_REQUIRED, TOKEN_NOT_PRESENT, PKCS#11 codes
   */
  sign(ref: KeyRef, digest: Buffer, pin?: string): Buffer | Promise<Buffer> {
    if (this.syncSign && this.free.length > 0) {
      return this.guardedNow(() => {
        this.requireLogin();
        return this.signNow(ref, digest, pin);
      });
    }
    return this.guarded(() => {
      this.requireLogin();
      return this.syncSign && this.free.length > 0
        ? this.signNow(ref, digest, pin)
        : this.signWithSession(ref, digest, pin);
    });
  }

  /** The private key handle for `ref` (cached until removal or KEY_NOT_FOUND). */
  private keyFor(s: Handle, ref: KeyRef): { handle: Handle; alwaysAuthenticate: boolean } {
    const cacheKey = `${ref.label ?? ''}\u0000${ref.id ?? ''}`;
    let key = this.keyCache.get(cacheKey);
    if (key) return key;
    const found = this.port.findObjects(s, keyTemplate(pkcs11.CKO_PRIVATE_KEY, ref), 2);
    if (found.length !== 1) {
      throw new NotaryHsmError(
        'KEY_NOT_FOUND',
        `token ${this.name}: ${found.length} EC private keys with ${describe(ref)}`,
        { details: { token: this.name, ...ref } },
      );
    }
    const handle = found[0] as Handle;
    const aa = this.port
      .getAttributes(s, handle, [pkcs11.CKA_ALWAYS_AUTHENTICATE])
      .get(pkcs11.CKA_ALWAYS_AUTHENTICATE);
    key = { handle, alwaysAuthenticate: (aa?.[0] ?? 0) !== 0 };
    this.keyCache.set(cacheKey, key);
    return key;
  }

  /** C_SignInit (+ the context login a key may need) on `s`. */
  private initSign(s: Handle, ref: KeyRef, pin: string | undefined): void {
    const key = this.keyFor(s, ref);
    if (key.alwaysAuthenticate && pin === undefined) {
      throw new NotaryHsmError(
        'PIN_REQUIRED',
        `key ${describe(ref)} on ${this.name} needs the PIN for every signature`,
      );
    }
    this.port.signInit(s, key.handle);
    try {
      if (key.alwaysAuthenticate) this.port.login(s, pin as string, true);
    } catch (err) {
      // A failed context login leaves the operation active: the session is replaced
      // (release() of the old handle is then a no-op).
      this.renew(s);
      throw err;
    }
  }

  private forget(err: unknown, ref: KeyRef): void {
    if (isNotaryHsmError(err, 'KEY_NOT_FOUND'))
      this.keyCache.delete(`${ref.label ?? ''}\u0000${ref.id ?? ''}`);
  }

  /**
   * Synchronous signing for tokens that never wait for a touch: no thread-pool hop, one
   * session, nothing else can run in between on this host's event loop.
   */
  private signNow(ref: KeyRef, digest: Buffer, pin?: string): Buffer {
    const s = this.free.pop();
    if (!s) throw new NotaryHsmError('TOKEN_BUSY', `token ${this.name} has no free session`);
    try {
      this.initSign(s, ref, pin);
      return this.port.signSync(s, digest, 132);
    } catch (err) {
      this.forget(err, ref);
      throw err;
    } finally {
      this.release(s);
    }
  }

  private async signWithSession(ref: KeyRef, digest: Buffer, pin?: string): Promise<Buffer> {
    const s = await this.acquire();
    try {
      this.initSign(s, ref, pin);
      return await this.port.sign(s, digest, 132);
    } catch (err) {
      this.forget(err, ref);
      throw err;
    } finally {
      this.release(s);
    }
  }

  /**
   * The private data object with `ref`'s application, if any. Private only: a public object
   * of the same application can be made, and rewritten, by anyone who can open a session,
   * without the PIN; taken for ours, it would say what they like.
   * throws: DATA_OBJECT_AMBIGUOUS (two of them)
   */
  private oneData(s: Handle, ref: DataRef): Handle | undefined {
    const found = this.port.findObjects(
      s,
      [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_PRIVATE, value: true },
        { type: pkcs11.CKA_APPLICATION, value: ref.application },
      ],
      2,
    );
    if (found.length > 1) {
      throw new NotaryHsmError(
        'DATA_OBJECT_AMBIGUOUS',
        `token ${this.name} holds more than one data object of application ${JSON.stringify(ref.application)}`,
        { details: { token: this.name, application: ref.application } },
      );
    }
    return found[0];
  }

  /**
   * The text kept in the private data object `ref` (its CKA_LABEL), or null when the
   * token holds no such object.
   * throws: DATA_OBJECT_AMBIGUOUS, NOT_LOGGED_IN, TOKEN_NOT_PRESENT, PKCS#11 codes
   */
  readData(ref: DataRef): Promise<string | null> {
    return this.guarded(() => {
      this.requireLogin();
      return this.withSession((s) => {
        const h = this.oneData(s, ref);
        if (h === undefined) return null;
        const label = this.port.getAttributes(s, h, [pkcs11.CKA_LABEL]).get(pkcs11.CKA_LABEL);
        return label?.toString('utf8') ?? '';
      });
    });
  }

  /**
   * Keeps `value` in the private data object `ref`, creating it on first use (a token
   * object, private: found and read only after login). The handle is kept, so an update
   * is one C_SetAttributeValue.
   * throws: DATA_OBJECT_AMBIGUOUS, NOT_LOGGED_IN, TOKEN_NOT_PRESENT, PKCS#11 codes
   */
  writeData(ref: DataRef, value: string): Promise<null> {
    return this.guarded(() => {
      this.requireLogin();
      return this.withSession((s) => {
        let h = this.dataCache.get(ref.application) ?? this.oneData(s, ref);
        try {
          if (h !== undefined) {
            this.port.setAttributes(s, h, [{ type: pkcs11.CKA_LABEL, value }]);
          } else {
            h = this.port.createObject(s, [
              { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
              { type: pkcs11.CKA_TOKEN, value: true },
              { type: pkcs11.CKA_PRIVATE, value: true },
              { type: pkcs11.CKA_MODIFIABLE, value: true },
              { type: pkcs11.CKA_APPLICATION, value: ref.application },
              { type: pkcs11.CKA_LABEL, value },
            ]);
          }
        } catch (err) {
          this.dataCache.delete(ref.application);
          throw err;
        }
        this.dataCache.set(ref.application, h);
        return null;
      });
    });
  }

  /** Logs out and closes every session (shutdown). */
  close(): void {
    if (this.loggedIn && this.all[0]) {
      try {
        this.port.logout(this.all[0]);
      } catch {
        // logging out of a removed token cannot fail in a way that matters
      }
    }
    this.detach();
  }
}
