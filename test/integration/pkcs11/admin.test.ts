/**
 * The local administration commands of notary-hsmd on real tokens: `tokens` shows a
 * SoftHSM2 token present with its label, serial and PIN state; `keys generate` makes a
 * key on it and refuses a second with the same label; `keys list` shows it with its TUF
 * key ID; and ykcs11 on a machine without a YubiKey explains itself — without pcscd
 * (device error) and with pcscd but no reader (no slot).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../daemon/main';
import { createSoftHsmToken } from '../../helpers/softhsm';
import { makeTempDir } from '../../helpers/tmp';

const PIN = '975310';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      out: (t: string) => void out.push(t),
      err: (t: string) => void err.push(t),
      env: process.env,
    },
    out,
    err,
  };
}

describe('notary-hsmd tokens / keys on SoftHSM2', () => {
  let config: string;

  beforeAll(async () => {
    const dir = await makeTempDir('admin-');
    const token = await createSoftHsmToken({ label: 'admin-ci', pin: PIN, soPin: '11223344', dir });
    writeFileSync(join(dir, 'ci.pin'), `${PIN}\n`);
    config = join(dir, 'daemon.yaml');
    writeFileSync(
      config,
      [
        'tokens:',
        '  - name: ci',
        '    profile: softhsm2',
        '    label: admin-ci',
        '    pin: file:ci.pin',
        '    environment:',
        `      SOFTHSM2_CONF: ${token.conf}`,
        'keys:',
        '  - name: deleg',
        '    token: ci',
        '    object: "pkcs11:token=admin-ci;object=deleg;type=private"',
        '',
      ].join('\n'),
    );
  });

  it('tokens shows the token present with its label, serial and PIN state', async () => {
    const c = capture();
    expect(await main(['tokens', '--config', config, '--json'], c.io)).toBe(0);
    const { tokens } = JSON.parse(c.out.join('')) as { tokens: Record<string, unknown>[] };
    expect(tokens).toEqual([
      expect.objectContaining({
        name: 'ci',
        profile: 'softhsm2',
        present: true,
        label: 'admin-ci',
        pinState: 'ok',
      }),
    ]);
    expect(tokens[0]!.serial).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keys generate makes a key on the token; a second with the same label is refused', async () => {
    const c = capture();
    expect(
      await main(
        [
          'keys',
          'generate',
          '--config',
          config,
          '--token',
          'ci',
          '--label',
          'deleg',
          '--id',
          '0a',
          '--json',
        ],
        c.io,
      ),
    ).toBe(0);
    const { key } = JSON.parse(c.out.join('')) as {
      key: { keyId: string; id: string; extractable: boolean; sensitive: boolean };
    };
    expect(key).toMatchObject({ id: '0a', extractable: false, sensitive: true });
    expect(key.keyId).toMatch(/^[0-9a-f]{64}$/);

    const again = capture();
    expect(
      await main(
        ['keys', 'generate', '--config', config, '--token', 'ci', '--label', 'deleg', '--id', '0b'],
        again.io,
      ),
    ).toBe(1);
    expect(again.err.join('')).toMatch(/KEY_EXISTS/);

    const list = capture();
    expect(await main(['keys', 'list', '--config', config, '--json'], list.io)).toBe(0);
    const { keys } = JSON.parse(list.out.join('')) as { keys: { label: string; keyId: string }[] };
    expect(keys).toEqual([expect.objectContaining({ label: 'deleg', keyId: key.keyId })]);
  });

  it('keys list of every token names one whose PIN comes with each request and lists the rest', async () => {
    const dir = await makeTempDir('admin-request-');
    const other = await createSoftHsmToken({
      label: 'admin-root',
      pin: PIN,
      soPin: '11223344',
      dir,
    });
    const ci = readFileSync(config, 'utf8').split('keys:')[0] as string;
    const both = join(dir, 'daemon.yaml');
    writeFileSync(
      both,
      [
        ci.replace('pin: file:ci.pin', `pin: file:${join(config, '..', 'ci.pin')}`).trimEnd(),
        '  - name: root',
        '    profile: softhsm2',
        '    label: admin-root',
        '    pin: request',
        '    environment:',
        `      SOFTHSM2_CONF: ${other.conf}`,
        '',
      ].join('\n'),
    );
    const ciOnly = capture();
    expect(
      await main(['keys', 'list', '--config', both, '--token', 'ci', '--json'], ciOnly.io),
    ).toBe(0);
    const ciKeys = (JSON.parse(ciOnly.out.join('')) as { keys: unknown[] }).keys;
    const all = capture();
    expect(await main(['keys', 'list', '--config', both, '--json'], all.io)).toBe(1);
    const listed = JSON.parse(all.out.join('')) as {
      keys: unknown[];
      unlisted: { token: string; error: { code: string } }[];
    };
    // The other token's keys, as listed alone (the key the test above made, when it ran).
    expect(listed.keys).toEqual(ciKeys);
    expect(listed.unlisted.map((u) => [u.token, u.error.code])).toEqual([['root', 'PIN_REQUIRED']]);
    const text = capture();
    expect(await main(['keys', 'list', '--config', both], text.io)).toBe(1);
    expect(text.out.join('')).toMatch(/^TOKEN +LABEL/);
    expect(text.err.join('')).toMatch(/^root: .*\[PIN_REQUIRED\]$/);
    // Asked for by name, the token's failure is the command's.
    const one = capture();
    expect(await main(['keys', 'list', '--config', both, '--token', 'root'], one.io)).toBe(1);
    expect(one.err.join('')).toMatch(/PIN_REQUIRED/);
    expect(one.out.join('')).toBe('');
  });

  it('usage errors exit 2; a broken configuration exits 1 naming the problem', async () => {
    expect(await main(['keys', 'generate', '--config', config], capture().io)).toBe(2);
    const c = capture();
    expect(await main(['tokens', '--config', join(config, 'missing.yaml')], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(/CONFIG_INVALID/);
  });
});

const YKCS11 = '/usr/lib/x86_64-linux-gnu/libykcs11.so';

describe('ykcs11 on a machine without a YubiKey', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = await makeTempDir('ykcs11-');
    config = join(dir, 'daemon.yaml');
  });

  function writeConfig(env: Record<string, string>): void {
    const lines = [
      'tokens:',
      '  - name: root',
      '    profile: yubikey-piv',
      '    serial: "424242"',
      '    pin: request',
    ];
    if (Object.keys(env).length) {
      lines.push('    environment:');
      for (const [k, v] of Object.entries(env)) lines.push(`      ${k}: ${v}`);
    }
    writeFileSync(config, lines.join('\n') + '\n');
  }

  (existsSync(YKCS11) ? it : it.skip)(
    'without pcscd: a device error that says to start pcscd',
    async () => {
      // libpcsclite honours PCSCLITE_CSOCK_NAME: point it at a socket no pcscd serves.
      writeConfig({ PCSCLITE_CSOCK_NAME: join(dir, 'no-pcscd.comm') });
      const c = capture();
      expect(await main(['tokens', '--config', config, '--json'], c.io)).toBe(1);
      const { tokens } = JSON.parse(c.out.join('')) as {
        tokens: { error?: { code: string; message: string } }[];
      };
      expect(tokens[0]!.error?.code).toBe('DEVICE_ERROR');
      expect(tokens[0]!.error?.message).toMatch(/ykcs11 cannot reach pcscd: install and start it/);
    },
  );

  // Decided when the file loads, so a skip is reported as a skip, with its reason.
  const pcscdSkip = !existsSync(YKCS11)
    ? 'ykcs11 is not installed'
    : !existsSync('/run/pcscd/pcscd.comm') && process.getuid?.() !== 0
      ? 'no pcscd is running and starting one needs root'
      : '';

  describe('with pcscd but no reader', () => {
    let pcscd: ChildProcess | undefined;

    beforeAll(async () => {
      if (pcscdSkip || existsSync('/run/pcscd/pcscd.comm')) return; // none needed, or one already serves
      pcscd = spawn('pcscd', ['--foreground', '--error'], { stdio: 'ignore' });
      for (let i = 0; i < 50 && !existsSync('/run/pcscd/pcscd.comm'); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    afterAll(async () => {
      if (!pcscd) return;
      const exited = new Promise((r) => pcscd!.once('exit', r));
      pcscd.kill('SIGTERM');
      await exited;
    });

    (pcscdSkip ? it.skip : it)(
      `no slot at all: a message that says to plug the YubiKey in${pcscdSkip ? ` (skipped: ${pcscdSkip})` : ''}`,
      async () => {
        expect(existsSync('/run/pcscd/pcscd.comm')).toBe(true);
        writeConfig({});
        const c = capture();
        expect(await main(['tokens', '--config', config, '--json'], c.io)).toBe(1);
        const { tokens } = JSON.parse(c.out.join('')) as {
          tokens: { error?: { code: string; message: string } }[];
        };
        if (tokens[0]!.error?.code === 'TOKEN_NOT_PRESENT') {
          // A developer machine with a reader attached lists slots: nothing to show here.
          console.warn(
            'this machine has a smart-card reader attached; the no-reader case cannot be shown',
          );
          return;
        }
        expect(tokens[0]!.error?.code).toBe('NO_READER');
        expect(tokens[0]!.error?.message).toMatch(
          /pcscd sees no smart-card reader: plug the YubiKey in/,
        );
      },
    );
  });
});
