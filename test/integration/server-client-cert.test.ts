/**
 * `--tlscert`/`--tlskey`: a client certificate for a Notary server that asks for one. The
 * real notary-server does not ask for client certificates itself; deployments that need
 * them put a TLS-terminating proxy in front of it, so the test does the same: a small
 * https proxy on 127.0.0.1 that requires a certificate from a test CA (made with openssl)
 * and forwards to the real notary-server. With the certificate the CLI reaches the
 * server (its own answer comes back); without one the handshake fails.
 *
 * Each case reads its own GUN and counts only the requests for it: the CLI asks for the
 * timestamp beside the root, so a request of an earlier case may still reach the proxy
 * after that case's CLI has exited.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { runCli } from '../helpers/run-cli';
import { issue, makeTestCa, type Issued, type TestCa } from '../helpers/test-ca';
import { makeTempDir } from '../helpers/tmp';

const GUN = 'localhost:5000/e2e/behind-proxy';
const GUN_NO_CERT = 'localhost:5000/e2e/behind-proxy-no-cert';

describe('a Notary server behind a proxy that requires client certificates', () => {
  let server: NotaryServer;
  let proxy: https.Server;
  let url: string;
  let ca: TestCa;
  let client: Issued;
  /** Paths of the requests the proxy forwarded. */
  const proxied: string[] = [];
  /** Handshakes the proxy refused. */
  let refused = 0;

  beforeAll(async () => {
    const dir = await makeTempDir('client-cert-');
    [server, ca] = await Promise.all([startNotaryServer(), makeTestCa(dir, 'proxy')]);
    const tls = await issue(ca, 'proxy', { subject: '/CN=proxy', ip: '127.0.0.1' });
    client = await issue(ca, 'reader', { subject: '/CN=reader' });
    const upstream = new URL(server.url);
    proxy = https.createServer(
      {
        cert: readFileSync(tls.cert),
        key: readFileSync(tls.key),
        ca: readFileSync(ca.cert),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        proxied.push(req.url ?? '');
        const out = http.request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: upstream.host },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        out.on('error', () => res.destroy());
        req.pipe(out);
      },
    );
    proxy.on('tlsClientError', () => refused++);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await server?.stop();
  });

  const list = (extra: string[], gun = GUN) =>
    runCli(['list', gun, '--server', url, '--tlscacert', ca.cert, ...extra], {});
  const forwardedFor = (gun: string) =>
    proxied.filter((path) => path.startsWith(`/v2/${gun}/`)).length;

  it("with --tlscert/--tlskey the server's own answer comes back through the proxy", async () => {
    const r = await list(['--tlscert', client.cert, '--tlskey', client.key]);
    // nothing is published under the GUN: notary-server's 404, not a TLS failure
    expect(r.errorCode).toBe('SERVER_NOT_FOUND');
    expect(forwardedFor(GUN)).toBeGreaterThan(0);
  });

  it('without a client certificate the TLS handshake fails', async () => {
    const before = refused;
    const r = await list([], GUN_NO_CERT);
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('SERVER_UNREACHABLE');
    expect(refused).toBeGreaterThan(before);
    expect(forwardedFor(GUN_NO_CERT)).toBe(0);
  });

  it('a certificate without its key is a usage error', async () => {
    const r = await list(['--tlscert', client.cert]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--tlscert and --tlskey go together/);
  });
});
