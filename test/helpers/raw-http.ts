/**
 * Plain HTTP/1.1 requests to a daemon on 127.0.0.1, with full control over what goes on
 * the wire: any header (or none), raw body bytes with a Content-Length, or a chunked body
 * with no length at all. A body is written piece by piece and writing stops as soon as
 * the server has answered, so a server that refuses a large body early (413 and
 * `Connection: close`) is read reliably instead of racing a reset connection.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  /** Sent exactly as given (no defaults besides Host). */
  readonly headers?: Readonly<Record<string, string | number>>;
  /** The body; sent with Content-Length unless `chunked`. */
  readonly body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  readonly chunked?: boolean;
  /** Keep-alive agent to reuse (default: a fresh connection). */
  readonly agent?: Agent;
  readonly timeoutMs?: number;
  /**
   * For a large body: after the headers, wait this long for an answer before sending the
   * body (a server that refuses from the headers alone answers at once).
   */
  readonly earlyAnswerMs?: number;
  /** For a large body: stop after this many bytes and let the server answer first. */
  readonly pauseAfterBytes?: number;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

const PIECE = 64 * 1024;
const PAUSE_MS = 5_000;

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}

/** A keep-alive agent for many small requests to one daemon. */
export function keepAliveAgent(maxSockets = 16): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

/**
 * Sends one request to `base` (`http://127.0.0.1:PORT`) and resolves with the answer.
 * rejects: when the connection fails before any answer arrives, or on timeout
 */
export function rawRequest(base: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers: Record<string, string | number> = { ...(req.headers ?? {}) };
  if (body !== undefined) {
    if (req.chunked) headers['Transfer-Encoding'] = 'chunked';
    else headers['Content-Length'] = body.length;
  }
  return new Promise<RawResponse>((resolve, reject) => {
    let answered = false;
    let settled = false;
    const settle = (err: Error | undefined, res?: RawResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res as RawResponse);
    };
    const r = request({
      host: url.hostname,
      port: url.port,
      method: req.method,
      path: req.path,
      headers,
      agent: req.agent ?? false,
    });
    const timer = setTimeout(() => {
      r.destroy(new Error(`${req.method} ${req.path}: no answer in ${req.timeoutMs ?? 30_000} ms`));
    }, req.timeoutMs ?? 30_000);
    r.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        settle(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        });
        // A body we stopped writing leaves the request open: drop its connection.
        if (!r.writableFinished) r.destroy();
      });
      res.on('error', (err) => settle(err));
    });
    r.on('error', (err) => {
      // Errors after the answer (EPIPE / ECONNRESET on the unread rest of a refused
      // body) change nothing about the answer.
      if (!answered) settle(err);
    });
    if (body === undefined) {
      r.end();
      return;
    }
    if (body.length <= PIECE) {
      r.end(body);
      return;
    }
    void (async () => {
      r.flushHeaders();
      const answer = new Promise<void>((done) => {
        r.once('response', () => done());
        r.once('close', () => done());
      });
      const waitForAnswer = (ms: number): Promise<void> =>
        ms <= 0 ? Promise.resolve() : Promise.race([answer, delay(ms)]);
      await waitForAnswer(req.earlyAnswerMs ?? 0);
      let paused = req.pauseAfterBytes === undefined;
      for (let off = 0; off < body.length && !answered && !r.destroyed; off += PIECE) {
        if (!paused && off >= (req.pauseAfterBytes ?? 0)) {
          // The server has all it needs to refuse the body: let it answer before more
          // bytes go out (a write after its close would reset the connection).
          paused = true;
          await waitForAnswer(PAUSE_MS);
          if (answered || r.destroyed) break;
        }
        if (!r.write(body.subarray(off, off + PIECE))) {
          await Promise.race([answer, new Promise<void>((done) => r.once('drain', done))]);
        }
      }
      if (!answered && !r.destroyed) r.end();
    })();
  });
}
