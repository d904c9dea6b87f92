/**
 * A loopback HTTP proxy in front of a test notary-server that fails publishes on demand:
 * every request is forwarded as it is, except a publish (`POST …/_trust/tuf/`), which the
 * test's `onPublish` decides about — forward it, answer 503 (or any canned answer) without
 * forwarding, reset the connection before forwarding or after the server answered (the
 * server stored it, the client never hears), hold it without ever forwarding (a hang), or
 * run something first (another writer publishing between our fetch and our publish) and
 * then forward.
 * Counts what it saw, so tests can assert that the faults really happened.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do with one publish. */
export type PublishAction =
  | 'forward'
  | '503'
  | 'reset-before'
  | 'reset-after'
  | 'hang'
  | { before: () => Promise<void> }
  | { status: number; body: string };

export interface FaultProxy {
  readonly url: string;
  /** Decides each publish; `n` counts the publishes in `seen` (clear it to start over). */
  onPublish: (n: number) => PublishAction;
  /** Publishes seen, and what was done with each. */
  readonly seen: PublishAction[];
  close(): Promise<void>;
}

function isPublish(req: http.IncomingMessage): boolean {
  return req.method === 'POST' && /\/_trust\/tuf\/?$/.test(req.url ?? '');
}

/** Starts a proxy on 127.0.0.1 (a free port) in front of `upstream` (an http URL). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const held = new Set<http.ServerResponse>();
  const seen: PublishAction[] = [];

  const forward = (
    req: http.IncomingMessage,
    body: Buffer,
    res: http.ServerResponse,
    after: 'answer' | 'reset',
  ): void => {
    const up = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
      },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          if (after === 'reset') {
            res.socket?.destroy();
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    up.on('error', () => res.socket?.destroy());
    up.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!isPublish(req)) {
        forward(req, body, res, 'answer');
        return;
      }
      const action = proxy.onPublish(seen.length);
      seen.push(action);
      if (action === 'forward') forward(req, body, res, 'answer');
      else if (action === 'reset-after') forward(req, body, res, 'reset');
      else if (action === 'reset-before') res.socket?.destroy();
      else if (action === '503') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('503 Service Unavailable (test proxy)\n');
      } else if (action === 'hang') {
        held.add(res);
      } else if ('status' in action) {
        res.writeHead(action.status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(action.body);
      } else {
        void action.before().then(
          () => forward(req, body, res, 'answer'),
          () => res.socket?.destroy(),
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${port}`,
    onPublish: () => 'forward',
    seen,
    close: async () => {
      for (const res of held) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
