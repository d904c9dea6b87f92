/**
 * A key's reach against its clients' scopes (policy/reach.ts): signatures carry no GUN or
 * role, so a client may only use keys whose GUN patterns (and delegation roles) lie inside
 * its own scope. The configuration is refused otherwise, naming the client, the key and
 * what reaches beyond; equal or narrower keys load.
 */
import { ClientRegistry, hashToken } from '../../../src/policy/clients';
import { gunPatternCovers } from '../../../src/policy/patterns';
import { keyReachProblems, type KeyReach } from '../../../src/policy/reach';
import type { Scope } from '../../../src/policy/scope';

describe('gunPatternCovers', () => {
  test.each([
    ['*', '*', true],
    ['*', 'a/*', true],
    ['*', 'a/b', true],
    ['a/*', 'a/b', true],
    ['a/*', 'a/b/c', true],
    ['a/*', 'a/b/*', true],
    ['a/*', 'a/*', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/*', false],
    ['a/b', 'a/c', false],
    ['a/*', '*', false],
    ['a/*', 'a', false],
    ['a/*', 'ab/c', false],
    ['a/b/*', 'a/*', false],
    ['a/b/*', 'a/bc', false],
    ['localhost:5000/*', 'localhost:5000/x/*', true],
    ['localhost:5000/*', 'localhost:50001/x', false],
  ])('%s covers %s: %s', (outer, inner, want) => {
    expect(gunPatternCovers(outer, inner)).toBe(want);
  });
});

const KEYS: KeyReach[] = [
  { name: 'targets-acme', role: 'targets', guns: ['acme/*'] },
  { name: 'targets-api', role: 'targets', guns: ['acme/api'] },
  { name: 'ci', role: 'delegation', guns: ['acme/api'], delegation: { roles: ['targets/ci'] } },
  {
    name: 'ci-wide',
    role: 'delegation',
    guns: ['acme/api'],
    delegation: { roles: ['targets/ci', 'targets/releases'] },
  },
];

function client(name: string, scopes: Scope[]) {
  return { name, scopes };
}

describe('keyReachProblems', () => {
  test('keys inside their scopes load', () => {
    expect(
      keyReachProblems(
        [
          client('team', [{ kind: 'targets', keys: ['targets-acme'], guns: ['acme/*'] }]),
          client('api', [{ kind: 'targets', keys: ['targets-api'], guns: ['acme/*'] }]),
          client('ci', [
            {
              kind: 'delegation',
              keys: ['ci'],
              guns: ['acme/api'],
              roles: ['targets/ci'],
              paths: ['v*'],
            },
          ]),
          client('admin', [{ kind: 'admin' }]),
        ],
        KEYS,
      ),
    ).toEqual([]);
  });

  test('a key shared with another GUN is refused for a client scoped to one, naming both', () => {
    const problems = keyReachProblems(
      [client('api-only', [{ kind: 'targets', keys: ['targets-acme'], guns: ['acme/api'] }])],
      KEYS,
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('clients.0 (api-only).sign.0');
    expect(problems[0]).toContain('key targets-acme');
    expect(problems[0]).toContain('"acme/*"');
    expect(problems[0]).toContain('"acme/api"');
  });

  test('a delegation key that may sign more roles than the scope is refused', () => {
    const problems = keyReachProblems(
      [
        client('ci', [
          {
            kind: 'delegation',
            keys: ['ci-wide'],
            guns: ['acme/api'],
            roles: ['targets/ci'],
            paths: ['**'],
          },
        ]),
      ],
      KEYS,
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('"targets/releases"');
  });

  test('the client registry refuses such a configuration with CONFIG_INVALID', () => {
    const make = (guns: string[]) =>
      new ClientRegistry({
        clients: [
          {
            name: 'narrow',
            token_sha256: hashToken('t'),
            scopes: [{ kind: 'targets', keys: ['targets-acme'], guns }],
          },
        ],
        keys: KEYS,
      });
    expect(() => make(['acme/api'])).toThrowWithCode('CONFIG_INVALID');
    expect(make(['acme/*']).size).toBe(1);
  });
});
