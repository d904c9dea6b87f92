/**
 * Loading the configuration: a good file resolves (paths relative to the file, URIs to
 * key references), and a bad one is refused with every problem listed at once — unknown
 * keys, duplicate names, dangling references, unknown profiles, zero or two token
 * selectors, a selector the profile does not support, inline PINs, bad key names.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolveConfig } from '../../../src/config/load';

const FILE = '/etc/notary-hsm/daemon.yaml';

function problems(data: unknown): string[] {
  try {
    resolveConfig(data, FILE);
  } catch (err) {
    expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
    return (err as { details: { problems: string[] } }).details.problems;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration', () => {
  it('resolves tokens and keys, with paths relative to the file', () => {
    const cfg = resolveConfig(
      {
        tokens: [
          {
            name: 'ci',
            profile: 'softhsm2',
            label: 'ci',
            pin: 'file:pins/ci',
            environment: { SOFTHSM2_CONF: 'softhsm2.conf', OTHER: 'x' },
          },
          { name: 'root', profile: 'yubikey-piv', serial: '1234', pin: 'request' },
        ],
        keys: [
          { name: 'deleg', token: 'ci', object: 'pkcs11:token=ci;object=deleg;id=%01' },
          { name: 'root', token: 'root', id: '01' },
        ],
      },
      FILE,
    );
    expect(cfg.tokens[0]!.config.pin).toBe('file:/etc/notary-hsm/pins/ci');
    expect(cfg.tokens[0]!.environment).toEqual({
      SOFTHSM2_CONF: '/etc/notary-hsm/softhsm2.conf',
      OTHER: 'x',
    });
    expect(cfg.tokens[1]!.selector).toEqual({ serial: '1234' });
    expect(cfg.keys).toEqual([
      { name: 'deleg', token: 'ci', ref: { label: 'deleg', id: '01' }, guns: [] },
      { name: 'root', token: 'root', ref: { id: '01' }, guns: [] },
    ]);
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(cfg.listen).toBe('127.0.0.1:7468');
    expect(cfg.stateDir).toBe('/etc/notary-hsm/var/state');
    expect(cfg.policy.max_expiry_days).toEqual({ root: 3650, targets: 1095, delegation: 1095 });
  });

  it("checks clients against keys: scope keys exist and have the scope's role", () => {
    const token = { name: 'ci', profile: 'softhsm2', label: 'ci', pin: 'request' };
    const sha = 'a'.repeat(64);
    const found = problems({
      tokens: [token],
      keys: [
        { name: 'd', token: 'ci', label: 'd', role: 'delegation', guns: ['acme/*'] },
        { name: 't', token: 'ci', label: 't', role: 'targets', guns: ['acme/*'] },
      ],
      clients: [
        {
          name: 'ci',
          token_sha256: sha,
          sign: [
            {
              kind: 'delegation',
              keys: ['t', 'zz'],
              guns: ['acme/*'],
              roles: ['targets/ci'],
              paths: ['*'],
            },
          ],
        },
        { name: 'nobody', token_sha256: 'b'.repeat(64) },
        { name: 'dup', token_sha256: sha, admin: true },
      ],
    }).join('\n');
    expect(found).toMatch(/delegation key lists its delegation roles/);
    expect(found).toMatch(/key t is a targets key, not delegation/);
    expect(found).toMatch(/no key named zz/);
    expect(found).toMatch(/nobody.*allowed nothing/);
    expect(found).toMatch(/two clients share token/);
  });

  it('reports every problem at once', () => {
    const found = problems({
      tokens: [
        { name: 'a', profile: 'softhsm2', pin: 'env:A' },
        { name: 'a', profile: 'nope', label: 'x', pin: 'env:B' },
        { name: 'b', profile: 'softhsm2', label: 'x', serial: 'y', pin: 'hunter2' },
      ],
      keys: [
        { name: 'k', token: 'missing', label: 'x' },
        { name: 'k2', token: 'a' },
        { name: 'k3', token: 'a', object: 'pkcs11:object=x?pin-value=1234' },
      ],
    });
    const text = found.join('\n');
    expect(text).toMatch(/tokens: a is defined twice/);
    expect(text).toMatch(/nope/);
    expect(text).toMatch(/exactly one of label or serial/);
    expect(text).toMatch(/file:PATH, env:NAME, credential:NAME or request/);
    expect(text).toMatch(/no token named missing/);
    expect(text).toMatch(/k2.*object.*label\/id/);
    expect(text).toMatch(/never given in a URI/);
    expect(text).not.toContain('hunter2');
    expect(found.length).toBeGreaterThanOrEqual(8);
  });

  it('allows several sign hosts only for tokens that never wait for a touch and hold their PIN', () => {
    const found = problems({
      tokens: [
        { name: 'touch', profile: 'yubikey-piv', serial: '1', pin: 'env:A', sign_hosts: 2 },
        { name: 'asked', profile: 'softhsm2', label: 'a', pin: 'request', sign_hosts: 2 },
      ],
    });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(
      /tokens\.0 \(touch\)\.sign_hosts: profile yubikey-piv may wait for a touch/,
    );
    expect(found[1]).toMatch(/tokens\.1 \(asked\)\.sign_hosts: .*PIN comes with each request/);
    expect(
      problems({
        tokens: [{ name: 'many', profile: 'softhsm2', label: 'm', pin: 'env:M', sign_hosts: 9 }],
      }),
    ).toEqual([expect.stringMatching(/tokens\.0\.sign_hosts: Too big/)]);
    const ok = resolveConfig(
      { tokens: [{ name: 'ci', profile: 'softhsm2', label: 'ci', pin: 'env:C', sign_hosts: 4 }] },
      FILE,
    );
    expect(ok.tokens[0]!.config.sign_hosts).toBe(4);
    expect(ok.tokens[0]!.profile.signHosts).toBe(1);
  });

  it('refuses unknown keys at every level', () => {
    expect(problems({ tokens: [], colour: 'blue' }).join('\n')).toMatch(/colour/);
    expect(
      problems({
        tokens: [{ name: 'a', profile: 'softhsm2', label: 'x', pin: 'request', slot: 3 }],
      }).join('\n'),
    ).toMatch(/slot/);
  });

  it('reads YAML files and refuses a wrong type or malformed YAML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'daemon.yaml');
    writeFileSync(
      file,
      'tokens:\n  - name: a\n    profile: softhsm2\n    label: x\n    pin: request\n',
    );
    expect(loadConfig(file).tokens).toHaveLength(1);
    writeFileSync(
      file,
      'tokens: [ {name: a, profile: softhsm2, label: x, pin: request} ]\nkeys: {}\n',
    );
    expect(() => loadConfig(file)).toThrowWithCode('CONFIG_INVALID');
    writeFileSync(file, 'tokens: [\n');
    expect(() => loadConfig(file)).toThrowWithCode('CONFIG_INVALID');
  });
});
