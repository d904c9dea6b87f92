/**
 * A small HTTP(S) request helper on node:http / node:https for the Notary server client:
 * one keep-alive agent per client (with an optional custom CA for https), an overall
 * deadline per request, and response bodies bounded by a byte count — a success body
 * beyond its bound aborts the request with SERVER_RESPONSE_TOO_LARGE as soon as
 * Content-Length or the streamed bytes say so, an error body is cut at its bound and kept.
 * Connection and TLS failures become SERVER_UNREACHABLE; a request (or an answer that
 * never ends) past its deadline becomes SERVER_TIMEOUT. It knows nothing about
 * Notary paths or error bodies; server-client.ts does.
 */
import * as http from 'node:http';
import type * as Https from 'node:https';
import { NotaryHsmError } from '../errors';

/** Where to send requests and how to reach it. */
export interface HttpTransportOptions {
  /** CA certificate(s), PEM, that replace the system CA list for https (a private server's CA). */
  ca?: Buffer | string;
  /** A client certificate chain and its key, PEM, for servers that ask for one (mutual TLS). */
  cert?: Buffer | string;
  key?: Buffer | string;
  /**
   * A Unix socket to send every request through (plain HTTP, `Host: localhost`); the
   * URL then only supplies the path.
   */
  socketPath?: string;
  /** Deadline for one whole request (connect, send, receive), in milliseconds. */
  timeoutMs: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: URL;
  headers?: Readonly<Record<string, string>>;
  /** The body, or its parts in order (sent one after the other, never joined). */
  body?: Uint8Array | readonly Uint8Array[];
  /** Bound on a 2xx body; a longer one fails with SERVER_RESPONSE_TOO_LARGE. */
  maxBytes: number;
  /** Bound on a non-2xx body; a longer one is truncated, not an error. */
  maxErrorBytes: number;
  /** A deadline for this request, when shorter than the transport's. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** True when a non-2xx body was cut at maxErrorBytes. */
  truncated: boolean;
}

/** The URL without credentials or query, safe to put into messages. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Parses and checks a server base URL: absolute, http or https. throws: USAGE */
export function parseServerUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new NotaryHsmError(
      'USAGE',
      `not a URL: ${JSON.stringify(raw)}; give the Notary server as https://host:port`,
      { cause },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new NotaryHsmError(
      'USAGE',
      `unsupported scheme ${url.protocol} in ${displayUrl(url)}; use http:// or https://`,
    );
  }
  return url;
}

const TLS_HINT = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/;

function unreachable(message: string, where: string, cause?: unknown, extra = {}): NotaryHsmError {
  return new NotaryHsmError('SERVER_UNREACHABLE', message, {
    ...(cause === undefined ? {} : { cause }),
    details: { url: where, ...extra },
  });
}

/** node:https (and TLS under it), loaded for the first https request: plain HTTP needs neither. */
function loadHttps(): typeof Https {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, not at start-up
  return require('node:https') as typeof Https;
}

/** Sends HTTP requests over one keep-alive agent per scheme; `close()` ends idle sockets. */
export class HttpTransport {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private httpsAgent: Https.Agent | undefined;
  private readonly tls: Pick<HttpTransportOptions, 'ca' | 'cert' | 'key'>;
  private readonly timeoutMs: number;
  private readonly socketPath: string | undefined;

  constructor(opts: HttpTransportOptions) {
    if ((opts.cert === undefined) !== (opts.key === undefined)) {
      throw new NotaryHsmError(
        'USAGE',
        'a client certificate needs its key, and a key its certificate',
      );
    }
    this.tls = {
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
      ...(opts.cert === undefined ? {} : { cert: opts.cert, key: opts.key }),
    };
    this.timeoutMs = opts.timeoutMs;
    this.socketPath = opts.socketPath;
  }

  /** Sends one request. throws: SERVER_UNREACHABLE, SERVER_TIMEOUT, SERVER_RESPONSE_TOO_LARGE, USAGE */
  request(req: HttpRequest): Promise<HttpResponse> {
    const { url, method } = req;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new NotaryHsmError('USAGE', `unsupported scheme ${url.protocol}`));
    }
    const isHttps = url.protocol === 'https:' && this.socketPath === undefined;
    const where =
      this.socketPath === undefined ? displayUrl(url) : `unix:${this.socketPath}${url.pathname}`;
    const timeoutMs = Math.min(this.timeoutMs, req.timeoutMs ?? this.timeoutMs);
    const headers: Record<string, string> = { 'user-agent': 'notary-hsm', ...req.headers };
    const parts =
      req.body === undefined ? [] : req.body instanceof Uint8Array ? [req.body] : req.body;
    if (req.body !== undefined) {
      headers['content-length'] = String(parts.reduce((n, p) => n + p.byteLength, 0));
    }

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | undefined, res?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err !== undefined || res?.truncated) clientReq.destroy(); // never reuse a half-read socket
        if (err !== undefined) reject(err);
        else if (res !== undefined) resolve(res);
      };
      const timer = setTimeout(() => {
        const msg = `no answer from the Notary server within ${timeoutMs} ms (${method} ${where}); check that the server is up or raise the timeout`;
        settle(new NotaryHsmError('SERVER_TIMEOUT', msg, { details: { url: where, timeoutMs } }));
      }, timeoutMs);

      const https = isHttps ? loadHttps() : undefined;
      if (https !== undefined)
        this.httpsAgent ??= new https.Agent({ keepAlive: true, ...this.tls });
      const clientReq =
        this.socketPath === undefined
          ? https !== undefined
            ? https.request(url, { method, headers, agent: this.httpsAgent })
            : http.request(url, { method, headers, agent: this.httpAgent })
          : http.request({
              socketPath: this.socketPath,
              path: url.pathname + url.search,
              method,
              headers: { host: 'localhost', ...headers },
              agent: this.httpAgent,
            });
      clientReq.on('error', (cause: NodeJS.ErrnoException) => {
        const code = cause.code ?? 'unknown';
        const hint = TLS_HINT.test(code)
          ? "the TLS handshake failed: pass the server's CA certificate, and a client certificate if the server asks for one"
          : 'check the URL and that the server is running';
        const msg = `cannot reach the Notary server at ${where}: ${cause.message}; ${hint}`;
        settle(unreachable(msg, where, cause, { errorCode: code }));
      });

      clientReq.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const bound = ok ? req.maxBytes : req.maxErrorBytes;
        const tooLarge = (seen: number): NotaryHsmError =>
          new NotaryHsmError(
            'SERVER_RESPONSE_TOO_LARGE',
            `the Notary server's answer to ${method} ${where} is larger than ${bound} bytes (${seen} seen); refusing to read it`,
            { details: { url: where, maxBytes: bound, seen } },
          );
        const declared = Number(res.headers['content-length']);
        if (ok && Number.isFinite(declared) && declared > bound) return settle(tooLarge(declared));

        const chunks: Buffer[] = [];
        let length = 0;
        const done = (truncated: boolean): void =>
          settle(undefined, {
            status,
            headers: res.headers,
            body: Buffer.concat(chunks),
            truncated,
          });
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          if (length + chunk.length > bound) {
            if (ok) return settle(tooLarge(length + chunk.length));
            chunks.push(chunk.subarray(0, bound - length)); // error bodies are cut, not refused
            return done(true);
          }
          chunks.push(chunk);
          length += chunk.length;
        });
        res.on('end', () => done(false));
        res.on('close', () => {
          if (res.complete) return;
          const msg = `the Notary server closed the connection during its answer to ${method} ${where}; try again`;
          settle(unreachable(msg, where));
        });
        res.on('error', (cause) =>
          settle(
            unreachable(
              `reading the answer to ${method} ${where} failed: ${cause.message}`,
              where,
              cause,
            ),
          ),
        );
      });

      for (const part of parts) clientReq.write(part);
      clientReq.end();
    });
  }

  /** Closes idle keep-alive sockets; later requests open new ones. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }
}
