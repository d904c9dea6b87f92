/**
 * The CLI's side of the first hour, on a real daemon and notary-server: `--signer
 * unix:PATH` reaches a daemon listening on a Unix socket (the ssh-agent way) and signs; a
 * `--token-file` that others may read is refused with TOKEN_FILE_INSECURE (mode 600 is
 * accepted); with `--json` a failure is one JSON object on stderr, `{"error":{"code",
 * "message"}}`, usage errors included; and a signature that waits for a touch (the fault
 * shim holding C_Sign, as an unanswered YubiKey would) makes the CLI say "touch the key"
 * on stderr while it waits — and a token whose profile never waits for a touch says
 * nothing.
 */
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli/main';
import { writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { buildFaultShim, FaultControl } from '../../helpers/fault-shim';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';
import { runCli } from '../../helpers/run-cli';
import { makeTempDir } from '../../helpers/tmp';

function digestOf(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

const initArgs = (gun: string): string[] => [
  'init',
  gun,
  '--root-key',
  'root',
  '--delegation',
  'targets/ci',
  '--delegation-key',
  'ci',
];

describe('the CLI and its signer', () => {
  let setup: DaemonSetup;
  let server: NotaryServer;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    [setup, server] = await Promise.all([makeDaemonSetup(), startNotaryServer()]);
  });
  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await server?.stop();
  });

  describe('over a Unix socket', () => {
    let daemon: DaemonProcess;
    beforeAll(async () => {
      const socket = join(await makeTempDir('sock-'), 'notary-hsmd.sock');
      const config = writeConfigVariant(setup, 'unix.yaml', (doc) => {
        doc.state_dir = 'state-unix';
      });
      daemon = await startDaemonProcess(config, {}, { listen: `unix:${socket}` });
      daemons.push(daemon);
    });

    it('init and sign with --signer unix:PATH; the stock-CLI-readable tag lands', async () => {
      const gun = 'localhost:5000/e2e/unix';
      const env = { NOTARY_HSM_SERVER: server.url };
      expect(daemon.url).toMatch(/^unix:\//);
      const init = await runCli([...initArgs(gun), '--signer', daemon.url], {
        ...env,
        NOTARY_HSM_TOKEN: setup.adminToken,
      });
      expect(init.err).toBe('');
      expect(init.code).toBe(0);
      const sign = await runCli(
        [
          'sign',
          `${gun}:v1`,
          '--digest',
          `sha256:${digestOf('v1')}`,
          '--size',
          '2',
          '--role',
          'targets/ci',
        ],
        { ...env, NOTARY_HSM_SIGNER: daemon.url, NOTARY_HSM_TOKEN: setup.ciToken },
      );
      expect(sign.err).toBe('');
      expect(sign.code).toBe(0);
      const list = await runCli(['list', gun, '--json'], env);
      expect((JSON.parse(list.out) as { targets: { name: string }[] }).targets).toEqual([
        expect.objectContaining({ name: 'v1', role: 'targets/ci' }),
      ]);
    });

    it('a token file others may read is refused; mode 600 is accepted', async () => {
      const gun = 'localhost:5000/e2e/unix';
      const file = join(setup.dir, 'ci.token');
      writeFileSync(file, `${setup.ciToken}\n`, { mode: 0o644 });
      chmodSync(file, 0o644); // whatever the umask
      const args = [
        'sign',
        `${gun}:v2`,
        '--digest',
        `sha256:${digestOf('v2')}`,
        '--size',
        '2',
        '--role',
        'targets/ci',
        '--signer',
        daemon.url,
        '--token-file',
        file,
      ];
      const env = { NOTARY_HSM_SERVER: server.url };
      const open = await runCli(args, env);
      expect(open.code).toBe(1);
      expect(open.errorCode).toBe('TOKEN_FILE_INSECURE');
      expect(open.err).toMatch(/mode 0644.*chmod 600/);
      expect(open.err).not.toContain(setup.ciToken);
      chmodSync(file, 0o600);
      const ok = await runCli(args, env);
      expect(ok.err).toBe('');
      expect(ok.code).toBe(0);
    });
  });

  describe('--json errors', () => {
    it('a failure is one JSON object on stderr with code and message, and nothing on stdout', async () => {
      const r = await runCli(['list', 'localhost:5000/e2e/absent', '--json'], {
        NOTARY_HSM_SERVER: server.url,
      });
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      const lines = r.err.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(1);
      const parsed = JSON.parse(lines[0] as string) as { error: Record<string, unknown> };
      expect(Object.keys(parsed)).toEqual(['error']);
      expect(Object.keys(parsed.error).sort()).toEqual(['code', 'message']);
      expect(parsed.error.code).toBe('SERVER_NOT_FOUND');
      expect(typeof parsed.error.message).toBe('string');
    });

    it('usage errors too (exit 2), from our checks and from option parsing', async () => {
      const ours = await runCli(['list', 'x/y', '--json'], {});
      expect(ours.code).toBe(2);
      const o = JSON.parse(ours.err) as { error: { code: string; message: string } };
      expect(o.error.code).toBe('USAGE');
      expect(o.error.message).toMatch(/NOTARY_HSM_SERVER/);
      const parsing = await runCli(['list', 'x/y', '--json', '--no-such-option'], {});
      expect(parsing.code).toBe(2);
      const p = JSON.parse(parsing.err) as { error: { code: string; message: string } };
      expect(p.error.code).toBe('USAGE');
      expect(p.error.message).toMatch(/no-such-option/);
    });

    it('without --json the failure stays one plain line', async () => {
      const r = await runCli(['list', 'x/y'], {});
      expect(r.err).toMatch(/^notary-hsm: .*\[USAGE\]$/);
    });
  });

  describe('a key that waits for a touch', () => {
    let daemon: DaemonProcess;
    let control: FaultControl;
    beforeAll(async () => {
      const [shim, dir] = await Promise.all([buildFaultShim(), makeTempDir('touch-')]);
      control = new FaultControl(dir);
      const config = writeConfigVariant(setup, 'touch.yaml', (doc) => {
        const token = (doc.tokens as Record<string, unknown>[])[0] as Record<string, unknown>;
        token.profile = 'generic'; // a device that may wait for a touch
        token.module = shim;
        token.environment = { ...(token.environment as object), ...control.env };
        doc.state_dir = 'state-touch';
      });
      daemon = await startDaemonProcess(config);
      daemons.push(daemon);
    });

    it('the CLI says "touch the key" on stderr while the daemon waits, and finishes after', async () => {
      const gun = 'localhost:5000/e2e/touch';
      control.set({ sign_delay_ms: -1 }); // the touch does not come until we say so
      const err: string[] = [];
      const out: string[] = [];
      const run = main(initArgs(gun), {
        out: (t) => void out.push(t),
        err: (t) => void err.push(t),
        env: {
          NOTARY_HSM_SIGNER: daemon.url,
          NOTARY_HSM_SERVER: server.url,
          NOTARY_HSM_TOKEN: setup.adminToken,
        },
      });
      try {
        for (let i = 0; i < 1000 && !err.some((l) => l.includes('touch the key')); i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(control.stats().sign_waiting).toBe(1);
        expect(err).toEqual([
          expect.stringMatching(/^notary-hsm: touch the key: .*token soft \(key root\)/),
        ]);
      } finally {
        control.set({ sign_delay_ms: 0 });
      }
      expect(await run).toBe(0);
      expect(err.join('\n')).not.toMatch(/\[[A-Z_]+\]/); // no failure after the touch
    });
  });
});
