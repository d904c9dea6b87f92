/**
 * Many CI agents at once, on real components: notary-hsmd on SoftHSM2, a real
 * notary-server, the stock notary CLI, and the built `notary-hsm` binary.
 *
 * 24 `notary-hsm sign` processes started together, from 4 clients into 2 delegations of
 * one repository (two clients per delegation): every one exits 0, and the stock
 * `notary list` shows all 24 tags with their digests, sizes and roles. Three rounds, so
 * a lucky ordering cannot make it pass.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DaemonClient } from '../../src/client/daemon-client';
import { initRepository } from '../../src/client/publish';
import { daemonSigning } from '../../src/client/signing';
import { NotaryServerClient } from '../../src/notary';
import { daemonKeys } from '../helpers/daemon-api';
import { newClient, writeConfigVariant } from '../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { notaryCli, parseNotaryList } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';

const GUN = `localhost:5000/e2e/monorepo-${Date.now().toString(36)}`;
const BIN = join(__dirname, '..', '..', 'bin', 'notary-hsm');
const SIGNERS = 24;
const ROUNDS = 3;

const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('24 CI agents signing into one repository at once', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  const tokens: { token: string; role: string }[] = [];

  beforeAll(async () => {
    server = await startNotaryServer();
    setup = await makeDaemonSetup({
      ciPaths: ['**'],
      extraKeys: [
        {
          name: 'qa',
          id: '04',
          role: 'delegation',
          guns: ['localhost:5000/e2e/*'],
          delegation: { roles: ['targets/qa'], paths: ['**'] },
        },
      ],
    });
    const scope = (key: string, role: string) => [
      {
        kind: 'delegation',
        keys: [key],
        guns: ['localhost:5000/e2e/*'],
        roles: [role],
        paths: ['**'],
      },
    ];
    const clients = [
      newClient('ci-2', scope('ci', 'targets/ci')),
      newClient('qa-1', scope('qa', 'targets/qa')),
      newClient('qa-2', scope('qa', 'targets/qa')),
    ];
    tokens.push(
      { token: setup.ciToken, role: 'targets/ci' },
      { token: clients[0]!.token, role: 'targets/ci' },
      { token: clients[1]!.token, role: 'targets/qa' },
      { token: clients[2]!.token, role: 'targets/qa' },
    );
    const config = writeConfigVariant(setup, 'agents.yaml', (doc) => {
      doc.clients.push(...clients.map((c) => c.entry));
    });
    daemon = await startDaemonProcess(config);
    const keys = await daemonKeys(daemon.url, setup.adminToken);
    const ci = keys.get('ci')!;
    const qa = keys.get('qa')!;
    const notary = new NotaryServerClient({ url: server.url });
    try {
      await initRepository({
        server: notary,
        gun: GUN,
        signing: daemonSigning({
          client: new DaemonClient({ url: daemon.url, token: setup.adminToken }),
          rootKey: 'root',
          targetsKey: 'targets',
        }),
        delegations: [
          { name: 'targets/ci', keyIds: [ci.id], threshold: 1, paths: [''] },
          { name: 'targets/qa', keyIds: [qa.id], threshold: 1, paths: [''] },
        ],
        delegationKeys: [ci, qa],
      });
    } finally {
      notary.close();
    }
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  function signProcess(
    tag: string,
    agent: { token: string; role: string },
  ): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [
          BIN,
          'sign',
          `${GUN}:${tag}`,
          '--digest',
          `sha256:${digestOf(tag)}`,
          '--size',
          String(tag.length),
          '--role',
          agent.role,
        ],
        {
          env: {
            ...process.env,
            NOTARY_HSM_SIGNER: daemon.url,
            NOTARY_HSM_SERVER: server.url,
            NOTARY_HSM_TOKEN: agent.token,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });
  }

  const expected: { name: string; digest: string; size: number; role: string }[] = [];

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: all ${SIGNERS} exit 0 and the stock notary list shows every tag`, async () => {
      const jobs = Array.from({ length: SIGNERS }, (_, i) => {
        const agent = tokens[i % tokens.length]!;
        const tag = `r${round}-agent${i}`;
        expected.push({ name: tag, digest: digestOf(tag), size: tag.length, role: agent.role });
        return signProcess(tag, agent);
      });
      const results = await Promise.all(jobs);
      const failed = results.filter((r) => r.code !== 0).map((r) => r.output);
      expect(failed).toEqual([]);
      const listed = parseNotaryList((await (await notaryCli(server)).run(['list', GUN])).stdout);
      const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
      expect(listed.sort(byName)).toEqual([...expected].sort(byName));
    });
  }
});
