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
 *
 * A token that never waits for a touch may also sign through more module hosts
 * (`signHosts`, each a process with its own sessions and its own login): signatures go to
 * whichever host has the fewest in flight, everything else to the first host. Logins are
 * made one at a time, the first host's first, so a wrong PIN still reaches the token once.
 */
import { performance } from 'node:perf_hooks';
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import { log } from '../log';
import type { ModuleHost } from './host/module-host';
import {
  monotonicMs,
  type DataRef,
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
  /**
   * More module hosts (processes) for the same module and token that sign in parallel with
   * `host` — only for tokens that never wait for a touch, whose module lets several
   * processes use a token at once (SoftHSM2). Ignored when the PIN comes with each request.
   */
  signHosts?: readonly ModuleHost[];
  /** Told of every operation's outcome and duration (queueing included), e.g. for metrics. */
  observe?: (o: { token: string; operation: string; outcome: string; seconds: number }) => void;
}

interface Job {
  run: (deadline: number, lane: Lane) => Promise<unknown>;
  operation: string;
  /** A signature that any host may make (else: the first host). */
  anyLane: boolean;
  start: number;
  /** monotonicMs() at which the job times out (sent to the host with its request). */
  deadline: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

/** One module host of the owner, and what the owner knows of the token there. */
class Lane {
  attachedGeneration = -1;
  loggedInGeneration = -1;
  attachInFlight?: Promise<TokenReport>;
  loginInFlight?: Promise<void>;
  inFlight = 0;

  constructor(readonly host: ModuleHost) {}

  /** The current host knows the token and it is logged in there. */
  get ready(): boolean {
    const g = this.host.generation;
    return g > 0 && this.attachedGeneration === g && this.loggedInGeneration === g;
  }
}

export class TokenOwner {
  readonly name: string;
  private readonly selector: TokenSelector;
  private readonly pin: PinSource;
  readonly sessions: number;
  readonly pipeline: number;
  readonly queueLimit: number;
  readonly timeoutMs: number;
  private queue: Job[] = [];
  private inFlight = 0;
  /** lanes[0] does everything; the others only sign. */
  private readonly lanes: Lane[];
  private pinRefused?: NotaryHsmError;
  /**
   * Why the last login with the configured PIN failed (a refused PIN, a PIN at its final
   * try or locked…); cleared by a login that succeeds. Readiness reports it.
   */
  loginProblem?: NotaryHsmError;
  /** Logins, one at a time over all lanes. */
  private loginChain: Promise<unknown> = Promise.resolve();
  private closing = false;
  private readonly syncSign: boolean;
  /** The last status read (for gauges; never triggers token work). */
  lastStatus?: TokenReport;
  private readonly observe: TokenOwnerOptions['observe'];

  constructor(opts: TokenOwnerOptions) {
    this.name = opts.name;
    this.selector = opts.selector;
    this.pin = opts.pin;
    this.sessions = opts.sessions ?? 1;
    this.pipeline = Math.max(this.sessions, opts.pipeline ?? 1);
    this.queueLimit = opts.queueLimit ?? 256;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.observe = opts.observe;
    this.syncSign = opts.syncSign ?? false;
    const extra = this.syncSign && !this.pin.perRequest ? (opts.signHosts ?? []) : [];
    this.lanes = [opts.host, ...extra].map((h) => new Lane(h));
  }

  /** The module hosts this owner uses (the first for everything, the others for signatures). */
  get hosts(): ModuleHost[] {
    return this.lanes.map((l) => l.host);
  }

  private get primary(): Lane {
    return this.lanes[0] as Lane;
  }

  /** Operations sent to the module hosts and not answered yet. */
  get running(): number {
    return this.inFlight;
  }

  /** Operations waiting or in flight (for metrics). */
  get depth(): number {
    return this.queue.length + this.inFlight;
  }

  /**
   * Queues `run` for a lane. `first`: ahead of everything queued and never refused for a
   * full queue (the audit checkpoint, which every waiting signature's answer waits for).
   */
  private enqueue<T>(
    run: (deadline: number, lane: Lane) => Promise<T>,
    operation = 'operation',
    anyLane = false,
    first = false,
  ): Promise<T> {
    if (this.closing)
      return Promise.reject(
        new NotaryHsmError('TOKEN_SHUTDOWN', `token ${this.name} is shutting down`),
      );
    // Waiting: here, and in the host beyond the sessions (see `pipeline`).
    const waiting =
      this.queue.length + Math.max(0, this.inFlight - this.sessions * this.lanes.length);
    if (waiting >= this.queueLimit && !first) {
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
        run: run,
        operation,
        anyLane,
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
      if (first) this.queue.unshift(job);
      else this.queue.push(job);
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

  /** The lane for `job`: the first, or for a signature the one with the fewest in flight. */
  private laneFor(job: Job): Lane | undefined {
    if (!job.anyLane || this.lanes.length === 1) {
      return this.primary.inFlight < this.pipeline ? this.primary : undefined;
    }
    let best: Lane | undefined;
    for (const lane of this.lanes) {
      if (lane.inFlight < this.pipeline && (!best || lane.inFlight < best.inFlight)) best = lane;
    }
    return best;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const job = this.queue[0] as Job;
      if (job.settled) {
        this.queue.shift();
        continue;
      }
      const lane = this.laneFor(job);
      if (!lane) return;
      this.queue.shift();
      this.inFlight++;
      lane.inFlight++;
      job.run(job.deadline, lane).then(
        (v) => this.finish(job, lane, v),
        (e: unknown) => this.finish(job, lane, undefined, e),
      );
    }
  }

  private finish(job: Job, lane: Lane, value: unknown, error?: unknown): void {
    this.inFlight--;
    lane.inFlight--;
    this.settle(job, value, error);
    if (isNotaryHsmError(error, 'TOKEN_NOT_PRESENT', 'NO_READER')) {
      if (this.lanes.some((l) => l.loggedInGeneration !== -1) || this.queue.length > 0) {
        log().warn('token not present', {
          token: this.name,
          code: error.code,
          failedQueued: this.queue.length,
        });
      }
      for (const l of this.lanes) l.loggedInGeneration = -1;
      const waiting = this.queue;
      this.queue = [];
      for (const j of waiting) this.settle(j, undefined, error);
    }
    this.pump();
  }

  private async attach(lane: Lane): Promise<void> {
    const host = lane.host;
    if (lane.attachedGeneration === host.generation && host.generation > 0) return;
    lane.attachInFlight ??= host
      .request<TokenReport>({
        op: 'attach',
        token: this.name,
        selector: this.selector,
        sessions: this.sessions,
        ...(this.syncSign ? { syncSign: true } : {}),
      })
      .finally(() => {
        lane.attachInFlight = undefined;
      });
    await lane.attachInFlight;
    lane.attachedGeneration = host.generation;
  }

  /**
   * Logs in once per host generation. Concurrent operations share one login attempt, and
   * the logins of all lanes run one after the other (a second lane only once the first is
   * logged in), so a wrong PIN reaches the token exactly once however many requests arrive
   * together.
   */
  private ensureLogin(lane: Lane, requestPin?: string): Promise<void> {
    if (this.pin.perRequest) return this.login(lane, requestPin);
    lane.loginInFlight ??= (async (): Promise<void> => {
      if (lane !== this.primary) await this.ensureLogin(this.primary);
      const turn = this.loginChain.then(() => this.login(lane));
      this.loginChain = turn.catch(() => undefined);
      await turn;
    })().finally(() => {
      lane.loginInFlight = undefined;
    });
    return lane.loginInFlight;
  }

  private async login(lane: Lane, requestPin?: string): Promise<void> {
    await this.attach(lane);
    const host = lane.host;
    if (lane.loggedInGeneration === host.generation) return;
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
      await host.request<TokenReport>({ op: 'login', token: this.name, pin });
      log().info('token logged in', {
        token: this.name,
        ...(this.lanes.length > 1 ? { host: this.lanes.indexOf(lane) } : {}),
      });
      if (!this.pin.perRequest) this.loginProblem = undefined;
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
        this.loginProblem = this.pinRefused;
        throw this.pinRefused;
      }
      if (isNotaryHsmError(err) && err.code.startsWith('PIN_') && !this.pin.perRequest) {
        this.loginProblem = err;
      }
      throw err;
    }
    lane.loggedInGeneration = host.generation;
  }

  /** Runs a host request that needs a logged-in token; a lost login is restored once. */
  private withLogin<T>(
    req: HostRequest,
    requestPin?: string,
    anyLane = false,
    first = false,
  ): Promise<T> {
    return this.enqueue(
      (deadline, lane) =>
        lane.ready
          ? this.requestLoggedIn<T>(lane, req, requestPin, deadline)
          : this.ensureLogin(lane, requestPin).then(() =>
              this.requestLoggedIn<T>(lane, req, requestPin, deadline),
            ),
      req.op,
      anyLane,
      first,
    );
  }

  private requestLoggedIn<T>(
    lane: Lane,
    req: HostRequest,
    requestPin: string | undefined,
    deadline: number,
  ): Promise<T> {
    return lane.host.request<T>(req, deadline).catch(async (err: unknown) => {
      if (!isNotaryHsmError(err, 'NOT_LOGGED_IN')) throw err;
      lane.loggedInGeneration = -1;
      await this.ensureLogin(lane, requestPin);
      return lane.host.request<T>(req, deadline);
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
      !opts.contextPin,
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

  /** The text kept in a private data object on the token, or null when there is none. */
  readData(object: DataRef): Promise<string | null> {
    return this.withLogin({ op: 'readData', token: this.name, object });
  }

  /**
   * Keeps `value` in a private data object on the token (made on first use), ahead of the
   * queue: the answers to every waiting signature wait for it (the audit checkpoint).
   */
  async writeData(object: DataRef, value: string): Promise<void> {
    await this.withLogin(
      { op: 'writeData', token: this.name, object, value },
      undefined,
      false,
      true,
    );
  }

  /**
   * Opens the token at start: finds it and, unless its PIN comes with each request, logs
   * in with the configured PIN, so a wrong PIN or an absent token shows at once (in the
   * log and in readiness) rather than at the first signature. Resolves with the status.
   * throws: the token's codes (TOKEN_NOT_FOUND, TOKEN_NOT_PRESENT, PIN_INCORRECT, PIN_FINAL_TRY…)
   */
  async open(): Promise<TokenReport> {
    if (!this.pin.perRequest) {
      await this.enqueue((_deadline, lane) => this.ensureLogin(lane), 'login');
    }
    return this.status();
  }

  /** Presence, identity and PIN state; never logs in. */
  status(): Promise<TokenReport> {
    return this.enqueue(async (_deadline, lane) => {
      await this.attach(lane);
      const report = await lane.host.request<TokenReport>({ op: 'status', token: this.name });
      if (!report.present) for (const l of this.lanes) l.loggedInGeneration = -1;
      this.lastStatus = report;
      return report;
    }, 'status');
  }

  /** Every token the module sees (for `tokens` and diagnostics). */
  slots(): Promise<SlotReport[]> {
    return this.primary.host.request<SlotReport[]>({ op: 'slots' });
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
