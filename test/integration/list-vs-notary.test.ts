/**
 * `notary-hsm list` against repositories the stock notary CLI published: plain, with
 * `targets/releases` and a path-restricted custom delegation, and after the snapshot key
 * was handed to the server. In each case the project's listing (library, CLI in process,
 * and the built binary) is exactly what `notary list` prints.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listTargets } from '../../src/client/list';
import { readRepository } from '../../src/client/reader';
import { main } from '../../src/cli/main';
import { NotaryServerClient } from '../../src/notary';
import { makeTempDir } from '../helpers/tmp';
import {
  notaryCli,
  parseNotaryList,
  publishReferenceFlow,
  type NotaryCli,
} from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';

const BIN = join(__dirname, '..', '..', 'bin', 'notary-hsm');
const BUILT = existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'notary-hsm.js'));

function captureIo(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env },
    out,
    err,
  };
}

describe.each(['plain', 'delegations', 'snapshot-rotated'] as const)(
  'a repository the notary CLI published (%s)',
  (stage) => {
    let server: NotaryServer;
    let cli: NotaryCli;
    const gun = `localhost:5000/ref/${stage}`;

    beforeAll(async () => {
      server = await startNotaryServer();
      cli = await notaryCli(server);
      await publishReferenceFlow(cli, gun, await makeTempDir('flow-'), stage);
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('the library lists what notary list shows', async () => {
      const { stdout } = await cli.run(['list', gun]);
      const theirs = parseNotaryList(stdout);
      expect(theirs.length).toBeGreaterThan(0);
      const repo = await readRepository(new NotaryServerClient({ url: server.url }), gun);
      const ours = listTargets(repo).map((t) => ({
        ...t,
        digest: t.digest.replace(/^sha256:/, ''),
      }));
      expect(ours).toEqual(theirs);
      expect(repo.warnings).toEqual([]);
    });

    it('`notary-hsm list --json` prints the same targets, the GUN and the root key IDs', async () => {
      const { stdout } = await cli.run(['list', gun]);
      const cap = captureIo();
      expect(await main(['list', gun, '--server', server.url, '--json'], cap.io)).toBe(0);
      const json = JSON.parse(cap.out.join('')) as {
        gun: string;
        rootKeyIds: string[];
        targets: unknown[];
      };
      expect(json.gun).toBe(gun);
      expect(json.rootKeyIds).toHaveLength(1);
      expect(json.rootKeyIds[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(json.targets).toEqual(
        parseNotaryList(stdout).map((t) => ({ ...t, digest: `sha256:${t.digest}` })),
      );
      expect(cap.err.join('')).toMatch(/trusting the root the server sent/);
    });

    if (stage !== 'plain') {
      it.each(['targets/releases', 'targets/ci'])(
        'with --role %s it lists what notary list --roles shows',
        async (role) => {
          const { stdout } = await cli.run(['list', gun, '--roles', role]);
          const cap = captureIo();
          expect(
            await main(['list', gun, '--server', server.url, '--role', role, '--json'], cap.io),
          ).toBe(0);
          const json = JSON.parse(cap.out.join('')) as { targets: unknown[] };
          expect(json.targets).toEqual(
            parseNotaryList(stdout).map((t) => ({ ...t, digest: `sha256:${t.digest}` })),
          );
        },
      );
    }

    (BUILT ? it : it.skip)(
      'the built bin/notary-hsm prints the same table as notary list (skipped when dist/ is not built: run make build)',
      async () => {
        const { stdout } = await cli.run(['list', gun]);
        const run = await promisify(execFile)(BIN, ['list', gun, '--server', server.url]);
        expect(parseNotaryList(run.stdout)).toEqual(parseNotaryList(stdout));
      },
    );
  },
);

describe('list failures', () => {
  let server: NotaryServer;
  beforeAll(async () => {
    server = await startNotaryServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('an unknown GUN exits 1 with a clear message', async () => {
    const cap = captureIo();
    expect(await main(['list', 'localhost:5000/none', '--server', server.url], cap.io)).toBe(1);
    expect(cap.err.join('')).toMatch(/SERVER_NOT_FOUND/);
  });

  it('no server exits 2 (usage)', async () => {
    const cap = captureIo();
    expect(await main(['list', 'x/y'], cap.io)).toBe(2);
    expect(cap.err.join('')).toMatch(/--server/);
  });

  it('a bad role name exits 2', async () => {
    const cap = captureIo();
    expect(
      await main(['list', 'x/y', '--server', server.url, '--role', 'targets/Bad'], cap.io),
    ).toBe(2);
    expect(cap.err.join('')).toMatch(/targets\/Bad/);
  });
});
