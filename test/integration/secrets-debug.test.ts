/**
 * Secrets at debug level: the demo flow (scripts/demo.sh: `init --docker` by the admin
 * client, `sign` by the CI client, `list`, `verify` with a pinned root) through
 * the real CLI binary and daemon (the test's CI client may sign targets/ci only, so its
 * sign goes there alone), with debug logging on everywhere — the daemon's
 * configured level, NOTARY_HSM_LOG_LEVEL for the daemon and every CLI run, and
 * NOTARY_HSM_LOG_FILE (the module host inherits it) at debug. Every log and every output
 * (stdout and stderr of each process, the log file) is then searched for the token PIN,
 * the SO PIN and both bearer tokens, raw and base64, base64url, hex and URL-encoded.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';

const CLI = join(__dirname, '..', '..', 'bin', 'notary-hsm');
const GUN = 'localhost:5000/e2e/secrets';
/** The PINs makeDaemonSetup gives its token (user and SO). */
const PINS = ['192837', '56473829'];

/** The forms a secret could leak in. */
function forms(secret: string): Record<string, string> {
  const b = Buffer.from(secret);
  return {
    raw: secret,
    base64: b.toString('base64').replace(/=+$/, ''),
    base64url: b.toString('base64url'),
    hex: b.toString('hex'),
    hexUpper: b.toString('hex').toUpperCase(),
    url: encodeURIComponent(secret),
  };
}

/** Where each form of each secret occurs in `text` (raw digits only as a whole number). */
function leaks(name: string, text: string, secrets: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [what, secret] of Object.entries(secrets)) {
    for (const [form, s] of Object.entries(forms(secret))) {
      const hit = /^\d+$/.test(s)
        ? new RegExp(`(?<![0-9A-Za-z])${s}(?![0-9A-Za-z])`).test(text)
        : text.includes(s);
      if (hit) out.push(`${name} holds the ${what} (${form})`);
    }
  }
  return out;
}

describe('no secret in any log or output at debug level', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  const outputs: { name: string; text: string }[] = [];

  beforeAll(async () => {
    server = await startNotaryServer();
    setup = await makeDaemonSetup({ guns: ['localhost:5000/e2e/*'] });
    const yaml = readFileSync(setup.config, 'utf8');
    expect(yaml).toContain('level: info');
    writeFileSync(setup.config, yaml.replace('level: info', 'level: debug'));
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  const logFile = (): string => join(setup.dir, 'debug.log');
  const debugEnv = (): NodeJS.ProcessEnv => ({
    NOTARY_HSM_LOG_LEVEL: 'debug',
    NOTARY_HSM_LOG_FILE: logFile(),
    NOTARY_HSM_LOG_FILE_LEVEL: 'debug',
  });

  async function cli(name: string, args: string[], token?: string): Promise<string> {
    const env = {
      ...process.env,
      ...debugEnv(),
      NOTARY_HSM_SIGNER: daemon.url,
      NOTARY_HSM_SERVER: server.url,
      ...(token === undefined ? {} : { NOTARY_HSM_TOKEN: token }),
    };
    if (token === undefined) delete env.NOTARY_HSM_TOKEN;
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string; code?: number }) => {
      throw new Error(
        `${name} failed (${String(err.code)}):\n${err.stderr ?? ''}${err.stdout ?? ''}`,
      );
    });
    outputs.push(
      { name: `${name} stdout`, text: r.stdout },
      { name: `${name} stderr`, text: r.stderr },
    );
    return r.stdout;
  }

  it('runs init, sign, list and verify with debug logging, and nothing leaks', async () => {
    daemon = await startDaemonProcess(setup.config, debugEnv());
    const init = JSON.parse(
      await cli(
        'init',
        [
          'init',
          GUN,
          '--root-key',
          'root',
          '--delegation',
          'targets/ci',
          '--delegation-key',
          'ci',
          '--docker',
          '--json',
        ],
        setup.adminToken,
      ),
    ) as { rootKeyIds: string[] };
    const digest = createHash('sha256').update('manifest v1.0').digest('hex');
    await cli(
      'sign',
      [
        'sign',
        `${GUN}:v1.0`,
        '--digest',
        `sha256:${digest}`,
        '--size',
        '13',
        '--role',
        'targets/ci',
      ],
      setup.ciToken,
    );
    expect(await cli('list', ['list', GUN])).toContain(digest);
    const verified = await cli('verify', [
      'verify',
      `${GUN}:v1.0`,
      '--pin-root',
      init.rootKeyIds[0] as string,
      '--trust-dir',
      join(setup.dir, 'trust'),
    ]);
    expect(verified).toContain(digest);
    expect(await daemon.stop()).toBe(0);
    outputs.push(
      { name: 'daemon output', text: daemon.output() },
      { name: 'debug log file', text: readFileSync(logFile(), 'utf8') },
    );

    // Debug logging really was on (the daemon logs its logins at debug; in this flow the
    // CLI and the module host write no records of their own, their outputs are searched).
    const file = outputs.find((o) => o.name === 'debug log file')?.text ?? '';
    expect(file).toMatch(/"level":"debug","message":"token login/);
    expect(daemon.output()).toMatch(/"level":"debug"/);

    const secrets: Record<string, string> = {
      'user PIN': PINS[0] as string,
      'SO PIN': PINS[1] as string,
      'admin bearer token': setup.adminToken,
      'CI bearer token': setup.ciToken,
    };
    const found = outputs.flatMap((o) => leaks(o.name, o.text, secrets));
    expect(found).toEqual([]);
    // The search itself finds what it looks for.
    expect(leaks('probe', `x ${setup.ciToken} y`, secrets)).toContain(
      'probe holds the CI bearer token (raw)',
    );
    const hexPin = Buffer.from(PINS[0] as string).toString('hex');
    expect(leaks('probe', hexPin, secrets)).toContain('probe holds the user PIN (hex)');
  }, 120_000);
});
