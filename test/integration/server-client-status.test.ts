/**
 * A download is a 200 with the file: a 201 or 204 with no body is SERVER_BAD_RESPONSE,
 * not an empty file. Found by generative fuzzing of the client's handling of server
 * answers. A real notary-server never answers a GET like this, so a loopback server of
 * the test's own does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotaryServerClient } from '../../src/notary/server-client';

describe('the Notary server client and 2xx answers that carry no file', () => {
  let status = 200;
  let server: Server;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': 0 });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([201, 202, 204])('a %i to a download is SERVER_BAD_RESPONSE', async (s) => {
    status = s;
    const port = (server.address() as AddressInfo).port;
    const client = new NotaryServerClient({ url: `http://127.0.0.1:${port}` });
    try {
      await expect(client.getCurrent('localhost:5000/fuzz/app', 'root')).rejects.toThrowWithCode(
        'SERVER_BAD_RESPONSE',
      );
    } finally {
      client.close();
    }
  });

  it('a 200 with an empty body still comes back as the (empty) bytes the server sent', async () => {
    status = 200;
    const port = (server.address() as AddressInfo).port;
    const client = new NotaryServerClient({ url: `http://127.0.0.1:${port}` });
    try {
      expect((await client.getCurrent('localhost:5000/fuzz/app', 'root')).length).toBe(0);
    } finally {
      client.close();
    }
  });
});
