/**
 * A free TCP port on 127.0.0.1: listen on port 0, read the port the kernel chose, close.
 * Another process can take the port before it is used, so callers that start servers
 * retry on "address already in use" (notary-server.ts does).
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
