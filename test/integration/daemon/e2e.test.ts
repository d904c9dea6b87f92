/**
 * End to end on real components: notary-hsmd on a SoftHSM2 token → `notary-hsm init`
 * (root certificate from a token key, a targets/ci delegation) by the admin client →
 * `notary-hsm sign` by the CI-scoped client into the delegation → the stock notary CLI,
 * with a fresh trust dir, lists the tag with the right digest and size; the same after a
 * daemon restart; and the audit log verifies.
 */
import { createHash } from 'node:crypto';
import { main } from '../../../src/cli/main';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { notaryCli, parseNotaryList } from '../../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';

const GUN = 'localhost:5000/e2e/app';

function cli(env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env },
    out,
    err,
  };
}

function digestOf(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

describe('notary-hsmd end to end', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    server = await startNotaryServer();
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  const env = (token: string): NodeJS.ProcessEnv => ({
    NOTARY_HSM_SIGNER: daemon.url,
    NOTARY_HSM_SERVER: server.url,
    NOTARY_HSM_TOKEN: token,
  });

  async function notaryList(): Promise<ReturnType<typeof parseNotaryList>> {
    const n = await notaryCli(server); // fresh trust dir each time
    return parseNotaryList((await n.run(['list', GUN])).stdout);
  }

  it('admin inits the repository with a token-signed root certificate and a targets/ci delegation', async () => {
    const c = cli(env(setup.adminToken));
    const code = await main(
      [
        'init',
        GUN,
        '--root-key',
        'root',
        '--delegation',
        'targets/ci',
        '--delegation-key',
        'ci',
        '--json',
      ],
      c.io,
    );
    expect(c.err.join('')).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(c.out.join('')) as { rootKeyIds: string[]; delegations: string[] };
    expect(out.delegations).toEqual(['targets/ci']);
    expect(out.rootKeyIds[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('init names both IDs of a root key: the certificate key ID of root.json and the canonical one keys list shows', async () => {
    const gun = 'localhost:5000/e2e/ids';
    const c = cli(env(setup.adminToken));
    expect(await main(['init', gun, '--root-key', 'root'], c.io)).toBe(0);
    const text = c.out.join('\n');
    const cert = /certificate key ID ([0-9a-f]{64})/.exec(text)?.[1];
    const canonical = /canonical key ID +([0-9a-f]{64})/.exec(text)?.[1];
    const k = cli(env(setup.adminToken));
    expect(await main(['keys', 'list', '--json'], k.io)).toBe(0);
    const { keys } = JSON.parse(k.out.join('')) as { keys: { name: string; keyId: string }[] };
    expect(canonical).toBe(keys.find((x) => x.name === 'root')?.keyId);
    expect(cert).toBeDefined();
    expect(cert).not.toBe(canonical);
    // root.json as the server serves it lists the root key under the certificate key ID.
    const root = (await (await fetch(`${server.url}/v2/${gun}/_trust/tuf/root.json`)).json()) as {
      signed: { roles: { root: { keyids: string[] } } };
    };
    expect(root.signed.roles.root.keyids).toEqual([cert]);
  });

  it('the CI client signs a tag into targets/ci and notary lists it with its digest and size', async () => {
    const c = cli(env(setup.ciToken));
    const logBefore = daemon.output().length;
    const code = await main(
      [
        'sign',
        `${GUN}:v1.4`,
        '--digest',
        `sha256:${digestOf('manifest v1.4')}`,
        '--size',
        '13',
        '--role',
        'targets/ci',
      ],
      c.io,
    );
    expect(c.err.join('')).toBe('');
    expect(code).toBe(0);
    expect(await notaryList()).toEqual([
      { name: 'v1.4', digest: digestOf('manifest v1.4'), size: 13, role: 'targets/ci' },
    ]);
    // The daemon's keys for the repository were asked for once (while the repository was
    // read) and that answer was used: no second request.
    const keyRequests = daemon
      .output()
      .slice(logBefore)
      .split('\n')
      .filter((l) => l.includes('"path":"/v1/keys"'));
    expect(keyRequests).toHaveLength(1);
  });

  it("the CI client may not sign the top-level targets (its key is not the repository's), nor a tag outside its patterns", async () => {
    const top = cli(env(setup.ciToken));
    expect(
      await main(
        ['sign', `${GUN}:v2`, '--digest', `sha256:${digestOf('x')}`, '--size', '1'],
        top.io,
      ),
    ).toBe(1);
    // The client sees that the repository's targets key is not one the daemon holds for
    // it, and asks for nothing (so nothing is audited for it).
    expect(top.err.join('')).toMatch(/KEY_NOT_HELD/);
    const outside = cli(env(setup.ciToken));
    expect(
      await main(
        [
          'sign',
          `${GUN}:latest`,
          '--digest',
          `sha256:${digestOf('x')}`,
          '--size',
          '1',
          '--role',
          'targets/ci',
        ],
        outside.io,
      ),
    ).toBe(1);
    expect(outside.err.join('')).toMatch(/TARGET_OUTSIDE_PATHS/);
    expect((await notaryList()).map((t) => t.name)).toEqual(['v1.4']);
  });

  it('after a daemon restart the CI client signs again, and notary lists both tags', async () => {
    expect(await daemon.stop()).toBe(0);
    daemon = await startDaemonProcess(setup.config);
    const c = cli(env(setup.ciToken));
    expect(
      await main(
        [
          'sign',
          `${GUN}:v1.5`,
          '--digest',
          `sha256:${digestOf('manifest v1.5')}`,
          '--size',
          '13',
          '--role',
          'targets/ci',
        ],
        c.io,
      ),
    ).toBe(0);
    expect(await notaryList()).toEqual([
      { name: 'v1.4', digest: digestOf('manifest v1.4'), size: 13, role: 'targets/ci' },
      { name: 'v1.5', digest: digestOf('manifest v1.5'), size: 13, role: 'targets/ci' },
    ]);
  });

  it('/metrics shows requests by route and code, token operation latency and queue depth', async () => {
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    expect(text).toMatch(/route="\/v1\/sign\/delegation"/);
    expect(text).toMatch(
      /token_operation_duration_seconds_count\{[^}]*token="soft"[^}]*operation="sign"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/queue_depth\{[^}]*token="soft"/);
  });

  it('the audit log verifies and records every decision, refusals included', async () => {
    const v = cli({});
    expect(await main(['audit', 'verify', '--state-dir', setup.stateDir], v.io)).toBe(0);
    const s = cli({});
    expect(await main(['audit', 'show', '--state-dir', setup.stateDir, '--json'], s.io)).toBe(0);
    const records = s.out
      .join('\n')
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as { outcome: string; code?: string; endpoint: string; client: string },
      );
    expect(
      records
        .filter((r) => r.outcome === 'refused')
        .map((r) => r.code)
        .sort(),
    ).toEqual(['TARGET_OUTSIDE_PATHS']);
    expect(
      records.filter((r) => r.outcome === 'signed' && r.client === 'ci').map((r) => r.endpoint),
    ).toEqual(['sign/delegation', 'sign/delegation']);
  });
});
