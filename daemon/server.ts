/**
 * Puts an app on a socket: `127.0.0.1:PORT`, `[::1]:PORT` or `unix:/path`, or with TLS
 * any TCP address. With `tls` the listener speaks only TLS and asks every client for a
 * certificate signed by the configured CA (mutual TLS): a request without one, or with
 * one from another CA, never reaches the app — it is answered 401
 * CLIENT_CERTIFICATE_REQUIRED and the connection closed; plain HTTP fails in the
 * handshake. A TCP address that is not loopback is refused unless TLS is configured.
 * The handle's close() shuts down gracefully: stop accepting, close idle keep-alive
 * connections, let requests in flight finish (their connections close after the answer)
 * and, after a timeout, cut whatever is still open.
 */
import { lstatSync, chmodSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { NotaryHsmError } from '../src/errors';
import { isLoopbackIp } from './http/loopback';
import type { InheritedSocket } from './systemd/listen-fds';
import { defaultAllowedHosts, LOOPBACK_HOSTS } from './middleware/host-allowlist';
import { randomUUID } from 'node:crypto';

/** Where to listen (the configuration's `listen`). */
export type ListenAddress =
  { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface ListenOptions {
  /** `127.0.0.1:7468`, `[::1]:7468` or `unix:/run/notary-hsm/notary-hsmd.sock`; port 0 picks one. */
  address: string;
  /**
   * TLS with client certificates (PEM: the daemon's chain and key, and the CA(s) client
   * certificates must chain to); required for a non-loopback address, TCP only.
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
 * a Unix socket or port 0, where clients say `Host: localhost`), the address itself (its
 * host on any port for port 0), and
 * `extra` (the configuration's `allowed_hosts`).
 * throws: CONFIG_INVALID for a bad address
 */
export function allowedHostsFor(address: string, extra: readonly string[] = []): string[] {
  const addr = parseListenAddress(address);
  const host = addr.kind === 'tcp' && addr.host.includes(':') ? `[${addr.host}]` : undefined;
  const own =
    addr.kind === 'unix'
      ? [...LOOPBACK_HOSTS]
      : addr.port === 0
        ? [...LOOPBACK_HOSTS, (host ?? addr.host).toLowerCase()] // the port is not known yet
        : [...defaultAllowedHosts(addr.port), address.toLowerCase()];
  return [...new Set([...own, ...extra])];
}

function checkSecurity(addr: ListenAddress, opts: ListenOptions): void {
  if (opts.tls !== undefined && addr.kind === 'unix') {
    throw invalid(
      `listen ${opts.address}: TLS is for a TCP listener; a Unix socket is guarded by its file permissions`,
    );
  }
  if (addr.kind === 'tcp' && !isLoopbackIp(addr.host) && opts.tls === undefined) {
    throw invalid(
      `listen ${opts.address}: a non-loopback address needs TLS with client certificates; use 127.0.0.1, [::1] or a Unix socket`,
    );
  }
}

/** An https server that requires client certificates. throws: CONFIG_INVALID for unusable PEM */
function tlsServer(
  opts: ListenOptions,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const tls = opts.tls as NonNullable<ListenOptions['tls']>;
  try {
    const server = createTlsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        requestCert: true,
        // Checked per request below, so that the client learns why in the API's error
        // format instead of a reset connection (which it would take for a restart and retry).
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        if (socket.authorized) {
          onRequest(req, res);
          return;
        }
        const why = String(socket.authorizationError ?? 'no client certificate');
        const requestId = randomUUID();
        const body = JSON.stringify({
          error: {
            code: 'CLIENT_CERTIFICATE_REQUIRED',
            message: `this listener needs a client certificate signed by its client CA (${why})`,
            requestId,
          },
        });
        res.writeHead(401, {
          'Content-Type': 'application/json; charset=utf-8',
          'X-Request-Id': requestId,
          Connection: 'close',
        });
        res.end(body);
      },
    );
    // https.Server has http.Server's request API (closeIdleConnections…), on a TLS socket
    return server;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw invalid(
      `listen ${opts.address}: the TLS certificate, key or client CA cannot be used: ${why}`,
      cause,
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
export async function listen(app: App, opts: ListenOptions): Promise<ServerHandle> {
  const addr = parseListenAddress(opts.address);
  checkSecurity(addr, opts);
  if (addr.kind === 'unix') await clearStaleSocket(addr.path);
  const handle = await serveOn(app, opts, (server, done) => {
    if (addr.kind === 'unix') server.listen(addr.path, done);
    else server.listen({ host: addr.host, port: addr.port, exclusive: true }, done);
  });
  if (addr.kind === 'unix') chmodSync(addr.path, opts.socketMode ?? 0o660);
  return handle;
}

/**
 * Serves on a socket systemd passed (socket activation). TLS, when configured, is put on
 * TCP sockets only; a TCP socket bound to a non-loopback address without TLS is refused
 * as a configured one would be (its address is read back once the server holds it).
 * throws: CONFIG_INVALID
 */
export async function listenInherited(
  app: App,
  socket: InheritedSocket,
  opts: Omit<ListenOptions, 'address'>,
): Promise<ServerHandle> {
  const where = `inherited socket ${socket.name} (fd ${socket.fd})`;
  const tls = socket.kind === 'tcp' ? opts.tls : undefined;
  const handle = await serveOn(app, { ...opts, address: where, tls }, (server, done) =>
    server.listen({ fd: socket.fd }, done),
  );
  if (handle.port !== undefined && tls === undefined) {
    const host = handle.address.replace(/^\[?([^\]]*)\]?:\d+$/, '$1');
    if (!isLoopbackIp(host)) {
      await handle.close();
      throw invalid(
        `${where} is bound to ${handle.address}: a non-loopback address needs TLS with client certificates`,
      );
    }
  }
  return handle;
}

type App = { callback(): (req: IncomingMessage, res: ServerResponse) => unknown };

/** Creates the server, lets `bind` put it on its socket, and returns its handle. */
async function serveOn(
  app: App,
  opts: ListenOptions,
  bind: (server: Server, done: () => void) => void,
): Promise<ServerHandle> {
  const handler = app.callback();
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight.add(res);
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      if (closing) server.closeIdleConnections();
    });
    void handler(req, res);
  };
  const server: Server =
    opts.tls === undefined ? createServer(onRequest) : tlsServer(opts, onRequest);
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
    bind(server, done);
  });

  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : undefined;
  const address =
    typeof bound === 'string'
      ? `unix:${bound}`
      : bound === null
        ? opts.address
        : `${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`;

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
