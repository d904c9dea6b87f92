/**
 * A reference for bench/daemon.ts: the bare node:http server, in a process of its own,
 * answering every POST with a canned signature after reading and JSON-parsing the body —
 * no Koa, no policy, no audit, no token. The same load generator against it shows what
 * HTTP alone costs on this machine, and so the most any Node HTTP daemon could sign here.
 * GET (any path) answers `{"status":"ok"}`, as /healthz does, for the idle-polling
 * reference. Forked by the bench; it sends `{ url }` once listening and exits when
 * disconnected.
 */
import { createServer } from 'node:http';

const OK = Buffer.from(JSON.stringify({ status: 'ok' }));
const ANSWER = Buffer.from(
  JSON.stringify({
    signatures: [{ keyid: '0'.repeat(64), method: 'ecdsa', sig: 'A'.repeat(88) }],
  }),
);

if (process.send) {
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': OK.length });
      res.end(OK);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let status = 200;
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        status = 400;
      }
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': ANSWER.length,
      });
      res.end(ANSWER);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.send?.({ url: `http://127.0.0.1:${port}` });
  });
  process.on('disconnect', () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  });
}
