/**
 * `notary-hsm add --from-file` reads its file while the repository is fetched, on real
 * components (notary-hsmd on SoftHSM2, a real notary-server), run in process:
 *
 * - a file of 10,000 lines whose last line is bad fails with exactly the USAGE error the
 *   spec parser gives for that line (exit 2), after requests were made (the reads had
 *   started), and every request the command started had ended before it returned: the
 *   process saw each one close, and notary-server and notary-hsmd logged no other;
 * - a file of 3,000 good lines is published whole, and the command's requests have all
 *   ended when it returns too;
 * - a file that gives half those tags new digests and adds as many new ones is merged
 *   into the file it changes: the stock `notary list` shows every tag with its digest.
 */
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { parseTagSpec } from '../../src/cli/tag-specs';
import { makeDaemonSetup, startDaemonProcess, type DaemonProcess } from '../helpers/daemon';
import { eventually } from '../helpers/eventually';
import { notaryCli, parseNotaryList } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { makeTempDir } from '../helpers/tmp';

const GUN = `localhost:5000/e2e/from-file-${Date.now().toString(36)}`;

function spec(i: number): string {
  return `t${i}=sha256:${createHash('sha256').update(`t${i}`).digest('hex')}:${100 + i}`;
}

/** The HTTP requests this process starts while `run` runs, and how many have closed. */
async function counting<T>(
  run: () => Promise<T>,
): Promise<{ result: T; started: number; closed: number }> {
  let started = 0;
  let closed = 0;
  const onStart = (message: unknown): void => {
    started++;
    (message as { request: ClientRequest }).request.once('close', () => void closed++);
  };
  subscribe('http.client.request.start', onStart);
  try {
    const result = await run();
    return { result, started, closed };
  } finally {
    unsubscribe('http.client.request.start', onStart);
  }
}

describe('add --from-file, read while the repository is fetched', () => {
  let server: NotaryServer;
  let daemon: DaemonProcess;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  beforeAll(async () => {
    server = await startNotaryServer();
    const setup = await makeDaemonSetup({ ciPaths: ['**'] });
    daemon = await startDaemonProcess(setup.config);
    env = {
      NOTARY_HSM_SIGNER: daemon.url,
      NOTARY_HSM_SERVER: server.url,
      NOTARY_HSM_TOKEN: setup.adminToken,
    };
    dir = await makeTempDir('from-file-');
    const init = await cli(['init', GUN, '--root-key', 'root']);
    expect({ code: init.code, err: init.err }).toEqual({ code: 0, err: '' });
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env };
    const code = await main(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  /** notary-hsm's requests for the repository in notary-server's log, and for keys in the daemon's. */
  function logged(): { server: number; keys: number } {
    const path = `/v2/${GUN}/_trust/tuf/`;
    return {
      server: server
        .logs()
        .split('\n')
        .filter((l) => l.includes(path) && l.includes('"http.request.useragent":"notary-hsm"'))
        .length,
      keys: daemon
        .output()
        .split('\n')
        .filter((l) => l.includes('"path":"/v1/keys"')).length,
    };
  }

  /** The logs, once both have caught up with a request of our own made after the command. */
  async function loggedAfter(): Promise<{ server: number; keys: number }> {
    const marker = `marker-${Date.now()}`;
    await Promise.all([
      fetch(`${server.url}/v2/${GUN}/_trust/tuf/${marker}.json`).catch(() => undefined),
      fetch(`${daemon.url}/v1/${marker}`).catch(() => undefined),
    ]);
    await eventually(
      'notary-server and the daemon logged the marker requests',
      () => server.logs().includes(marker) && daemon.output().includes(marker),
    );
    return logged();
  }

  it('a bad last line of 10,000 fails with its USAGE error once every request has ended', async () => {
    const file = join(dir, 'bad-last.txt');
    const lines = Array.from({ length: 10_000 }, (_, i) => spec(i));
    const bad = `last=sha256:${'ab'.repeat(32)}`;
    lines[9_999] = bad;
    await writeFile(file, lines.join('\n') + '\n');
    let expected = '';
    try {
      parseTagSpec({ text: bad, file, line: 10_000 });
    } catch (err) {
      expected = (err as Error).message;
    }
    expect(expected).toMatch(/line 10000: .*expected TAG=sha256:HEX:SIZE/);

    const before = await loggedAfter();
    const { result, started, closed } = await counting(() =>
      cli(['add', GUN, '--from-file', file]),
    );
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${expected} [USAGE]`);
    // Requests were made while the file was read, and all had ended when it returned.
    expect(started).toBeGreaterThan(0);
    expect(closed).toBe(started);
    const after = await loggedAfter();
    // The servers saw exactly the requests the process started, none later.
    expect(after.server - before.server + (after.keys - before.keys)).toBe(started);
  });

  it('a file of 3,000 tags is published whole, its requests all ended on return', async () => {
    const file = join(dir, 'good.txt');
    await writeFile(file, Array.from({ length: 3_000 }, (_, i) => spec(i)).join('\n') + '\n');
    const { result, started, closed } = await counting(() =>
      cli(['add', GUN, '--from-file', file, '--json']),
    );
    expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
    expect((JSON.parse(result.out) as { added: string[] }).added).toHaveLength(3_000);
    expect(closed).toBe(started);
    const listed = parseNotaryList((await (await notaryCli(server)).run(['list', GUN])).stdout);
    expect(listed).toHaveLength(3_000);
    expect(listed.find((t) => t.name === 't2999')).toEqual({
      name: 't2999',
      digest: createHash('sha256').update('t2999').digest('hex'),
      size: 3_099,
      role: 'targets',
    });
  });

  it('a file that replaces half the tags and adds as many is merged into the file it changes', async () => {
    // Runs after the test above: the repository holds t0…t2999. New digests for t0…t1499
    // and new tags t3000…t4499, interleaved by name with those kept (t15…, t2…, t30…).
    const changed = (i: number): string =>
      `t${i}=sha256:${createHash('sha256').update(`again ${i}`).digest('hex')}:${7 + i}`;
    const file = join(dir, 'half.txt');
    const lines = [
      ...Array.from({ length: 1_500 }, (_, i) => changed(i)),
      ...Array.from({ length: 1_500 }, (_, i) => spec(3_000 + i)),
    ];
    await writeFile(file, lines.join('\n') + '\n');
    const result = await cli(['add', GUN, '--from-file', file]);
    expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
    const listed = parseNotaryList((await (await notaryCli(server)).run(['list', GUN])).stdout);
    expect(listed).toHaveLength(4_500);
    const byName = new Map(listed.map((t) => [t.name, t]));
    for (const i of [0, 1, 10, 999, 1_499]) {
      expect(byName.get(`t${i}`)).toMatchObject({
        digest: createHash('sha256').update(`again ${i}`).digest('hex'),
        size: 7 + i,
      });
    }
    for (const i of [1_500, 2_000, 2_999, 3_000, 3_700, 4_499]) {
      expect(byName.get(`t${i}`)).toMatchObject({
        digest: createHash('sha256').update(`t${i}`).digest('hex'),
        size: 100 + i,
      });
    }
  });
});
