/**
 * Entry point of a module host: a child process (forked with an IPC channel) or a
 * worker thread. It receives batches of HostMessages and answers each with a HostReply,
 * batching the replies that complete in the same turn of its event loop.
 *
 * Requests that use one of a token's sessions (sign, findKey, listKeys, generateKey) go
 * through the token's gate: at most `sessions` of them run at once (the count the token
 * was attached with), the others wait here in arrival order. A token owner may send more
 * than it has sessions (its `pipeline`), so that the next request is already here when a
 * session frees up instead of one IPC round trip later; the module never sees more than
 * before. A login waits for the token's running requests and runs alone. A request still
 * waiting at its deadline is answered TOKEN_TIMEOUT without reaching the module; when a
 * request finds the token or its reader gone (TOKEN_NOT_PRESENT, NO_READER), everything
 * waiting behind it for that token fails the same way at once.
 *
 * While requests wait, replies go out in chunks of REPLY_CHUNK as they complete, so the
 * owner can send the next ones while this host works through the rest.
 */
import { parentPort } from 'node:worker_threads';
import { NotaryHsmError } from '../../errors';
import {
  monotonicMs,
  type HostMessage,
  type HostReply,
  type HostRequest,
  type WireError,
} from './protocol';
import { ModuleRuntime } from './runtime';
import { packSignatures, unpackRequests, type WireMessage, type WireReply } from './sign-frames';

type Send = (replies: WireReply[]) => void;

/**
 * Replies sent at once while more requests wait (a reply message costs some 20-30 µs of
 * system time on each side; 16 keeps that under 2 µs a signature and the owner busy).
 */
const REPLY_CHUNK = 16;

/** One token's session requests: waiting (queue from head on) and running. */
interface Gate {
  readonly token: string;
  limit: number;
  running: number;
  /** A login is running: nothing else starts. */
  exclusive: boolean;
  queue: HostMessage[];
  head: number;
  /** pump() is running for this gate; `again`: a request completed meanwhile, look again. */
  pumping: boolean;
  again: boolean;
}

/** The token whose gate a request goes through, if it does. */
function gatedToken(req: HostRequest): string | undefined {
  switch (req.op) {
    case 'sign':
    case 'findKey':
    case 'listKeys':
    case 'generateKey':
    case 'login':
      return req.token;
    default:
      return undefined;
  }
}

function wireError(err: unknown): WireError {
  const e =
    err instanceof NotaryHsmError
      ? err
      : new NotaryHsmError(
          'PKCS11_ERROR',
          `module host failed: ${err instanceof Error ? err.name : 'error'}`,
        );
  return { code: e.code, message: e.message, details: { ...e.details } };
}

function serve(
  send: Send,
  onBatch: (handler: (batch: WireMessage[]) => void) => void,
  exit: () => void,
): void {
  const runtime = new ModuleRuntime();
  const gates = new Map<string, Gate>();
  /** Requests waiting in all gates. */
  let waiting = 0;
  let pending: WireReply[] = [];
  /** Signatures made, for the next reply message's signature frame. */
  let signatures: { id: number; sig: Uint8Array }[] = [];
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0 && signatures.length === 0) return;
    const out = pending;
    pending = [];
    if (signatures.length > 0) out.push(packSignatures(signatures));
    signatures = [];
    send(out);
  };
  const queued = (): void => {
    if (pending.length + signatures.length >= REPLY_CHUNK && waiting > 0) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const reply = (r: HostReply): void => {
    pending.push(r);
    queued();
  };

  /**
   * Runs a request; `done` (for gated ones) learns how it ended — in the same call when the
   * runtime answers synchronously (a signature on a token that signs synchronously).
   */
  const run = (m: HostMessage, done?: (error?: WireError) => void): void => {
    const { id, req } = m;
    const succeed = (value: unknown): void => {
      if (req.op === 'sign' && value instanceof Uint8Array) {
        signatures.push({ id, sig: value });
        queued();
      } else reply({ id, ok: true, value });
      done?.();
      if (req.op === 'shutdown') setImmediate(exit);
    };
    const fail = (err: unknown): void => {
      const error = wireError(err);
      reply({ id, ok: false, error });
      done?.(error);
    };
    let result: unknown;
    try {
      result = runtime.handle(req);
    } catch (err) {
      fail(err);
      return;
    }
    if (result instanceof Promise) result.then(succeed, fail);
    else succeed(result);
  };

  /**
   * Starts what the gate allows. Re-entrant calls (a request that completed synchronously
   * inside the loop) only ask the running loop to look again, so a batch of synchronous
   * signatures runs in one loop instead of one nested call per request.
   */
  const pump = (g: Gate): void => {
    if (g.pumping) {
      g.again = true;
      return;
    }
    g.pumping = true;
    do {
      g.again = false;
      startWaiting(g);
    } while (g.again);
    g.pumping = false;
    if (g.head === g.queue.length) {
      g.queue = [];
      g.head = 0;
    } else if (g.head >= 1024) {
      g.queue = g.queue.slice(g.head);
      g.head = 0;
    }
  };

  const startWaiting = (g: Gate): void => {
    while (g.head < g.queue.length && !g.exclusive) {
      const m = g.queue[g.head] as HostMessage;
      const login = m.req.op === 'login';
      if (login ? g.running > 0 : g.running >= g.limit) break;
      g.head++;
      waiting--;
      if (m.deadline !== undefined && monotonicMs() >= m.deadline) {
        const message = `token ${g.token} was busy until the request's deadline; it was not run`;
        reply({
          id: m.id,
          ok: false,
          error: { code: 'TOKEN_TIMEOUT', message, details: { token: g.token } },
        });
        continue;
      }
      g.running++;
      g.exclusive = login;
      run(m, (error) => {
        g.running--;
        if (login) g.exclusive = false;
        if (error?.code === 'TOKEN_NOT_PRESENT' || error?.code === 'NO_READER') {
          for (let i = g.head; i < g.queue.length; i++) {
            reply({ id: (g.queue[i] as HostMessage).id, ok: false, error });
          }
          waiting -= g.queue.length - g.head;
          g.head = g.queue.length;
        }
        pump(g);
      });
    }
  };

  const gateOf = (token: string): Gate => {
    let g = gates.get(token);
    if (!g) {
      g = {
        token,
        limit: 1,
        running: 0,
        exclusive: false,
        queue: [],
        head: 0,
        pumping: false,
        again: false,
      };
      gates.set(token, g);
    }
    return g;
  };

  onBatch((wire) => {
    const batch = unpackRequests(wire);
    // The whole batch is queued before the gates start it, so `waiting` counts what is
    // behind a request and replies leave in chunks while the host works through the rest
    // (a synchronous signature completes inside pump()). A request outside the gates
    // starts the gates queued so far first, to keep the batch's order.
    const touched = new Set<Gate>();
    const start = (): void => {
      for (const g of touched) pump(g);
      touched.clear();
    };
    for (const m of batch) {
      const req = m.req;
      if (req.op === 'attach') gateOf(req.token).limit = Math.max(1, req.sessions);
      const token = gatedToken(req);
      if (token === undefined) {
        start();
        run(m);
        continue;
      }
      const g = gateOf(token);
      g.queue.push(m);
      waiting++;
      touched.add(g);
    }
    start();
  });
}

if (parentPort) {
  const port = parentPort;
  serve(
    (r) => port.postMessage(r),
    (h) => port.on('message', h),
    () => port.close(),
  );
} else if (process.send) {
  serve(
    (r) => process.send?.(r),
    (h) => process.on('message', h as (m: unknown) => void),
    () => process.disconnect(),
  );
  process.on('disconnect', () => process.exit(0));
}
