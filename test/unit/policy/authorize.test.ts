/**
 * Authorization as a matrix: every combination of the client's scope kinds × endpoint ×
 * GUN (matches, near misses, invalid look-alikes) × role (exact, near misses) × key
 * names is decided by authorize() and by an independent oracle written here; only the
 * combinations the oracle allows may pass, every other one must fail with FORBIDDEN (or
 * GUN_INVALID for a GUN that is not one). Then the finer rules: several scopes, key
 * defaults and togetherness, delegation paths, and what a refusal says.
 */
import { httpStatusFor, isNotaryHsmError } from '../../../src/errors';
import { authorize, isAdmin } from '../../../src/policy/authorize';
import type { Client, Scope, SignEndpoint } from '../../../src/signing/types';

const ENDPOINTS: readonly SignEndpoint[] = [
  'sign/root',
  'certificates/root',
  'sign/targets',
  'sign/delegation',
];

const SCOPES = {
  admin: { kind: 'admin' },
  root: { kind: 'root', keys: ['root-key'], guns: ['acme/*'] },
  targets: { kind: 'targets', keys: ['targets-key'], guns: ['acme/*'] },
  delegation: {
    kind: 'delegation',
    keys: ['ci-key'],
    guns: ['acme/*'],
    roles: ['targets/ci-build'],
    paths: ['v*', 'releases/**'],
  },
} as const satisfies Record<string, Scope>;

type Kind = keyof typeof SCOPES;

/** Clients holding each single scope kind, none, and all of them. */
const CLIENTS: readonly [string, readonly Kind[]][] = [
  ['nothing', []],
  ['admin', ['admin']],
  ['root', ['root']],
  ['targets', ['targets']],
  ['delegation', ['delegation']],
  ['everything', ['admin', 'root', 'targets', 'delegation']],
];

const MATCHING_GUNS = ['acme/x', 'acme/x/y', 'acme/api', 'acme/a.b_c-d', 'acme/x/y/z'];
const VALID_OTHER_GUNS = [
  'acme',
  'acme-evil/x',
  'acmex/y',
  'acm/x',
  'evil/acme/x',
  'localhost:5000/acme/x',
  'other/x',
];
const INVALID_GUNS = [
  'Acme/x',
  'ACME/X',
  'acme/x/',
  '/acme/x',
  'acme/../x',
  'acme/x/..',
  'acme/./x',
  'acme//x',
  '\u0430cme/x', // Cyrillic а
  'acm\u0435/x', // Cyrillic е
  '\uff41cme/x', // fullwidth ａ
  'acme\uff0fx', // fullwidth solidus
  'acme/x\u200b',
  'acme/x ',
  'acme/*',
  '',
];

const ROLES = [
  'root',
  'targets',
  'targets/ci-build',
  'targets/ci-build2',
  'targets/ci-buil',
  'targets/CI-build',
  'targets/ci-build/',
  'targets/ci-build/sub',
  'targets/',
  'Root',
  'snapshot',
  'timestamp',
  '',
];

const KEY_SETS: readonly (readonly string[] | undefined)[] = [
  undefined,
  ['root-key'],
  ['targets-key'],
  ['ci-key'],
  ['ci-key', 'ci-key'],
  ['ci-key', 'targets-key'],
  ['root-key', 'targets-key', 'ci-key'],
  ['CI-key'],
  ['ci-key '],
  ['unknown-key'],
];

const KIND_OF: Record<SignEndpoint, Exclude<Kind, 'admin'>> = {
  'sign/root': 'root',
  'certificates/root': 'root',
  'sign/targets': 'targets',
  'sign/delegation': 'delegation',
};
const ROLE_OF: Record<Exclude<Kind, 'admin'>, string> = {
  root: 'root',
  targets: 'targets',
  delegation: 'targets/ci-build',
};
const KEY_OF: Record<Exclude<Kind, 'admin'>, string> = {
  root: 'root-key',
  targets: 'targets-key',
  delegation: 'ci-key',
};

/** The oracle: what should happen, decided without the code under test. */
function expected(
  kinds: readonly Kind[],
  endpoint: SignEndpoint,
  gun: string,
  role: string,
  keys: readonly string[] | undefined,
): { code: 'GUN_INVALID' | 'FORBIDDEN' } | { keys: string[] } {
  if (INVALID_GUNS.includes(gun)) return { code: 'GUN_INVALID' };
  const kind = KIND_OF[endpoint];
  if (!kinds.includes(kind)) return { code: 'FORBIDDEN' };
  if (!MATCHING_GUNS.includes(gun)) return { code: 'FORBIDDEN' };
  if (role !== ROLE_OF[kind]) return { code: 'FORBIDDEN' };
  const own = KEY_OF[kind];
  if (keys === undefined) return { keys: [own] };
  if (keys.every((k) => k === own)) return { keys: [own] };
  return { code: 'FORBIDDEN' };
}

function client(name: string, kinds: readonly Kind[]): Client {
  return { name, scopes: kinds.map((k) => SCOPES[k]) };
}

describe('authorization matrix', () => {
  const total =
    ENDPOINTS.length *
    (MATCHING_GUNS.length + VALID_OTHER_GUNS.length + INVALID_GUNS.length) *
    ROLES.length *
    KEY_SETS.length;

  it.each(CLIENTS)('client with %s scopes: %#', (name, kinds) => {
    const c = client(name, kinds);
    const mismatches: string[] = [];
    let allowed = 0;
    let cases = 0;
    for (const endpoint of ENDPOINTS) {
      for (const gun of [...MATCHING_GUNS, ...VALID_OTHER_GUNS, ...INVALID_GUNS]) {
        for (const role of ROLES) {
          for (const keyNames of KEY_SETS) {
            cases++;
            const want = expected(kinds, endpoint, gun, role, keyNames);
            const label = `${endpoint} ${JSON.stringify(gun)} ${JSON.stringify(role)} ${JSON.stringify(keyNames)}`;
            let got: string;
            try {
              const auth = authorize(c, {
                endpoint,
                gun,
                role,
                ...(keyNames ? { keyNames } : {}),
              });
              got = `allowed ${JSON.stringify(auth.keys)}`;
              if ('keys' in want) {
                allowed++;
                const paths =
                  KIND_OF[endpoint] === 'delegation' ? [...SCOPES.delegation.paths] : undefined;
                if (JSON.stringify(auth.paths) !== JSON.stringify(paths)) got += ' (wrong paths)';
              }
            } catch (err) {
              if (!isNotaryHsmError(err)) throw err;
              got = err.code;
            }
            const wanted = 'keys' in want ? `allowed ${JSON.stringify(want.keys)}` : want.code;
            if (got !== wanted) mismatches.push(`${label}: expected ${wanted}, got ${got}`);
          }
        }
      }
    }
    expect(cases).toBe(total);
    expect(mismatches.slice(0, 20)).toEqual([]);
    // The allowed cells: per signing kind held, matching GUNs × the one role × the key
    // sets made only of that kind's key (undefined, [own], and for ci-key its duplicate).
    const perKind = (k: Exclude<Kind, 'admin'>): number =>
      (k === 'root' ? 2 : 1) * MATCHING_GUNS.length * (k === 'delegation' ? 3 : 2);
    const want = (['root', 'targets', 'delegation'] as const)
      .filter((k) => kinds.includes(k))
      .reduce((n, k) => n + perKind(k), 0);
    expect(allowed).toBe(want);
  });

  it('covers the whole matrix', () => {
    expect(CLIENTS.length * total).toBeGreaterThan(40_000);
  });
});

describe('authorize, finer rules', () => {
  const ci: Client = {
    name: 'ci',
    scopes: [
      {
        kind: 'delegation',
        keys: ['k1', 'k2'],
        guns: ['acme/*'],
        roles: ['targets/ci-build'],
        paths: ['v*'],
      },
      {
        kind: 'delegation',
        keys: ['k2', 'k3'],
        guns: ['acme/api'],
        roles: ['targets/ci-build', 'targets/releases'],
        paths: ['releases/**'],
      },
      {
        kind: 'delegation',
        keys: ['k4'],
        guns: ['other/*'],
        roles: ['targets/ci-build'],
        paths: ['**'],
      },
    ],
  };
  const req = { endpoint: 'sign/delegation', role: 'targets/ci-build' } as const;

  it('defaults to every key the applicable scopes list', () => {
    expect(authorize(ci, { ...req, gun: 'acme/web' }).keys).toEqual(['k1', 'k2']);
    expect(authorize(ci, { ...req, gun: 'other/web' }).keys).toEqual(['k4']);
  });

  it('takes the paths of the scopes that list every key used', () => {
    expect(authorize(ci, { ...req, gun: 'acme/api', keyNames: ['k2'] })).toEqual({
      keys: ['k2'],
      paths: ['v*', 'releases/**'],
    });
    expect(authorize(ci, { ...req, gun: 'acme/api', keyNames: ['k1'] })).toEqual({
      keys: ['k1'],
      paths: ['v*'],
    });
    expect(authorize(ci, { ...req, gun: 'acme/api', keyNames: ['k3'] })).toEqual({
      keys: ['k3'],
      paths: ['releases/**'],
    });
    expect(
      authorize(ci, { ...req, role: 'targets/releases', gun: 'acme/api', keyNames: ['k2'] }),
    ).toEqual({ keys: ['k2'], paths: ['releases/**'] });
  });

  it('refuses keys that no single scope allows together, and keys of another GUN', () => {
    expect(() =>
      authorize(ci, { ...req, gun: 'acme/api', keyNames: ['k1', 'k3'] }),
    ).toThrowWithCode('FORBIDDEN');
    expect(() => authorize(ci, { ...req, gun: 'acme/api' })).toThrowWithCode('FORBIDDEN');
    expect(() => authorize(ci, { ...req, gun: 'acme/web', keyNames: ['k3'] })).toThrowWithCode(
      'FORBIDDEN',
    );
    expect(() => authorize(ci, { ...req, gun: 'acme/web', keyNames: ['k4'] })).toThrowWithCode(
      'FORBIDDEN',
    );
  });

  it('deduplicates requested keys and refuses an explicitly empty list', () => {
    expect(authorize(ci, { ...req, gun: 'acme/web', keyNames: ['k2', 'k1', 'k2'] }).keys).toEqual([
      'k2',
      'k1',
    ]);
    expect(() => authorize(ci, { ...req, gun: 'acme/web', keyNames: [] })).toThrowWithCode('USAGE');
  });

  it('refuses a scope that lists no keys', () => {
    const none: Client = { name: 'none', scopes: [{ kind: 'targets', keys: [], guns: ['*'] }] };
    expect(() =>
      authorize(none, { endpoint: 'sign/targets', gun: 'acme/x', role: 'targets' }),
    ).toThrowWithCode('FORBIDDEN');
  });

  it('matches exact GUNs and "*"', () => {
    const c: Client = {
      name: 'c',
      scopes: [
        { kind: 'targets', keys: ['t'], guns: ['acme/api'] },
        { kind: 'root', keys: ['r'], guns: ['*'] },
      ],
    };
    const t = { endpoint: 'sign/targets', role: 'targets' } as const;
    expect(authorize(c, { ...t, gun: 'acme/api' }).keys).toEqual(['t']);
    expect(() => authorize(c, { ...t, gun: 'acme/api/x' })).toThrowWithCode('FORBIDDEN');
    expect(() => authorize(c, { ...t, gun: 'acme/apix' })).toThrowWithCode('FORBIDDEN');
    const r = { endpoint: 'sign/root', role: 'root' } as const;
    expect(authorize(c, { ...r, gun: 'localhost:5000/a/b' }).keys).toEqual(['r']);
    expect(() => authorize(c, { ...r, gun: 'localhost:5000/A' })).toThrowWithCode('GUN_INVALID');
  });

  it('does not let admin imply signing', () => {
    const admin: Client = { name: 'admin', scopes: [{ kind: 'admin' }] };
    expect(isAdmin(admin)).toBe(true);
    expect(isAdmin(ci)).toBe(false);
    expect(isAdmin({ name: 'x', scopes: [] })).toBe(false);
    for (const endpoint of ENDPOINTS) {
      expect(() =>
        authorize(admin, { endpoint, gun: 'acme/x', role: ROLE_OF[KIND_OF[endpoint]] }),
      ).toThrowWithCode('FORBIDDEN');
    }
  });

  it('refuses an endpoint it does not know', () => {
    expect(() =>
      authorize(ci, { ...req, endpoint: 'sign/snapshot' as SignEndpoint, gun: 'acme/x' }),
    ).toThrowWithCode('FORBIDDEN');
  });

  it('names what was refused, not what else is allowed, with status 403', () => {
    const refusal = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        if (!isNotaryHsmError(err)) throw err;
        expect(httpStatusFor(err.code)).toBe(403);
        return `${err.message} ${JSON.stringify(err.details)}`;
      }
      throw new Error('allowed');
    };
    const role = refusal(() => authorize(ci, { ...req, role: 'targets/ci-build2', gun: 'acme/x' }));
    expect(role).toContain('targets/ci-build2');
    const key = refusal(() => authorize(ci, { ...req, gun: 'acme/web', keyNames: ['k1', 'k9'] }));
    expect(key).toContain('"k9"');
    expect(key).not.toContain('"k1"');
    const gun = refusal(() => authorize(ci, { ...req, gun: 'evil/x' }));
    expect(gun).toContain('evil/x');
    for (const text of [role, key, gun]) {
      for (const secret of ['k3', 'k4', 'other/*', 'acme/*', 'releases/**', 'v*']) {
        expect(text).not.toContain(secret);
      }
    }
    const huge = refusal(() =>
      authorize(ci, { ...req, role: `targets/${'x'.repeat(100_000)}`, gun: 'acme/x' }),
    );
    expect(huge.length).toBeLessThan(1000);
  });
});
