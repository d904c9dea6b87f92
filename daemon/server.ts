/**
 * Puts an app on a socket: `127.0.0.1:PORT`, `[::1]:PORT` or `unix:/path`. A TCP
 * address that is not loopback is refused unless TLS with client certificates is
 * configured — and that is not implemented yet, so today it is refused either way.
 * The handle's close() shuts down gracefully: stop accepting, close idle keep-alive
 * connections, let requests in flight finish (their connections close after the answer)
 * and, after a timeout, cut whatever is still open.
 */
import { lstatSync, chmodSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, isIP } from 'node:net';
import { NotaryHsmError } from '../src/errors';
import { isLoopbackIp } from './http/loopback';
import { defaultAllowedHosts, LOOPBACK_HOSTS } from './middleware/host-allowlist';
import { randomUUID } from 'node:crypto';

/** Where to listen (the configuration's `listen`). */
export type ListenAddress =
  { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface ListenOptions {
  /** `127.0.0.1:7468`, `[::1]:7468` or `unix:/run/notary-hsm/notary-hsmd.sock`; port 0 picks one. */
  address: string;
  /**
   * TLS with client certificates, required for a non-loopback address.
   * TODO: not implemented yet; any value is refused with CONFIG_INVALID.
   */
  tls?: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer };
  /** How long close() lets requests in flight finish (default 10 s). */
  shutdownTimeoutMs?: number;
  /** Mode of a Unix socket file (default 0o660: the daemon's user and group). */
  socketMode?: number;
}

/** A listening daemon. */
export interface ServerHandle {
  readonly server: Server;
  /** What is bound, with the port resolved: `127.0.0.1:41234`, `[::1]:7468`, `unix:/path`. */
  readonly address: string;
  /** The TCP port (undefined for a Unix socket). */
  readonly port?: number;
  /** Graceful shutdown; resolves when every connection is closed. Idempotent. */
  close(): Promise<void>;
}

const UNIX_PATH_MAX = 107;

function invalid(message: string, cause?: unknown): NotaryHsmError {
  return new NotaryHsmError('CONFIG_INVALID', message, cause === undefined ? {} : { cause });
}

/**
 * Parses a listen address.
 * throws: CONFIG_INVALID
 */
export function parseListenAddress(address: string): ListenAddress {
  if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length);
    if (path === '' || path.includes('\0')) throw invalid(`listen ${address}: no socket path`);
    if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
      throw invalid(`listen ${address}: a Unix socket path is at most ${UNIX_PATH_MAX} bytes`);
    }
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port > 65535) {
    throw invalid(
      `listen ${JSON.stringify(address)}: expected 127.0.0.1:PORT, [::1]:PORT or unix:/path`,
    );
  }
  if (m[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4) {
    throw invalid(`listen ${address}: the host must be an IP address (IPv6 in brackets)`);
  }
  return { kind: 'tcp', host, port };
}

/**
 * The Host allowlist for a listen address: the loopback names with its port (any port for
 * a Unix socket or port 0, where clients say `Host: localhost`), the address itself, and
 * `extra` (the configuration's `allowed_hosts`).
 * throws: CONFIG_INVALID for a bad address
 */
export function allowedHostsFor(address: string, extra: readonly string[] = []): string[] {
  const addr = parseListenAddress(address);
  const own =
    addr.kind === 'unix' || addr.port === 0
      ? [...LOOPBACK_HOSTS]
      : [...defaultAllowedHosts(addr.port), address.toLowerCase()];
  return [...new Set([...own, ...extra])];
}

function checkSecurity(addr: ListenAddress, opts: ListenOptions): void {
  if (opts.tls !== undefined) {
    throw invalid(
      'TLS with client certificates is not implemented yet (TODO); listen on loopback or a Unix socket',
    );
  }
  if (addr.kind === 'tcp' && !isLoopbackIp(addr.host)) {
    throw invalid(
      `listen ${opts.address}: a non-loopback address needs TLS with client certificates; use 127.0.0.1, [::1] or a Unix socket`,
    );
  }
}

/** Removes a stale socket file left by a crash; refuses one a live daemon still serves. */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw invalid(`listen unix:${path}: the path exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw invalid(`listen unix:${path}: another process is serving this socket`);
  unlinkSync(path);
}

/**
 * Listens with `app` (anything with Koa's `callback()`).
 * throws: CONFIG_INVALID (bad or non-loopback address, TLS requested, address in use)
 */
export async function listen(
  app: { callback(): (req: IncomingMessage, res: ServerResponse) => unknown },
  opts: ListenOptions,
): Promise<ServerHandle> {
  const addr = parseListenAddress(opts.address);
  checkSecurity(addr, opts);
  if (addr.kind === 'unix') await clearStaleSocket(addr.path);

  const handler = app.callback();
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const server = createServer((req, res) => {
    inFlight.add(res);
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      if (closing) server.closeIdleConnections();
    });
    void handler(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  // Requests Node's HTTP parser refuses never reach Koa: answer them in the API's own error
  // format, with a request ID, and close the connection.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      error: {
        code: tooLarge ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST',
        message: tooLarge ? 'request headers too large' : 'malformed HTTP request',
        requestId,
      },
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(invalid(`listen ${opts.address}: ${err.code ?? err.message}`, err));
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (addr.kind === 'unix') server.listen(addr.path, done);
    else server.listen({ host: addr.host, port: addr.port, exclusive: true }, done);
  });
  if (addr.kind === 'unix') chmodSync(addr.path, opts.socketMode ?? 0o660);

  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : undefined;
  const address =
    addr.kind === 'unix'
      ? opts.address
      : `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${port ?? addr.port}`;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      // Answers still being worked on close their connection once sent.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      const timer = setTimeout(
        () => server.closeAllConnections(),
        opts.shutdownTimeoutMs ?? 10_000,
      );
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closed;
  };

  return { server, address, ...(port === undefined ? {} : { port }), close };
}
