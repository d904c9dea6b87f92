/**
 * What updateTargets checks before anything is signed: every added name is one Go can
 * write, and lies inside the role's effective paths (its delegation entry's paths
 * restricted by every ancestor's, as Notary's walk computes them). A refusal asks no
 * signer for anything and publishes nothing.
 */
import { effectivePaths, updateTargets } from '../../../src/client/targets-update';
import type { TrustedRepository } from '../../../src/client/reader';
import { localSigning } from '../../../src/client/signing';
import { FileMeta } from '../../../src/metadata/file-meta';
import type { SignedMetadata } from '../../../src/metadata/signed';
import { Targets, type DelegatedRole } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import { MemorySigner } from '../../helpers/memory-signer';
import { MemoryTrustServer } from '../../helpers/memory-trust-server';
import { REFERENCE_GUN, REFERENCE_NOW, vector } from '../../helpers/vectors';

const ROLES = ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases', 'targets/ci'];
const META = FileMeta.sha256(Buffer.alloc(32, 1), 1);

function role(name: string, paths: string[]): DelegatedRole {
  return { name, paths, keyIds: [], threshold: 1 };
}

function targetsFile(delegations: DelegatedRole[]): SignedMetadata<Targets> {
  const signed = new Targets({
    expires: GoTime.parse('2030-01-01T00:00:00Z', '/expires'),
    version: 1,
    targets: new Map(),
    delegationRoles: delegations,
  });
  return { signed } as SignedMetadata<Targets>;
}

/** A repository of delegation entries only (what effectivePaths reads). */
const repo = {
  gun: 'example.com/app',
  targets: new Map([
    ['targets', targetsFile([role('targets/a', ['a/', 'b/']), role('targets/all', [''])])],
    [
      'targets/a',
      targetsFile([role('targets/a/x', ['a/x/', 'c/', 'b']), role('targets/a/none', ['z/'])]),
    ],
    ['targets/a/x', targetsFile([role('targets/a/x/y', ['a/x/y/', 'b/q', 'a/'])])],
  ]),
} as unknown as TrustedRepository;

describe('effectivePaths', () => {
  it.each([
    ['targets', ['']],
    ['targets/all', ['']],
    ['targets/a', ['a/', 'b/']],
    ['targets/a/x', ['a/x/']],
    ['targets/a/none', []],
    ['targets/a/x/y', ['a/x/y/']],
  ])('%s → %j', (name, paths) => {
    expect(effectivePaths(repo, name)).toEqual(paths);
  });

  it('an unknown delegation is ROLE_MISSING', () => {
    expect(() => effectivePaths(repo, 'targets/a/nope')).toThrowWithCode('ROLE_MISSING');
    expect(() => effectivePaths(repo, 'targets/b/x')).toThrowWithCode('ROLE_MISSING');
  });
});

describe('updateTargets over the reference repository (targets/ci has paths ["ci/"])', () => {
  const server = () =>
    new MemoryTrustServer(Object.fromEntries(ROLES.map((r) => [r, vector('final', r)])));

  it.each([
    ['targets/ci', ['v9'], 'TARGET_OUTSIDE_PATHS'],
    ['targets/ci', ['ci/ok', 'cix'], 'TARGET_OUTSIDE_PATHS'],
    ['targets/ci', [''], 'TARGET_INVALID'],
    ['targets', ['a\u0007b'], 'TARGET_INVALID'],
    ['targets/releases', ['\udc00'], 'TARGET_INVALID'],
  ])('%s + %j → %s, and no signer is asked', async (r, names, code) => {
    const s = server();
    const signer = new MemorySigner();
    await expect(
      updateTargets({
        server: s,
        gun: REFERENCE_GUN,
        role: r,
        signing: localSigning({ signers: [signer] }),
        changes: { add: new Map(names.map((n) => [n, META])) },
        now: REFERENCE_NOW,
      }),
    ).rejects.toThrowWithCode(code);
    expect(signer.count).toBe(0);
    expect(s.files.get(r)!.equals(vector('final', r))).toBe(true);
  });

  it('the refusal names the tag, the role and its paths', async () => {
    await expect(
      updateTargets({
        server: server(),
        gun: REFERENCE_GUN,
        role: 'targets/ci',
        signing: localSigning({ signers: [] }),
        changes: { add: new Map([['v9', META]]) },
        now: REFERENCE_NOW,
      }),
    ).rejects.toThrow('"v9" lies outside the paths of targets/ci ("ci/")');
  });

  it('a name inside the paths gets as far as signing', async () => {
    const signer = new MemorySigner(); // not the delegation's key
    await expect(
      updateTargets({
        server: server(),
        gun: REFERENCE_GUN,
        role: 'targets/ci',
        signing: localSigning({ signers: [signer] }),
        changes: { add: new Map([['ci/build-43', META]]) },
        now: REFERENCE_NOW,
      }),
    ).rejects.toThrowWithCode('INSUFFICIENT_SIGNATURES');
  });
});
