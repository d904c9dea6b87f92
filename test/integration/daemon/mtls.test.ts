/**
 * A signing host for remote runners, on loopback addresses: notary-hsmd listens on
 * 127.0.0.2 with TLS and client certificates (a test CA made here with openssl), and the
 * CI client's token is bound to its certificate subject. The CLI signs over
 * `--signer https://…` with `--signer-cert/--signer-key` (the CA from
 * NOTARY_HSM_SIGNER_CACERT) into a real notary-server; without a client certificate, with
 * one from another CA, with another client's certificate, or in plain HTTP it is refused
 * and nothing is published. A listener off loopback without TLS does not start.
 */
import { createHash } from 'node:crypto';
import { writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';
import { runCli } from '../../helpers/run-cli';
import { issue, makeTestCa, type Issued, type TestCa } from '../../helpers/test-ca';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/e2e/remote';
const HOST = '127.0.0.2';

function digestOf(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

describe('notary-hsmd over mutual TLS on a second loopback address', () => {
  let setup: DaemonSetup;
  let server: NotaryServer;
  let daemon: DaemonProcess;
  let ca: TestCa;
  let ci: Issued;
  let admin: Issued;
  let rogueCi: Issued;

  beforeAll(async () => {
    const dir = await makeTempDir('mtls-');
    [setup, server, ca] = await Promise.all([
      makeDaemonSetup(),
      startNotaryServer(),
      makeTestCa(dir, 'signing-host'),
    ]);
    const rogue = await makeTestCa(dir, 'rogue');
    const daemonCert = await issue(ca, 'daemon', { subject: '/CN=notary-hsmd', ip: HOST });
    ci = await issue(ca, 'ci', { subject: '/CN=ci-runner-1/O=acme' });
    admin = await issue(ca, 'admin', { subject: '/CN=admin-desk/O=acme' });
    rogueCi = await issue(rogue, 'rogue-ci', { subject: '/CN=ci-runner-1/O=acme' });
    const config = writeConfigVariant(setup, 'mtls.yaml', (doc) => {
      doc.tls = { cert: daemonCert.cert, key: daemonCert.key, client_ca: ca.cert };
      const client = doc.clients.find((c) => c.name === 'ci') as Record<string, unknown>;
      client.certificate = { subject: 'CN=ci-runner-1,O=acme' };
    });
    daemon = await startDaemonProcess(config, {}, { listen: `${HOST}:0`, scheme: 'https' });
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  function cli(args: string[], token: string, cert?: Issued, signer = daemon.url) {
    return runCli(
      [...args, ...(cert ? ['--signer-cert', cert.cert, '--signer-key', cert.key] : [])],
      {
        NOTARY_HSM_SIGNER: signer,
        NOTARY_HSM_SIGNER_CACERT: ca.cert,
        NOTARY_HSM_SERVER: server.url,
        NOTARY_HSM_TOKEN: token,
      },
    );
  }
  const sign = (tag: string): string[] => [
    'sign',
    `${GUN}:${tag}`,
    '--digest',
    `sha256:${digestOf(tag)}`,
    '--size',
    String(tag.length),
    '--role',
    'targets/ci',
  ];
  async function tags(): Promise<string[]> {
    const r = await runCli(['list', GUN, '--json'], { NOTARY_HSM_SERVER: server.url });
    expect(r.code).toBe(0);
    return (JSON.parse(r.out) as { targets: { name: string }[] }).targets.map((t) => t.name);
  }

  it('the daemon listens on the second loopback address with TLS', () => {
    expect(daemon.url).toMatch(/^https:\/\/127\.0\.0\.2:\d+$/);
  });

  it('admin inits and the CI runner signs, each with its client certificate', async () => {
    const init = await cli(
      ['init', GUN, '--root-key', 'root', '--delegation', 'targets/ci', '--delegation-key', 'ci'],
      setup.adminToken,
      admin,
    );
    expect(init.err).toBe('');
    expect(init.code).toBe(0);
    const r = await cli(sign('v1'), setup.ciToken, ci);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(await tags()).toEqual(['v1']);
  });

  it('without a client certificate the request is refused before the API: CLIENT_CERTIFICATE_REQUIRED', async () => {
    const r = await cli(sign('v2-no-cert'), setup.ciToken);
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('CLIENT_CERTIFICATE_REQUIRED');
  });

  it('a certificate from another CA is refused the same way', async () => {
    const r = await cli(sign('v2-rogue'), setup.ciToken, rogueCi);
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('CLIENT_CERTIFICATE_REQUIRED');
  });

  it("without the daemon's CA the client refuses the daemon's certificate", async () => {
    const r = await runCli(
      [...sign('v2-no-ca'), '--signer-cert', ci.cert, '--signer-key', ci.key],
      {
        NOTARY_HSM_SIGNER: daemon.url,
        NOTARY_HSM_SERVER: server.url,
        NOTARY_HSM_TOKEN: setup.ciToken,
      },
    );
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('DAEMON_TLS');
    expect(r.err).toMatch(/--signer-cacert/);
  });

  it("the CI token with another client's certificate is not accepted (bound to its subject)", async () => {
    const r = await cli(sign('v2-wrong-subject'), setup.ciToken, admin);
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('UNAUTHENTICATED');
  });

  it('plain HTTP to the TLS port is told to use https, at once (no retries), and nothing was published', async () => {
    const plain = daemon.url.replace(/^https:/, 'http:');
    // Default retries and timeout: a dropped request that were taken for a crash would be
    // retried for two minutes, past this test's own limit.
    const r = await runCli(sign('v2-plain'), {
      NOTARY_HSM_SIGNER: plain,
      NOTARY_HSM_SERVER: server.url,
      NOTARY_HSM_TOKEN: setup.ciToken,
    });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`notary-hsmd at ${plain.replace(/\/$/, '')} speaks TLS: use https://`);
    expect(r.err).toContain('[DAEMON_TLS]');
    expect(await tags()).toEqual(['v1']);
  });

  it('a listener off loopback without TLS does not start', async () => {
    // 192.0.2.0/24 is TEST-NET-1: the address is judged before anything is bound
    const config = writeConfigVariant(setup, 'open.yaml', (doc) => {
      doc.state_dir = 'state-open';
    });
    await expect(startDaemonProcess(config, {}, { listen: '192.0.2.10:7468' })).rejects.toThrow(
      /needs TLS with client certificates/,
    );
  });
});
