/**
 * The trust cache: one private file per GUN (its name percent-encoded), read back as
 * written; writes merge with what the file holds (the higher root, the higher version of
 * every role, the union of root key IDs), so the cache never goes back; a file that is
 * not ours is refused rather than ignored; and a role older than seen is a rollback.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustCache, checkRollback, trustDirFrom } from '../../../src/client/trust-cache';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'registry.example.com:5000/acme/api';
const KEY = 'ab'.repeat(32);

describe('trust cache', () => {
  let dir: string;
  let cache: TrustCache;
  beforeEach(async () => {
    dir = join(await makeTempDir('trust-cache-'), 'trust');
    cache = new TrustCache(dir);
  });

  it('holds nothing at first, then what was saved, in one private file per GUN', () => {
    expect(cache.load(GUN)).toBeUndefined();
    cache.save({
      gun: GUN,
      root: Buffer.from('root v2'),
      rootVersion: 2,
      versions: new Map([
        ['root', 2],
        ['targets', 7],
      ]),
      rootKeyIds: [KEY],
    });
    const got = cache.load(GUN);
    expect(got?.root.toString()).toBe('root v2');
    expect(got?.versions).toEqual(
      new Map([
        ['root', 2],
        ['targets', 7],
      ]),
    );
    expect(got?.rootKeyIds).toEqual([KEY]);
    expect(readdirSync(dir)).toEqual([`${encodeURIComponent(GUN)}.json`]);
    expect(statSync(cache.fileFor(GUN)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('merges a save with what is there: versions never go down, the newer root stays', () => {
    const save = (rootVersion: number, targets: number, delegation?: number): void =>
      cache.save({
        gun: GUN,
        root: Buffer.from(`root v${rootVersion}`),
        rootVersion,
        versions: new Map([
          ['root', rootVersion],
          ['targets', targets],
          ...(delegation === undefined ? [] : [['targets/ci', delegation] as const]),
        ]),
        rootKeyIds: [rootVersion === 3 ? KEY : 'cd'.repeat(32)],
      });
    save(3, 9, 4);
    save(2, 5);
    const got = cache.load(GUN);
    expect(got?.root.toString()).toBe('root v3');
    expect(Object.fromEntries(got?.versions ?? [])).toEqual({
      root: 3,
      targets: 9,
      'targets/ci': 4,
    });
    expect(got?.rootKeyIds).toEqual([KEY, 'cd'.repeat(32)]);
  });

  it.each([
    ['not JSON', '{'],
    ['another format', JSON.stringify({ format: 2 })],
    [
      "another GUN's file",
      JSON.stringify({
        format: 1,
        gun: 'other/gun',
        root: 'AA==',
        versions: {},
        rootKeyIds: [],
        updated: '',
      }),
    ],
  ])('refuses a cache file that is %s', (_what, text) => {
    cache.save({
      gun: GUN,
      root: Buffer.from('r'),
      rootVersion: 1,
      versions: new Map(),
      rootKeyIds: [],
    });
    writeFileSync(cache.fileFor(GUN), text);
    expect(() => cache.load(GUN)).toThrowWithCode('TRUST_CACHE_INVALID');
  });

  it('a role below the version seen is a rollback naming every such role; equal or higher is fine', () => {
    const cached = {
      gun: GUN,
      root: Buffer.from('r'),
      versions: new Map([
        ['timestamp', 10],
        ['snapshot', 10],
        ['targets', 3],
      ]),
      rootKeyIds: [],
      updated: '',
    };
    expect(() =>
      checkRollback(
        GUN,
        cached,
        new Map([
          ['timestamp', 10],
          ['snapshot', 11],
          ['targets/new', 1],
        ]),
      ),
    ).not.toThrow();
    let err: unknown;
    try {
      checkRollback(
        GUN,
        cached,
        new Map([
          ['timestamp', 9],
          ['snapshot', 12],
          ['targets', 2],
        ]),
      );
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'ROLLBACK_DETECTED',
      details: {
        roles: [
          { role: 'timestamp', version: 9, seen: 10 },
          { role: 'targets', version: 2, seen: 3 },
        ],
      },
    });
    expect(() => checkRollback(GUN, undefined, new Map([['timestamp', 1]]))).not.toThrow();
  });

  it('lives in --trust-dir, else NOTARY_HSM_TRUST_DIR, else ~/.notary-hsm/trust', () => {
    expect(trustDirFrom('/a', { NOTARY_HSM_TRUST_DIR: '/b' })).toBe('/a');
    expect(trustDirFrom(undefined, { NOTARY_HSM_TRUST_DIR: '/b' })).toBe('/b');
    expect(trustDirFrom(undefined, {})).toMatch(/\.notary-hsm\/trust$/);
  });
});
