/**
 * A small static HTTP server on 127.0.0.1 that answers Notary's trust-data routes
 * (`GET /v2/<gun>/_trust/tuf/<file>`) from a table the test fills: file bytes, or a
 * misbehaving answer — a body far beyond any bound (with or without Content-Length), or
 * a slow drip that never ends. Anything not in the table is a 404 in notary-server's
 * error format. It plays the compromised server or mirror of the attack tests; the
 * files it serves are real repositories' files, mutated or re-signed by the test.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/** What one file answers. */
export type StaticAnswer =
  | Buffer
  /** `bytes` of padding after a JSON prefix; with `declared`, a Content-Length saying so. */
  | { readonly oversized: number; readonly declared: boolean }
  /** One byte every `everyMs`, forever (until the client gives up). */
  | { readonly drip: { readonly everyMs: number } };

export interface StaticTrustServer {
  readonly url: string;
  /** Answers by file name below `_trust/tuf/`, e.g. `root.json`, `2.root.json`, `targets.<sha256>.json`. */
  readonly files: Map<string, StaticAnswer>;
  /** Every file asked for, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

const NOT_FOUND = JSON.stringify({
  errors: [
    {
      code: 'METADATA_NOT_FOUND',
      message: 'You have requested metadata that does not exist.',
      detail: {},
    },
  ],
});

function fileOf(url: string): string | undefined {
  const path = decodeURIComponent(new URL(url, 'http://x').pathname);
  const at = path.indexOf('/_trust/tuf/');
  return path.startsWith('/v2/') && at > 0 ? path.slice(at + '/_trust/tuf/'.length) : undefined;
}

function answer(res: http.ServerResponse, a: StaticAnswer, timers: Set<NodeJS.Timeout>): void {
  if (Buffer.isBuffer(a)) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': a.length });
    res.end(a);
    return;
  }
  if ('oversized' in a) {
    const body = Buffer.concat([Buffer.from('{"signed":'), Buffer.alloc(a.oversized, 0x20)]);
    res.writeHead(200, a.declared ? { 'content-length': body.length } : {});
    res.end(body);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }); // chunked, no length
  res.write('{');
  const timer = setInterval(() => {
    if (res.destroyed || res.writableEnded) {
      clearInterval(timer);
      timers.delete(timer);
      return;
    }
    res.write(' ');
  }, a.drip.everyMs);
  timers.add(timer);
  res.on('close', () => {
    clearInterval(timer);
    timers.delete(timer);
  });
}

/** Starts the server on a free loopback port. */
export async function startStaticTrustServer(): Promise<StaticTrustServer> {
  const files = new Map<string, StaticAnswer>();
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const file = req.method === 'GET' && req.url ? fileOf(req.url) : undefined;
    if (req.method === 'GET' && req.url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    if (file !== undefined) requests.push(file);
    const a = file === undefined ? undefined : files.get(file);
    if (a === undefined) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(NOT_FOUND);
      return;
    }
    answer(res, a, timers);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
