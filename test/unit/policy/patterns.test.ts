/**
 * GUNs, GUN patterns, target patterns and role names as the policy compares them: the
 * GUN validator refuses look-alikes, case variants, dot segments and stray slashes; GUN
 * patterns match exactly, strictly below a prefix, or everything; target patterns are
 * anchored with `*` inside one segment and `**` across, checked against a reference
 * matcher on seeded random names; role names match only exactly.
 */
import {
  anyGunMatches,
  checkGun,
  gunMatches,
  gunPatternProblem,
  gunProblem,
  isValidGun,
  allTargetsMatch,
  matchingTargetPattern,
  roleAllowed,
  targetMatches,
  targetPatternProblem,
} from '../../../src/policy/patterns';
import { prng } from './fixtures';

const VALID_GUNS = [
  'acme',
  'acme/x',
  'acme/x/y',
  'acme/a.b_c-d',
  'a',
  '0',
  'docker.io/library/alpine',
  'registry.example.com/acme/api',
  'localhost:5000/demo/app',
  'localhost:1/x',
  'localhost:65535/x',
  'my-registry.local:8443/team/app',
  'a__b/c--d/e..f',
  'x'.repeat(255),
];

const INVALID_GUNS: readonly [string, string][] = [
  ['', 'empty'],
  ['Acme/x', 'upper case'],
  ['acme/X', 'upper case below'],
  ['acme/x/', 'trailing slash'],
  ['/acme/x', 'leading slash'],
  ['acme//x', 'empty segment'],
  ['acme/../x', 'dot-dot segment'],
  ['acme/x/..', 'trailing dot-dot'],
  ['acme/./x', 'dot segment'],
  ['..', 'dot-dot alone'],
  ['.', 'dot alone'],
  ['acme/.hidden', 'segment starting with a dot'],
  ['acme/x.', 'segment ending with a dot'],
  ['acme/-x', 'segment starting with a dash'],
  ['acme/x_', 'segment ending with an underscore'],
  ['\u0430cme/x', 'Cyrillic a'],
  ['acm\u0435/x', 'Cyrillic e'],
  ['\uff41cme/x', 'fullwidth a'],
  ['acme\uff0fx', 'fullwidth solidus'],
  ['acme/x\u200b', 'zero-width space'],
  ['acme/x\u0301', 'combining accent'],
  ['acme/x ', 'trailing space'],
  [' acme/x', 'leading space'],
  ['acme/x\n', 'newline'],
  ['acme/x\u0000', 'NUL'],
  ['acme\\x', 'backslash'],
  ['acme/x?y', 'question mark'],
  ['acme/*', 'a pattern, not a GUN'],
  ['acme/x:1', 'port below the host'],
  ['localhost:5000', 'host and port without repository'],
  ['localhost:/x', 'empty port'],
  ['localhost:0/x', 'port 0'],
  ['localhost:05000/x', 'port with a leading zero'],
  ['localhost:65536/x', 'port above 65535'],
  ['localhost:5000:1/x', 'two ports'],
  ['localhost:abc/x', 'port not a number'],
  ['x'.repeat(256), 'longer than 255'],
  [`acme/${'y'.repeat(251)}`, 'longer than 255 with a slash'],
];

describe('GUN validation', () => {
  it.each(VALID_GUNS.map((g) => [g]))('accepts %j', (gun) => {
    expect(gunProblem(gun)).toBeUndefined();
    expect(isValidGun(gun)).toBe(true);
    expect(checkGun(gun)).toBe(gun);
  });

  it.each(INVALID_GUNS)('refuses %j (%s) with GUN_INVALID', (gun) => {
    expect(isValidGun(gun)).toBe(false);
    expect(() => checkGun(gun)).toThrowWithCode('GUN_INVALID');
  });

  it('refuses values that are not strings', () => {
    for (const v of [undefined, null, 1, ['acme'], { gun: 'acme' }]) {
      expect(() => checkGun(v)).toThrowWithCode('GUN_INVALID');
    }
  });

  it('quotes a huge GUN only in part', () => {
    try {
      checkGun('A'.repeat(100_000));
      throw new Error('accepted');
    } catch (err) {
      expect((err as Error).message.length).toBeLessThan(300);
    }
  });
});

describe('GUN patterns', () => {
  const cases: readonly [string, string, boolean][] = [
    ['acme/*', 'acme/x', true],
    ['acme/*', 'acme/x/y', true],
    ['acme/*', 'acme/x/y/z', true],
    ['acme/*', 'acme', false],
    ['acme/*', 'acme-evil/x', false],
    ['acme/*', 'acmex/y', false],
    ['acme/*', 'acm/x', false],
    ['acme/*', 'evil/acme/x', false],
    ['acme/*', 'localhost:5000/acme/x', false],
    ['acme/x', 'acme/x', true],
    ['acme/x', 'acme/x/y', false],
    ['acme/x', 'acme/xy', false],
    ['acme/x', 'acme', false],
    ['acme/x/*', 'acme/x/y', true],
    ['acme/x/*', 'acme/x', false],
    ['acme/x/*', 'acme/xy/z', false],
    ['localhost:5000/*', 'localhost:5000/demo/app', true],
    ['localhost:5000/*', 'localhost:5001/demo/app', false],
    ['localhost:5000/*', 'localhost/demo', false],
    ['*', 'acme', true],
    ['*', 'localhost:5000/demo/app', true],
  ];

  it.each(cases)('%j against %j: %s', (pattern, gun, expected) => {
    expect(gunPatternProblem(pattern)).toBeUndefined();
    expect(isValidGun(gun)).toBe(true);
    expect(gunMatches(pattern, gun)).toBe(expected);
  });

  it('matches when any pattern matches, and nothing with no patterns', () => {
    expect(anyGunMatches(['other/*', 'acme/x'], 'acme/x')).toBe(true);
    expect(anyGunMatches(['other/*', 'acme/x'], 'acme/y')).toBe(false);
    expect(anyGunMatches([], 'acme/x')).toBe(false);
  });

  it.each([
    '',
    '**',
    'acme/**',
    'acme*',
    'acme/x*',
    '*/x',
    'acme/*/x',
    'acme/*/*',
    'Acme/*',
    'acme/',
    '/*',
    'acme//*',
    'acme/../*',
    '\u0430cme/*',
    'localhost:5000',
    ' acme/x',
  ])('refuses the GUN pattern %j', (pattern) => {
    expect(gunPatternProblem(pattern)).toEqual(expect.any(String));
  });

  it.each(['*', 'acme', 'acme/x', 'acme/*', 'localhost:5000/*', 'localhost:5000/demo/app'])(
    'accepts the GUN pattern %j',
    (pattern) => {
      expect(gunPatternProblem(pattern)).toBeUndefined();
    },
  );
});

describe('target patterns', () => {
  const cases: readonly [string, string, boolean][] = [
    ['v1.4', 'v1.4', true],
    ['v1.4', 'v1.40', false],
    ['v1.4', 'xv1.4', false],
    ['v*', 'v1.4', true],
    ['v*', 'v', true],
    ['v*', 'release-v1', false],
    ['v*', 'v1/x', false],
    ['v*', 'V1', false],
    ['*', 'latest', true],
    ['*', '', true],
    ['*', 'a/b', false],
    ['*', '__proto__', true],
    ['**', 'a/b/c', true],
    ['**', '', true],
    ['releases/*', 'releases/1.0', true],
    ['releases/*', 'releases/', true],
    ['releases/*', 'releases', false],
    ['releases/*', 'releases/1/2', false],
    ['releases/**', 'releases/1/2', true],
    ['releases/**', 'releases', false],
    ['releases/**', 'releases-evil/1', false],
    ['*/latest', 'a/latest', true],
    ['*/latest', 'a/b/latest', false],
    ['**/latest', 'a/b/latest', true],
    ['**/latest', 'latest', false],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a//b', true],
    ['a/**/b', 'a/b', false],
    ['v*.*', 'v1.4', true],
    ['v*.*', 'v14', false],
    ['v?', 'v1', false],
    ['v?', 'v?', true],
    ['v[1]', 'v1', false],
    ['v[1]', 'v[1]', true],
    ['.*', 'anything', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY/c', false],
    ['a**c', 'aX/Y/c', true],
    ['*-ci', 'build-ci', true],
    ['*-ci', 'build-ci/x', false],
  ];

  it.each(cases)('%j against %j: %s', (pattern, name, expected) => {
    expect(targetPatternProblem(pattern)).toBeUndefined();
    expect(targetMatches(pattern, name)).toBe(expected);
  });

  it('says patterns match every target only when one of them is `**`', () => {
    const names = ['', 'v1', 'a/b/c', '/x', 'x/', '**', 'é/😀', ' '];
    for (const patterns of [['**'], ['v*', '**'], ['a/**', '**']]) {
      expect(allTargetsMatch(patterns)).toBe(true);
      for (const n of names) expect(matchingTargetPattern(patterns, n)).toBeDefined();
    }
    for (const patterns of [[], ['*'], ['a/**'], ['**/x'], ['*', 'a/**']]) {
      expect(allTargetsMatch(patterns)).toBe(false);
      expect(names.some((n) => matchingTargetPattern(patterns, n) === undefined)).toBe(true);
    }
  });

  it('finds the first matching pattern', () => {
    expect(matchingTargetPattern(['x*', 'v*', '**'], 'v1')).toBe('v*');
    expect(matchingTargetPattern(['x*'], 'v1')).toBeUndefined();
    expect(matchingTargetPattern([], 'v1')).toBeUndefined();
  });

  it.each(['', '***', 'a***b', 'v\u0000', 'v\n', 'x'.repeat(1025)])(
    'refuses the target pattern %j',
    (pattern) => {
      expect(targetPatternProblem(pattern)).toEqual(expect.any(String));
    },
  );

  /** Reference semantics as a regular expression (fine for short test inputs). */
  function reference(pattern: string, name: string): boolean {
    const source = pattern
      .split(/(\*\*|\*)/)
      .map((part) =>
        part === '**'
          ? '[^]*'
          : part === '*'
            ? '[^/]*'
            : part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
      )
      .join('');
    return new RegExp(`^${source}$`).test(name);
  }

  it('agrees with a reference matcher on 20,000 seeded random cases', () => {
    const rand = prng(7468);
    const alphabet = ['a', 'b', '/', '.', '-', '*'];
    const pick = (n: number, chars: readonly string[]): string =>
      Array.from({ length: n }, () => chars[Math.floor(rand() * chars.length)] as string).join('');
    const disagreements: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const pattern = pick(1 + Math.floor(rand() * 8), alphabet).replace(/\*{3,}/g, '**');
      const name = pick(Math.floor(rand() * 10), alphabet.slice(0, 5));
      if (targetMatches(pattern, name) !== reference(pattern, name)) {
        disagreements.push(`${pattern} ~ ${name}`);
      }
    }
    expect(disagreements).toEqual([]);
  });

  it('stays linear on inputs that make backtracking matchers explode', () => {
    const pattern = '**a**a**a**a**a**a**a**a**b';
    const name = 'a'.repeat(20_000);
    const started = process.hrtime.bigint();
    expect(targetMatches(pattern, name)).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });
});

describe('role names', () => {
  const roles = ['targets/ci-build'];
  it.each([
    ['targets/ci-build', true],
    ['targets/ci-build2', false],
    ['targets/ci-buil', false],
    ['targets/CI-build', false],
    ['targets/ci-build/', false],
    ['targets/ci-build/x', false],
    [' targets/ci-build', false],
    ['targets', false],
    ['', false],
  ] as const)('%j: %s', (role, expected) => {
    expect(roleAllowed(roles, role)).toBe(expected);
  });
});
