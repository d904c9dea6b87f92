/**
 * The tokens of a configuration, ready to use: one module host per PKCS#11 module (and
 * environment), one token owner per token, signers for configured keys, and error
 * messages completed with the profile's advice (what to do about a device error, a
 * missing reader, an absent token). Discovery lives here; signing lives in the owners.
 */
import { NotaryHsmError, isNotaryHsmError, type ErrorCode } from '../errors';
import { log } from '../log';
import type { Config, ResolvedToken } from '../config/load';
import type { DataRef, KeyRef, KeyReport, PinState } from './host/protocol';
import { ModuleHost, type HostKind } from './host/module-host';
import { pinSource } from './pin';
import { Pkcs11Signer } from './pkcs11-signer';
import { resolveModule, type HsmProfile } from './profile';
import { TokenOwner } from './token-owner';

/** What `tokens` shows for one configured token. */
export interface TokenView {
  readonly name: string;
  readonly profile: string;
  readonly module?: string;
  readonly present: boolean;
  readonly label?: string;
  readonly serial?: string;
  readonly pinState?: PinState;
  readonly error?: { code: string; message: string };
}

const HINTS: Partial<Record<ErrorCode, 'deviceError' | 'noReader' | 'notPresent'>> = {
  DEVICE_ERROR: 'deviceError',
  NO_READER: 'noReader',
  TOKEN_NOT_PRESENT: 'notPresent',
};

export class TokenRegistry {
  private readonly hosts = new Map<string, ModuleHost>();
  /** Hosts that only sign for one token (its `signHosts` beyond the shared one). */
  private readonly signHosts: ModuleHost[] = [];
  private readonly signers = new Map<string, Promise<Pkcs11Signer>>();
  private readonly owners = new Map<
    string,
    { owner: TokenOwner; token: ResolvedToken; module?: string; moduleError?: NotaryHsmError }
  >();

  constructor(
    private readonly config: Config,
    opts: {
      kind?: HostKind;
      env?: NodeJS.ProcessEnv;
      observe?: (o: { token: string; operation: string; outcome: string; seconds: number }) => void;
    } = {},
  ) {
    const baseEnv = opts.env ?? process.env;
    for (const token of config.tokens) {
      let module: string | undefined;
      let moduleError: NotaryHsmError | undefined;
      try {
        module = token.module ?? resolveModule(token.profile);
      } catch (err) {
        moduleError = err as NotaryHsmError;
      }
      const env = { ...baseEnv, ...token.environment };
      const hostKey = JSON.stringify([module ?? `missing:${token.config.name}`, token.environment]);
      let host = this.hosts.get(hostKey);
      if (!host) {
        host = new ModuleHost({
          module: module ?? '/nonexistent',
          env,
          ...(opts.kind ? { kind: opts.kind } : {}),
        });
        this.hosts.set(hostKey, host);
      }
      // Tokens that never wait for a touch may sign through more processes (profile
      // signHosts, token sign_hosts) — process hosts only: worker threads of one process
      // would share one module instance and its login.
      const extra =
        opts.kind === 'worker' || token.profile.touch.possible || token.config.pin === 'request'
          ? 0
          : (token.config.sign_hosts ?? token.profile.signHosts ?? 1) - 1;
      const signHosts = Array.from(
        { length: Math.max(0, extra) },
        () => new ModuleHost({ module: module ?? '/nonexistent', env }),
      );
      this.signHosts.push(...signHosts);
      const owner = new TokenOwner({
        name: token.config.name,
        host,
        ...(signHosts.length > 0 ? { signHosts } : {}),
        selector: token.selector,
        pin: pinSource(token.config.pin, env),
        sessions: token.config.sessions ?? token.profile.sessions,
        queueLimit: token.config.queue_limit ?? token.profile.queue.limit,
        timeoutMs: token.config.timeout_ms ?? token.profile.timeouts.operationMs,
        // Tokens that never wait for a touch sign synchronously in their host, with many
        // requests in flight so the host never idles between them (bench/README.md).
        syncSign: !token.profile.touch.possible,
        ...(token.profile.touch.possible ? {} : { pipeline: 32 }),
        ...(opts.observe ? { observe: opts.observe } : {}),
      });
      this.owners.set(token.config.name, {
        owner,
        token,
        ...(module ? { module } : {}),
        ...(moduleError ? { moduleError } : {}),
      });
    }
  }

  private entry(name: string): {
    owner: TokenOwner;
    token: ResolvedToken;
    moduleError?: NotaryHsmError;
  } {
    const e = this.owners.get(name);
    if (!e)
      throw new NotaryHsmError('TOKEN_NOT_FOUND', `no token named ${name} in ${this.config.file}`);
    if (e.moduleError) throw e.moduleError;
    return e;
  }

  /** Adds the profile's advice to an error about the module or the token. */
  private hinted(token: ResolvedToken, err: unknown): unknown {
    if (!isNotaryHsmError(err)) return err;
    const which = HINTS[err.code];
    const hint = which ? token.profile.hints?.[which] : undefined;
    if (!hint) return err;
    return new NotaryHsmError(err.code, `${err.message}. ${hint}`, {
      cause: err,
      details: err.details,
    });
  }

  private async run<T>(name: string, fn: (owner: TokenOwner) => Promise<T>): Promise<T> {
    const { owner, token } = this.entry(name);
    try {
      return await fn(owner);
    } catch (err) {
      throw this.hinted(token, err);
    }
  }

  get tokenNames(): string[] {
    return [...this.owners.keys()];
  }

  owner(name: string): TokenOwner {
    return this.entry(name).owner;
  }

  profileOf(name: string): HsmProfile {
    const e = this.owners.get(name);
    if (!e)
      throw new NotaryHsmError('TOKEN_NOT_FOUND', `no token named ${name} in ${this.config.file}`);
    return e.token.profile;
  }

  /** Presence, identity and PIN state of every configured token (never logs in). */
  tokens(): Promise<TokenView[]> {
    return this.views(false);
  }

  /**
   * tokens() for readiness checks: a token with operations running (a signature waiting
   * for a touch, say) is in use, so present, and is not asked — its status would queue
   * behind them, and a readiness probe would fail for as long as a touch takes.
   */
  readiness(): Promise<TokenView[]> {
    return this.views(true);
  }

  private async views(busyIsPresent: boolean): Promise<TokenView[]> {
    return Promise.all(
      [...this.owners.entries()].map(async ([name, e]): Promise<TokenView> => {
        const base = {
          name,
          profile: e.token.profile.name,
          ...(e.module ? { module: e.module } : {}),
        };
        const problem = e.owner.loginProblem;
        const login = problem ? { error: { code: problem.code, message: problem.message } } : {};
        if (busyIsPresent && !e.moduleError && e.owner.running > 0) {
          const last = e.owner.lastStatus;
          return {
            ...base,
            present: true,
            ...(last?.label !== undefined ? { label: last.label } : {}),
            ...(last?.serial !== undefined ? { serial: last.serial } : {}),
            ...(last?.pinState !== undefined ? { pinState: last.pinState } : {}),
            ...login,
          };
        }
        try {
          const s = await this.run(name, (o) => o.status());
          return {
            ...base,
            present: s.present,
            ...(s.label !== undefined ? { label: s.label } : {}),
            ...(s.serial !== undefined ? { serial: s.serial } : {}),
            ...(s.pinState !== undefined ? { pinState: s.pinState } : {}),
            ...(s.present ? login : {}),
          };
        } catch (err) {
          const e2 = isNotaryHsmError(err) ? err : new NotaryHsmError('PKCS11_ERROR', String(err));
          return { ...base, present: false, error: { code: e2.code, message: e2.message } };
        }
      }),
    );
  }

  /**
   * Opens every token at start (TokenOwner.open: found, and logged in unless its PIN comes
   * per request) and logs each outcome: `token ready`, or `token not usable` with the code
   * and message (never a PIN). Never throws: readiness reports what failed.
   */
  async open(): Promise<{ name: string; ok: boolean; code?: string }[]> {
    return Promise.all(
      [...this.owners.keys()].map(async (name) => {
        try {
          const s = await this.run(name, (o) => o.open());
          log().info('token ready', {
            token: name,
            ...(s.pinState !== undefined ? { pinState: s.pinState } : {}),
          });
          return { name, ok: true };
        } catch (err) {
          const e = isNotaryHsmError(err) ? err : new NotaryHsmError('PKCS11_ERROR', String(err));
          log().error('token not usable', { token: name, code: e.code, errorMessage: e.message });
          return { name, ok: false, code: e.code };
        }
      }),
    );
  }

  /** throws: MECHANISM_UNSUPPORTED when the profile says keys are not generated through PKCS#11 */
  generateKey(token: string, label: string, id: string, pin?: string): Promise<KeyReport> {
    const { token: t } = this.entry(token);
    if (!t.profile.keyGeneration.supported) {
      return Promise.reject(
        new NotaryHsmError(
          'MECHANISM_UNSUPPORTED',
          `profile ${t.profile.name} does not generate keys through PKCS#11. ${t.profile.keyGeneration.note ?? ''}`.trim(),
        ),
      );
    }
    return this.run(token, (o) => o.generateKey(label, id, pin));
  }

  listKeys(token: string, pin?: string): Promise<KeyReport[]> {
    return this.run(token, (o) => o.listKeys(pin));
  }

  /** The text kept in a private data object on `token`, or null (see TokenRuntime.readData). */
  readData(token: string, object: DataRef): Promise<string | null> {
    return this.run(token, (o) => o.readData(object));
  }

  /** Keeps `value` in a private data object on `token` (made on first use). */
  writeData(token: string, object: DataRef, value: string): Promise<void> {
    return this.run(token, (o) => o.writeData(object, value));
  }

  /** A signer for a configured key. throws: KEY_NOT_FOUND and the token's codes */
  signer(keyName: string, pin?: string): Promise<Pkcs11Signer> {
    const key = this.config.keys.find((k) => k.name === keyName);
    if (!key)
      return Promise.reject(
        new NotaryHsmError('KEY_NOT_FOUND', `no key named ${keyName} in ${this.config.file}`),
      );
    return this.signerFor(key.token, key.ref, pin);
  }

  /**
   * A signer for `ref` on `token`. Signers of tokens whose PIN is not per request are
   * kept (the key lookup costs a round trip to the token); a per-request PIN always
   * makes a fresh one, which is dropped with the request.
   */
  signerFor(token: string, ref: KeyRef, pin?: string): Promise<Pkcs11Signer> {
    if (pin !== undefined) return this.run(token, (o) => Pkcs11Signer.open(o, ref, pin));
    const key = JSON.stringify([token, ref.label ?? null, ref.id ?? null]);
    let signer = this.signers.get(key);
    if (!signer) {
      signer = this.run(token, (o) => Pkcs11Signer.open(o, ref));
      this.signers.set(key, signer);
      signer.catch(() => this.signers.delete(key));
    }
    return signer;
  }

  /** Drains every owner (queued work finishes), then logs out, closes sessions and finalises every module. */
  async close(drainMs = 10_000): Promise<void> {
    await Promise.all([...this.owners.values()].map(({ owner }) => owner.drain(drainMs)));
    await Promise.all([...this.hosts.values(), ...this.signHosts].map((h) => h.close()));
  }
}
