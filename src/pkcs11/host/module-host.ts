/**
 * The main-process side of a module host: starts the child process (or worker thread)
 * that owns one PKCS#11 module, sends it requests in batches, and resolves each request
 * with its reply. If the host dies (a module crash), pending requests fail with
 * MODULE_ERROR and the next request starts a new host, replaying `init` and every
 * `attach`; `generation` tells token owners that their login was lost with it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { NotaryHsmError, type ErrorCode } from '../../errors';
import { builtFile } from '../built-file';
import type { HostMessage, HostRequest } from './protocol';
import {
  packable,
  packSignRequests,
  unpackSignatures,
  type WireMessage,
  type WireReply,
} from './sign-frames';

export type HostKind = 'process' | 'worker';

export interface ModuleHostOptions {
  /** Path of the PKCS#11 module (.so). */
  module: string;
  /** Child process (default) or worker thread. */
  kind?: HostKind;
  /**
   * Environment of the host (e.g. SOFTHSM2_CONF); defaults to this process's. A worker
   * thread shares the process's C environment, so a module loaded there reads this
   * process's variables (getenv), not these: use the process host when tokens need
   * different environments.
   */
  env?: NodeJS.ProcessEnv;
}

/** Where the compiled host entry lives (running from dist/, or from sources under test). */
export function hostEntryPath(): string {
  const entry = builtFile(__dirname, 'entry.js');
  if (entry !== undefined) return entry;
  throw new NotaryHsmError('MODULE_ERROR', 'the module host is not built: run `make build`');
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Channel {
  send(batch: WireMessage[]): void;
  kill(): void;
  /** Keeps this process alive while requests are outstanding, and only then. */
  hold(active: boolean): void;
}

/** A batch as it goes on the wire: each run of PIN-less signature requests as one frame. */
function onTheWire(batch: HostMessage[]): WireMessage[] {
  const out: WireMessage[] = [];
  let run: HostMessage[] = [];
  const close = (): void => {
    if (run.length > 0) out.push(packSignRequests(run));
    run = [];
  };
  for (const m of batch) {
    if (packable(m)) {
      run.push(m);
      continue;
    }
    close();
    out.push(m);
  }
  close();
  return out;
}

export class ModuleHost {
  readonly module: string;
  readonly kind: HostKind;
  private readonly env: NodeJS.ProcessEnv;
  private channel?: Channel;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private outbox: HostMessage[] = [];
  private flushScheduled = false;
  private readonly replay: HostRequest[] = [];
  private closed = false;
  /** Increments every time a new host process starts (logins do not survive it). */
  generation = 0;

  constructor(opts: ModuleHostOptions) {
    this.module = opts.module;
    this.kind = opts.kind ?? 'process';
    this.env = opts.env ?? process.env;
    this.replay.push({ op: 'init', module: opts.module });
  }

  private start(): Channel {
    const entry = hostEntryPath();
    const onSignature = (id: number, sig: Buffer): void => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      p.resolve(sig);
    };
    const onReplies = (replies: WireReply[]): void => {
      for (const r of replies) {
        if (ArrayBuffer.isView(r)) {
          unpackSignatures(r, onSignature);
          continue;
        }
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r.value);
        else
          p.reject(
            new NotaryHsmError(r.error.code as ErrorCode, r.error.message, {
              details: r.error.details ?? {},
            }),
          );
      }
      if (this.pending.size === 0) channel.hold(false);
    };
    const onExit = (): void => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      const lost = [...this.pending.values()];
      this.pending.clear();
      for (const p of lost) {
        p.reject(
          new NotaryHsmError(
            'MODULE_ERROR',
            `the host of ${this.module} exited during the operation`,
          ),
        );
      }
    };
    let channel: Channel;
    if (this.kind === 'worker') {
      const w = new Worker(entry, { env: { ...this.env } });
      w.on('message', onReplies);
      w.on('exit', onExit);
      w.on('error', onExit);
      channel = {
        send: (b) => w.postMessage(b),
        kill: () => void w.terminate(),
        hold: (active) => (active ? w.ref() : w.unref()),
      };
    } else {
      const child: ChildProcess = fork(entry, [], {
        env: { ...this.env },
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (m) => onReplies(m as WireReply[]));
      child.on('exit', onExit);
      child.on('error', onExit);
      const ipc = child.channel as { ref?: () => void; unref?: () => void } | undefined;
      channel = {
        send: (b) => child.send(b),
        kill: () => child.kill('SIGKILL'),
        hold: (active) => {
          if (active) {
            child.ref();
            ipc?.ref?.();
          } else {
            child.unref();
            ipc?.unref?.();
          }
        },
      };
    }
    channel.hold(false);
    this.generation++;
    this.channel = channel;
    // Replay what the previous host knew, ahead of anything queued.
    this.outbox.unshift(...this.replay.map((req) => ({ id: this.track(), req })));
    return channel;
  }

  private track(): number {
    const id = this.nextId++;
    // Replayed requests are fire-and-forget: failures surface on the next real request.
    this.pending.set(id, { resolve: () => undefined, reject: () => undefined });
    return id;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0) return;
    const channel = this.channel ?? this.start();
    const batch = this.outbox;
    this.outbox = [];
    channel.hold(true);
    channel.send(onTheWire(batch));
  }

  /**
   * Sends one request; resolves with the host's answer. `deadline` (monotonicMs()) is when
   * the caller stops waiting: a session request still queued in the host by then never
   * reaches the module (it is answered TOKEN_TIMEOUT).
   * throws: whatever code the host reports; MODULE_ERROR if the host dies; TOKEN_SHUTDOWN after close()
   */
  request<T>(req: HostRequest, deadline?: number): Promise<T> {
    if (this.closed) {
      return Promise.reject(
        new NotaryHsmError('TOKEN_SHUTDOWN', `the host of ${this.module} is shut down`),
      );
    }
    if (
      req.op === 'attach' &&
      !this.replay.some((r) => r.op === 'attach' && r.token === req.token)
    ) {
      this.replay.push(req);
    }
    return new Promise<T>((resolvePromise, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolvePromise as (v: unknown) => void, reject });
      this.outbox.push(deadline === undefined ? { id, req } : { id, req, deadline });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  /** Logs out, closes sessions and finalises the module, then stops the host. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    if (this.channel) {
      const done = this.request({ op: 'shutdown' }).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
      await Promise.race([done, timeout]);
      clearTimeout(timer);
    }
    this.closed = true;
    this.channel?.kill();
    this.channel = undefined;
  }
}
