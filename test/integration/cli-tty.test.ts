/**
 * Progress and colours of the built `notary-hsm`, on real components (notary-hsmd on
 * SoftHSM2, a real notary-server): under a pseudo-terminal (`script` from util-linux)
 * stderr shows what a publish of 2000 tags is doing, and failures in colour; in a pipe,
 * with --json, or with NO_COLOR set, none of it appears.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeDaemonSetup, startDaemonProcess, type DaemonProcess } from '../helpers/daemon';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { runCli } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/tmp';

const run = promisify(execFile);
const BIN = join(__dirname, '..', '..', 'bin', 'notary-hsm');
const GUN = `localhost:5000/e2e/tty-${Date.now().toString(36)}`;
const ESC = '\u001b[';
const RED = `${ESC}31m`;

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs bin/notary-hsm with `args`: under a pseudo-terminal (output merged) or in pipes. */
async function cli(
  args: string[],
  how: { tty: boolean; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env, ...how.env };
  const command = how.tty ? 'script' : process.execPath;
  const argv = how.tty
    ? ['-qec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null']
    : [BIN, ...args];
  try {
    const { stdout, stderr } = await run(command, argv, { env, maxBuffer: 64 << 20 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const f = e as { code?: number; stdout?: string; stderr?: string };
    return { code: f.code ?? -1, out: f.stdout ?? '', err: f.stderr ?? '' };
  }
}

describe('progress and colours on a terminal only', () => {
  let server: NotaryServer;
  let daemon: DaemonProcess;
  let env: NodeJS.ProcessEnv;
  let tagsFile: string;

  beforeAll(async () => {
    server = await startNotaryServer();
    const setup = await makeDaemonSetup({ ciPaths: ['**'] });
    daemon = await startDaemonProcess(setup.config);
    env = {
      NOTARY_HSM_SIGNER: daemon.url,
      NOTARY_HSM_SERVER: server.url,
      NOTARY_HSM_TOKEN: setup.adminToken,
      NO_COLOR: '',
    };
    const init = await runCli(['init', GUN, '--root-key', 'root'], env);
    expect({ code: init.code, err: init.err }).toEqual({ code: 0, err: '' });
    const dir = await makeTempDir('tty');
    tagsFile = join(dir, 'tags.txt');
    const lines = Array.from({ length: 2000 }, (_, i) => {
      const digest = createHash('sha256').update(`t${i}`).digest('hex');
      return `t${i}=sha256:${digest}:${100 + i}`;
    });
    await writeFile(tagsFile, lines.join('\n') + '\n');
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  it('shows the steps of a 2000-tag publish on a terminal, then clears them', async () => {
    const r = await cli(['add', GUN, '--from-file', tagsFile], { tty: true, env });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`\r${ESC}2K${GUN}: fetching and verifying trust data`);
    expect(r.out).toContain(`\r${ESC}2K${GUN}: signing targets version 2 (2000 targets)`);
    expect(r.out).toContain(`\r${ESC}2K${GUN}: publishing targets`);
    expect(r.out).toMatch(
      new RegExp(
        `\\r\\u001b\\[2K(\\r\\n)?published ${GUN.replace(/[./]/g, '\\$&')} targets version 2`,
      ),
    );
  });

  it('shows nothing of it in a pipe, nor with --json on a terminal', async () => {
    const piped = await cli(['remove', GUN, 't0'], { tty: false, env });
    expect(piped.code).toBe(0);
    expect(piped.out).toContain(`published ${GUN} targets version 3`);
    expect(piped.out + piped.err).not.toContain(ESC);
    const json = await cli(['remove', GUN, 't1', '--json'], { tty: true, env });
    expect(json.code).toBe(0);
    expect(json.out).not.toContain(ESC);
    expect(JSON.parse(json.out.trim())).toMatchObject({ gun: GUN, version: 4, removed: ['t1'] });
  });

  it('shows a failure in red on a terminal only, and never with NO_COLOR set', async () => {
    const missing = ['remove', GUN, 'no-such-tag'];
    const tty = await cli(missing, { tty: true, env });
    expect(tty.code).toBe(1);
    expect(tty.out).toContain(`${RED}notary-hsm:${ESC}0m`);
    expect(tty.out).toMatch(/\[TARGET_NOT_FOUND\]/);
    const noColor = await cli(missing, { tty: true, env: { ...env, NO_COLOR: '1' } });
    expect(noColor.code).toBe(1);
    expect(noColor.out).toContain('notary-hsm: ');
    expect(noColor.out).not.toContain(RED);
    // progress is not colour: it still shows with NO_COLOR
    expect(noColor.out).toContain(`${ESC}2K${GUN}: fetching and verifying trust data`);
    const piped = await cli(missing, { tty: false, env });
    expect(piped.code).toBe(1);
    expect(piped.err).toMatch(/^notary-hsm: .*\[TARGET_NOT_FOUND\]\n$/);
  });
});
