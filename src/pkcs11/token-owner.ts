/**
 * The owner of one token, in the main process. Every operation on the token goes
 * through its queue: at most one operation per session runs in the module host (up to
 * `pipeline` are sent there, the ones beyond the sessions waiting in the host's gate),
 * at most `queueLimit` wait (beyond that: TOKEN_BUSY), and each operation answers within
 * `timeoutMs` (else TOKEN_TIMEOUT; the token stays occupied until the module returns,
 * since a PKCS#11 call cannot be interrupted). When the token is removed, the failing
 * operation and everything queued behind it fail with TOKEN_NOT_PRESENT at once; the
 * next operation finds the token again and logs in again, so signing resumes without a
 * restart. After a refused PIN, the owner never logs in by itself again.
 */
import { performance } from 'node:perf_hooks';
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import { log } from '../log';
import type { ModuleHost } from './host/module-host';
import {
  monotonicMs,
  type HostRequest,
  type KeyRef,
  type KeyReport,
  type SlotReport,
  type TokenReport,
  type TokenSelector,
} from './host/protocol';
import type { PinSource } from './pin';

export interface TokenOwnerOptions {
  name: string;
  host: ModuleHost;
  selector: TokenSelector;
  pin: PinSource;
  /** Sessions (= operations running on the token at once). */
  sessions?: number;
  /**
   * Operations sent to the module host at once (default, and at least, `sessions`). More
   * than `sessions` keeps the next ones waiting in the host, ready the moment a session
   * frees up instead of one IPC round trip later: worth it for a fast token (SoftHSM2
   * signs in ~45 µs; a round trip costs more). Those beyond `sessions` count as waiting
   * for `queueLimit`; one still waiting in the host at its timeout never reaches the
   * module, but keeps its place in the pipeline until the host answers it.
   */
  pipeline?: number;
  queueLimit?: number;
  timeoutMs?: number;
  /** Sign with the synchronous C_Sign in the host (tokens that never wait for a touch). */
  syncSign?: boolean;
  /** Told of every operation's outcome and duration (queueing included), e.g. for metrics. */
  observe?: (o: { token: string; operation: string; outcome: string; seconds: number }) => void;
}

interface Job {
  run: (deadline: number) => Promise<unknown>;
  operation: string;
  start: number;
  /** monotonicMs() at which the job times out (sent to the host with its request). */
  deadline: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

export class TokenOwner {
  readonly name: string;
  private readonly host: ModuleHost;
  private readonly selector: TokenSelector;
  private readonly pin: PinSource;
  readonly sessions: number;
  readonly pipeline: number;
  readonly queueLimit: number;
  readonly timeoutMs: number;
  private queue: Job[] = [];
  private inFlight = 0;
  private loggedInGeneration = -1;
  private attachedGeneration = -1;
  private pinRefused?: NotaryHsmError;
  private loginInFlight?: Promise<void>;
  private attachInFlight?: Promise<TokenReport>;
  private closing = false;
  private readonly syncSign: boolean;
  /** The last status read (for gauges; never triggers token work). */
  lastStatus?: TokenReport;
  private readonly observe: TokenOwnerOptions['observe'];

  constructor(opts: TokenOwnerOptions) {
    this.name = opts.name;
    this.host = opts.host;
    this.selector = opts.selector;
    this.pin = opts.pin;
    this.sessions = opts.sessions ?? 1;
    this.pipeline = Math.max(this.sessions, opts.pipeline ?? 1);
    this.queueLimit = opts.queueLimit ?? 256;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.observe = opts.observe;
    this.syncSign = opts.syncSign ?? false;
  }

  /** Operations waiting or in flight (for metrics). */
  get depth(): number {
    return this.queue.length + this.inFlight;
  }

  private enqueue<T>(run: (deadline: number) => Promise<T>, operation = 'operation'): Promise<T> {
    if (this.closing)
      return Promise.reject(
        new NotaryHsmError('TOKEN_SHUTDOWN', `token ${this.name} is shutting down`),
      );
    // Waiting: here, and in the host beyond the sessions (see `pipeline`).
    const waiting = this.queue.length + Math.max(0, this.inFlight - this.sessions);
    if (waiting >= this.queueLimit) {
      return Promise.reject(
        new NotaryHsmError(
          'TOKEN_BUSY',
          `token ${this.name} has ${waiting} operations waiting; try again`,
          {
            details: { token: this.name },
          },
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        run,
        operation,
        start: performance.now(),
        deadline: monotonicMs() + this.timeoutMs,
        resolve: resolve as (v: unknown) => void,
        reject,
        settled: false,
      };
      job.timer = setTimeout(() => {
        this.queue = this.queue.filter((j) => j !== job);
        this.settle(
          job,
          undefined,
          new NotaryHsmError(
            'TOKEN_TIMEOUT',
            `token ${this.name} did not answer within ${this.timeoutMs} ms`,
            {
              details: { token: this.name, timeoutMs: this.timeoutMs },
            },
          ),
        );
      }, this.timeoutMs);
      this.queue.push(job);
      this.pump();
    });
  }

  private settle(job: Job, value: unknown, error?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    this.observe?.({
      token: this.name,
      operation: job.operation,
      outcome: error === undefined ? 'ok' : isNotaryHsmError(error) ? error.code : 'ERROR',
      seconds: (performance.now() - job.start) / 1000,
    });
    if (error === undefined) job.resolve(value);
    else job.reject(error);
  }

  private pump(): void {
    while (this.inFlight < this.pipeline && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      if (job.settled) continue;
      this.inFlight++;
      job.run(job.deadline).then(
        (v) => this.finish(job, v),
        (e: unknown) => this.finish(job, undefined, e),
      );
    }
  }

  private finish(job: Job, value: unknown, error?: unknown): void {
    this.inFlight--;
    this.settle(job, value, error);
    if (isNotaryHsmError(error, 'TOKEN_NOT_PRESENT', 'NO_READER')) {
      if (this.loggedInGeneration !== -1 || this.queue.length > 0) {
        log().warn('token not present', {
          token: this.name,
          code: error.code,
          failedQueued: this.queue.length,
        });
      }
      this.loggedInGeneration = -1;
      const waiting = this.queue;
      this.queue = [];
      for (const j of waiting) this.settle(j, undefined, error);
    }
    this.pump();
  }

  private async attach(): Promise<void> {
    if (this.attachedGeneration === this.host.generation && this.host.generation > 0) return;
    this.attachInFlight ??= this.host
      .request<TokenReport>({
        op: 'attach',
        token: this.name,
        selector: this.selector,
        sessions: this.sessions,
        ...(this.syncSign ? { syncSign: true } : {}),
      })
      .finally(() => {
        this.attachInFlight = undefined;
      });
    await this.attachInFlight;
    this.attachedGeneration = this.host.generation;
  }

  /**
   * Logs in once per host generation. Concurrent operations share one login attempt, so
   * a wrong PIN reaches the token exactly once however many requests arrive together.
   */
  private ensureLogin(requestPin?: string): Promise<void> {
    if (this.pin.perRequest) return this.login(requestPin);
    this.loginInFlight ??= this.login(requestPin).finally(() => {
      this.loginInFlight = undefined;
    });
    return this.loginInFlight;
  }

  private async login(requestPin?: string): Promise<void> {
    await this.attach();
    if (this.loggedInGeneration === this.host.generation) return;
    if (this.pinRefused) throw this.pinRefused;
    const pin = this.pin.perRequest ? requestPin : await this.pin.read();
    if (pin === undefined) {
      throw new NotaryHsmError(
        'PIN_REQUIRED',
        `token ${this.name} needs its PIN with the request`,
        { details: { token: this.name } },
      );
    }
    log().debug('token login', { token: this.name, pinSource: this.pin.description });
    try {
      await this.host.request<TokenReport>({ op: 'login', token: this.name, pin });
      log().info('token logged in', { token: this.name });
    } catch (err) {
      log().warn('token login refused', {
        token: this.name,
        code: isNotaryHsmError(err) ? err.code : 'ERROR',
        pinSource: this.pin.description,
      });
      if (isNotaryHsmError(err, 'PIN_INCORRECT') && !this.pin.perRequest) {
        this.pinRefused = new NotaryHsmError(
          'PIN_INCORRECT',
          `the PIN from ${this.pin.description} was refused by token ${this.name}; fix it and restart (it is not tried again)`,
          { details: { token: this.name } },
        );
        throw this.pinRefused;
      }
      throw err;
    }
    this.loggedInGeneration = this.host.generation;
  }

  /** True when the current host knows the token and it is logged in there. */
  private get ready(): boolean {
    const g = this.host.generation;
    return g > 0 && this.attachedGeneration === g && this.loggedInGeneration === g;
  }

  /** Runs a host request that needs a logged-in token; a lost login is restored once. */
  private withLogin<T>(req: HostRequest, requestPin?: string): Promise<T> {
    return this.enqueue(
      (deadline) =>
        this.ready
          ? this.requestLoggedIn<T>(req, requestPin, deadline)
          : this.ensureLogin(requestPin).then(() =>
              this.requestLoggedIn<T>(req, requestPin, deadline),
            ),
      req.op,
    );
  }

  private requestLoggedIn<T>(
    req: HostRequest,
    requestPin: string | undefined,
    deadline: number,
  ): Promise<T> {
    return this.host.request<T>(req, deadline).catch(async (err: unknown) => {
      if (!isNotaryHsmError(err, 'NOT_LOGGED_IN')) throw err;
      this.loggedInGeneration = -1;
      await this.ensureLogin(requestPin);
      return this.host.request<T>(req, deadline);
    });
  }

  /** Signs a SHA-256 digest with the key; raw r‖s. */
  sign(
    key: KeyRef,
    digest: Uint8Array,
    opts: { pin?: string; contextPin?: boolean } = {},
  ): Promise<Buffer> {
    const req: HostRequest = { op: 'sign', token: this.name, key, digest };
    return this.withLogin<Uint8Array>(
      opts.contextPin ? { ...req, pin: opts.pin ?? '' } : req,
      opts.pin,
    ).then((s) => (Buffer.isBuffer(s) ? s : Buffer.from(s.buffer, s.byteOffset, s.byteLength)));
  }

  findKey(key: KeyRef, pin?: string): Promise<KeyReport> {
    return this.withLogin({ op: 'findKey', token: this.name, key }, pin);
  }

  listKeys(pin?: string): Promise<KeyReport[]> {
    return this.withLogin({ op: 'listKeys', token: this.name }, pin);
  }

  generateKey(label: string, id: string, pin?: string): Promise<KeyReport> {
    return this.withLogin({ op: 'generateKey', token: this.name, label, id }, pin);
  }

  /** Presence, identity and PIN state; never logs in. */
  status(): Promise<TokenReport> {
    return this.enqueue(async () => {
      await this.attach();
      const report = await this.host.request<TokenReport>({ op: 'status', token: this.name });
      if (!report.present) this.loggedInGeneration = -1;
      this.lastStatus = report;
      return report;
    }, 'status');
  }

  /** Every token the module sees (for `tokens` and diagnostics). */
  slots(): Promise<SlotReport[]> {
    return this.host.request<SlotReport[]>({ op: 'slots' });
  }

  /** Stops accepting work and fails what is queued. */
  close(): void {
    this.closing = true;
    const waiting = this.queue;
    this.queue = [];
    for (const j of waiting) {
      this.settle(
        j,
        undefined,
        new NotaryHsmError('TOKEN_SHUTDOWN', `token ${this.name} is shutting down`),
      );
    }
  }

  /**
   * Shutdown, first step: accept no new work, let queued and in-flight operations finish
   * (up to `timeoutMs`), then fail whatever is left with TOKEN_SHUTDOWN.
   */
  async drain(timeoutMs = 10_000): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.inFlight > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.close();
  }
}
