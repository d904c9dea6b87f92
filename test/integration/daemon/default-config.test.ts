/**
 * Without --config every notary-hsmd subcommand reads the same file: `serve` creates the
 * embedded default under $NOTARY_HSM_VAR, and `tokens` and `keys list` then read that
 * same configuration (they once looked only at /etc/notary-hsm/daemon.yaml and failed on
 * a machine that had just run `make run`). The keys the admin command lists are the keys
 * the running daemon serves, compared by TUF key ID over its API.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../../src/config/default-file';
import { CLIENT_TOKEN_PREFIX } from '../../../src/policy/clients';
import { runDaemonCommand } from '../../helpers/daemon';
import { runCli } from '../../helpers/run-cli';
import { makeTempDir } from '../../helpers/tmp';

const BIN = join(__dirname, '..', '..', '..', 'bin', 'notary-hsmd');

/** `notary-hsmd serve` without --config; resolves once it listens, with its output. */
function serveEmbedded(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const listening = new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(`http://${m[1] as string}`);
    };
    child.stdout.on('data', (d: Buffer) => ((out += d.toString()), check()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => reject(new Error(`notary-hsmd exited with ${code}:\n${out}`)));
  });
  return {
    listening,
    output: () => out,
    stop: () => (child.kill('SIGTERM'), exited),
  };
}

const systemConfig = existsSync(DEFAULT_CONFIG);

// With a system configuration present, every subcommand reads it instead; the embedded
// default is then not what is being tested.
(systemConfig ? describe.skip : describe)(
  `notary-hsmd without --config (skipped when ${DEFAULT_CONFIG} exists)`,
  () => {
    it('tokens and keys list read the embedded default that serve created', async () => {
      const varDir = join(await makeTempDir('embedded'), 'var');
      const env = { NOTARY_HSM_VAR: varDir };

      const before = await runDaemonCommand(['tokens'], env);
      expect(before.code).toBe(1);
      expect(before.err).toContain(join(varDir, 'daemon.yaml'));
      expect(before.err).toMatch(/\[CONFIG_INVALID\]/);

      const first = serveEmbedded(env);
      const url = await first.listening;
      const adminToken = new RegExp(`^\\s+(${CLIENT_TOKEN_PREFIX}\\S+)$`, 'm').exec(
        first.output(),
      )?.[1];
      expect(adminToken).toBeDefined();
      const served = JSON.parse(
        (
          await runCli(['keys', 'list', '--json'], {
            NOTARY_HSM_SIGNER: url,
            NOTARY_HSM_TOKEN: adminToken as string,
          })
        ).out,
      ) as { keys: { keyId: string }[] };
      expect(await first.stop()).toBe(0);

      const tokens = await runDaemonCommand(['tokens', '--json'], env);
      expect(tokens.code).toBe(0);
      const { tokens: list } = JSON.parse(tokens.out) as {
        tokens: { name: string; present: boolean }[];
      };
      expect(list).toEqual([expect.objectContaining({ name: 'default', present: true })]);

      const keys = await runDaemonCommand(['keys', 'list', '--json'], env);
      expect(keys.code).toBe(0);
      const { keys: onToken } = JSON.parse(keys.out) as { keys: { keyId: string }[] };
      expect(onToken.map((k) => k.keyId).sort()).toEqual(served.keys.map((k) => k.keyId).sort());
      expect(onToken).toHaveLength(3);
    });
  },
);
