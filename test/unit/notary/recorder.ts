/**
 * A tiny HTTP server on 127.0.0.1 for the client's unit tests: it records every request
 * (method, path, headers, body, client port) and answers with whatever the current handler
 * says. Tests set `handler` per case; close() ends it and every open connection.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  remotePort: number;
}

export type Handler = (req: Recorded, res: ServerResponse) => void;

export interface Recorder {
  readonly url: string;
  readonly requests: Recorded[];
  handler: Handler;
  close(): Promise<void>;
}

/** Answers 200 with an empty body. */
export const emptyOk: Handler = (_req, res) => res.end();

/** Answers `status` with a JSON body. */
export function json(status: number, value: unknown): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(value) + '\n');
  };
}

export async function startRecorder(): Promise<Recorder> {
  const requests: Recorded[] = [];
  const rec: Recorder = { url: '', requests, handler: emptyOk, close: () => Promise.resolve() };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Recorded = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        remotePort: req.socket.remotePort ?? 0,
      };
      requests.push(r);
      rec.handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return Object.assign(rec, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
