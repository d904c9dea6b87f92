/**
 * Registry token auth against a real notary-server configured with `"auth": {"type":
 * "token", …}` and a token service of the test's own on loopback (test/helpers/
 * token-issuer.ts), whose signing certificate is the server's `rootcertbundle`: `init`,
 * `sign` and `list` work with NOTARY_AUTH; wrong or missing credentials are refused with
 * SERVER_AUTH and nothing is published; tokens are fetched once per scope and fetched again
 * once the token service says they expired; no credential appears in any output or log
 * (the suite's own log is searched in global teardown).
 *
 * The token service's requests are told apart by scope (each names its repository) and
 * by their credentials: a CLI that fails may exit with a request of its own still on the
 * way to the token service, which must not be counted against the next case.
 */
import { createHash } from 'node:crypto';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { recordTestCredentials } from '../helpers/pin-registry';
import { runCli, type CliResult } from '../helpers/run-cli';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer';

const GUN = 'localhost:5000/e2e/authed';
const GUN_ANONYMOUS = `${GUN}-anonymous`;
const GUN_WRONG = `${GUN}-wrong`;
const USER = 'ci-robot';
const PASSWORD = 'Tr0ub4dor-3-horse-staple';
const WRONG = 'Tr0ub4dor-3-not-the-one';

const notaryAuth = (user: string, password: string): string =>
  Buffer.from(`${user}:${password}`).toString('base64');

function digestOf(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

describe('a notary-server that requires registry token auth', () => {
  let issuer: TokenIssuer;
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  const outputs: CliResult[] = [];

  beforeAll(async () => {
    recordTestCredentials(PASSWORD, WRONG, notaryAuth(USER, PASSWORD), notaryAuth(USER, WRONG));
    issuer = await startTokenIssuer({ username: USER, password: PASSWORD });
    server = await startNotaryServer({
      auth: {
        realm: issuer.realm,
        service: issuer.service,
        issuer: issuer.issuer,
        rootcertbundle: issuer.rootCertBundle,
      },
    });
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
    await issuer?.stop();
  });

  async function cli(args: string[], token: string, auth?: string): Promise<CliResult> {
    const r = await runCli(args, {
      NOTARY_HSM_SIGNER: daemon.url,
      NOTARY_HSM_SERVER: server.url,
      NOTARY_HSM_TOKEN: token,
      ...(auth === undefined ? {} : { NOTARY_AUTH: auth }),
    });
    outputs.push(r);
    return r;
  }

  const initArgs = (gun: string): string[] => [
    ...['init', gun, '--root-key', 'root'],
    ...['--delegation', 'targets/ci', '--delegation-key', 'ci'],
  ];
  /** The token service's requests for a repository's scopes, in order. */
  const requestsFor = (gun: string): TokenIssuer['requests'] =>
    issuer.requests.filter((r) => r.scope.startsWith(`repository:${gun}:`));
  const signArgs = (tag: string): string[] => [
    'sign',
    `${GUN}:${tag}`,
    '--digest',
    `sha256:${digestOf(tag)}`,
    '--size',
    String(tag.length),
    '--role',
    'targets/ci',
  ];

  it('without credentials the server is not reached beyond its challenge: SERVER_AUTH', async () => {
    const r = await cli(initArgs(GUN_ANONYMOUS), setup.adminToken);
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('SERVER_AUTH');
    expect(r.err).toMatch(/NOTARY_AUTH/);
    expect(requestsFor(GUN_ANONYMOUS).at(-1)).toMatchObject({ anonymous: true, granted: false });
  });

  it('with a wrong password init is refused with SERVER_AUTH, naming neither password', async () => {
    const r = await cli(initArgs(GUN_WRONG), setup.adminToken, notaryAuth(USER, WRONG));
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('SERVER_AUTH');
    expect(r.err).toMatch(/refused the credentials/);
    expect(requestsFor(GUN_WRONG).at(-1)).toMatchObject({ anonymous: false, granted: false });
  });

  it('a NOTARY_AUTH that is not base64 of user:password is a usage error that does not quote it', async () => {
    const r = await cli(['list', GUN], setup.adminToken, 'no-colon-here');
    expect(r.code).toBe(2);
    expect(r.errorCode).toBe('USAGE');
    expect(r.err).not.toMatch(/no-colon-here/);
  });

  it('init, sign and list work with NOTARY_AUTH; one token per scope serves every request', async () => {
    const before = issuer.requests.length;
    const auth = notaryAuth(USER, PASSWORD);
    const i = await cli([...initArgs(GUN), '--json'], setup.adminToken, auth);
    expect(i.err).toBe('');
    expect(i.code).toBe(0);
    const failedBefore = new Set([...requestsFor(GUN_ANONYMOUS), ...requestsFor(GUN_WRONG)]);
    const granted = issuer.requests.slice(before).filter((r) => !failedBefore.has(r));
    expect(granted.every((g) => g.granted)).toBe(true);
    // pull (metadata GETs), push and pull (server keys, the publish): one token for each
    // scope the server asked for, not one per request (init makes a dozen requests)
    const scopes = new Set(granted.map((g) => g.scope));
    expect(scopes.size).toBe(granted.length);
    expect([...scopes].every((s) => s.startsWith(`repository:${GUN}:`))).toBe(true);

    const s = await cli(signArgs('v1.0'), setup.ciToken, auth);
    expect(s.err).toBe('');
    expect(s.code).toBe(0);
    const l = await cli(['list', GUN, '--json'], setup.ciToken, auth);
    expect(l.code).toBe(0);
    expect((JSON.parse(l.out) as { targets: unknown[] }).targets).toEqual([
      expect.objectContaining({
        name: 'v1.0',
        digest: `sha256:${digestOf('v1.0')}`,
        role: 'targets/ci',
      }),
    ]);
  });

  it('a wrong password cannot sign: SERVER_AUTH and nothing is published', async () => {
    const r = await cli(signArgs('v2.0'), setup.ciToken, notaryAuth(USER, WRONG));
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('SERVER_AUTH');
    const l = await cli(['list', GUN, '--json'], setup.ciToken, notaryAuth(USER, PASSWORD));
    const names = (JSON.parse(l.out) as { targets: { name: string }[] }).targets.map((t) => t.name);
    expect(names).toEqual(['v1.0']);
  });

  it('a token the service says has expired is not used again: one fetch per request', async () => {
    const auth = notaryAuth(USER, PASSWORD);
    // the granted ones: the wrong-password sign before may still have one on the way
    const granted = (): number => requestsFor(GUN).filter((r) => r.granted).length;
    const fresh = granted();
    expect((await cli(['list', GUN], setup.ciToken, auth)).code).toBe(0);
    const withCache = granted() - fresh;
    issuer.staleIssuedAt = true;
    try {
      const stale = granted();
      expect((await cli(['list', GUN], setup.ciToken, auth)).code).toBe(0);
      const withoutCache = granted() - stale;
      expect(withCache).toBe(1);
      // list reads timestamp, snapshot, targets and targets/ci at least: each needs a token
      expect(withoutCache).toBeGreaterThanOrEqual(4);
    } finally {
      issuer.staleIssuedAt = false;
    }
  });

  it('no credential appears in any output, nor in the daemon or notary-server logs', () => {
    const secrets = [PASSWORD, WRONG, notaryAuth(USER, PASSWORD), notaryAuth(USER, WRONG)];
    const texts = [...outputs.flatMap((o) => [o.out, o.err]), daemon.output(), server.logs()];
    expect(outputs.length).toBeGreaterThan(5);
    for (const secret of secrets) {
      for (const text of texts) expect(text.includes(secret)).toBe(false);
    }
  });
});
