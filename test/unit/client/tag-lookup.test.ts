/**
 * One tag to one trusted digest: Notary's walk order (breadth first, the first role
 * listing the tag inside its paths wins), a delegation listing a tag outside its paths
 * (its own or its parent's) never trusted, and required roles that must all agree — or
 * a refusal naming the roles and their digests.
 */
import type { TrustedRepository } from '../../../src/client/reader';
import { trustedTarget, walkRoles } from '../../../src/client/tag-lookup';
import { tufKeyOf } from '../../../src/client/signing';
import type { FileMeta } from '../../../src/metadata/file-meta';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import { targetFor } from '../../helpers/forged-repo';
import { MemorySigner } from '../../helpers/memory-signer';

const key = tufKeyOf(new MemorySigner());

interface RoleSpec {
  targets?: Record<string, FileMeta>;
  delegates?: { name: string; paths: string[] }[];
}

function repoOf(roles: Record<string, RoleSpec>, warnings: string[] = []): TrustedRepository {
  const files = new Map<string, { signed: Targets }>();
  for (const [name, spec] of Object.entries(roles)) {
    files.set(name, {
      signed: new Targets({
        expires: GoTime.daysFromNow(30),
        version: 1,
        targets: new Map(Object.entries(spec.targets ?? {})),
        delegationKeys: new Map([[key.id, key]]),
        delegationRoles: (spec.delegates ?? []).map((d) => ({
          name: d.name,
          paths: d.paths,
          keyIds: [key.id],
          threshold: 1,
        })),
      }),
    });
  }
  return { gun: 'example.com/app', targets: files, warnings } as unknown as TrustedRepository;
}

const A = targetFor('a');
const B = targetFor('b');
const hex = (m: FileMeta): string => `sha256:${m.sha256Digest!.toString('hex')}`;

function refusal(fn: () => unknown): { code: string; message: string; details: unknown } {
  try {
    fn();
  } catch (e) {
    return e as { code: string; message: string; details: unknown };
  }
  throw new Error('expected a refusal');
}

describe('trustedTarget', () => {
  const repo = repoOf({
    targets: {
      targets: { top: A },
      delegates: [
        { name: 'targets/releases', paths: [''] },
        { name: 'targets/ci', paths: ['ci/'] },
      ],
    },
    'targets/releases': {
      targets: { v1: A, top: B },
      delegates: [{ name: 'targets/releases/nested', paths: ['v', 'x'] }],
    },
    'targets/ci': { targets: { 'ci/1': A, v9: B } },
    'targets/releases/nested': { targets: { v1: B, x1: A, y1: B } },
  });

  it('walks breadth first with paths restricted by parents', () => {
    expect(walkRoles(repo)).toEqual([
      { name: 'targets', paths: [''] },
      { name: 'targets/releases', paths: [''] },
      { name: 'targets/ci', paths: ['ci/'] },
      { name: 'targets/releases/nested', paths: ['v', 'x'] },
    ]);
  });

  it('the first role in the walk that lists the tag wins', () => {
    expect(trustedTarget(repo, 'top')).toMatchObject({ digest: hex(A), role: 'targets' });
    expect(trustedTarget(repo, 'v1')).toMatchObject({
      digest: hex(A),
      size: A.length,
      role: 'targets/releases',
      roles: ['targets/releases'],
    });
    expect(trustedTarget(repo, 'x1')).toMatchObject({ role: 'targets/releases/nested' });
  });

  it('a tag only a role lists outside its paths is refused, naming the role and paths', () => {
    const r = refusal(() => trustedTarget(repo, 'v9'));
    expect(r.code).toBe('TARGET_OUTSIDE_PATHS');
    expect(r.details).toMatchObject({
      candidates: [{ role: 'targets/ci', paths: ['ci/'], digest: hex(B) }],
    });
    expect(refusal(() => trustedTarget(repo, 'y1')).code).toBe('TARGET_OUTSIDE_PATHS');
    expect(refusal(() => trustedTarget(repo, 'nothing')).code).toBe('TARGET_NOT_FOUND');
  });

  it('required roles must all vouch with the same digest', () => {
    expect(trustedTarget(repo, 'v1', ['targets/releases'])).toMatchObject({ digest: hex(A) });
    const disagree = refusal(() =>
      trustedTarget(repo, 'v1', ['targets/releases', 'targets/releases/nested']),
    );
    expect(disagree.code).toBe('TARGET_ROLES_DISAGREE');
    expect(disagree.message).toContain(`targets/releases: ${hex(A)}`);
    expect(disagree.message).toContain(`targets/releases/nested: ${hex(B)}`);
    const missing = refusal(() => trustedTarget(repo, 'v1', ['targets/releases', 'targets/ci']));
    expect(missing.code).toBe('TARGET_NOT_FOUND');
    expect(missing.message).toContain('targets/ci: does not list it');
    const unknown = refusal(() => trustedTarget(repo, 'v1', ['targets/releases', 'targets/qa']));
    expect(unknown.code).toBe('ROLE_MISSING');
    const outside = refusal(() => trustedTarget(repo, 'v9', ['targets/ci']));
    expect(outside.code).toBe('TARGET_NOT_FOUND');
    expect(outside.message).toContain('outside its paths');
  });

  it('a target without a sha256 hash has no digest to trust', () => {
    const only512 = new (A.constructor as typeof FileMeta)(
      3,
      new Map([['sha512', Buffer.alloc(64, 1)]]),
    );
    expect(
      refusal(() => trustedTarget(repoOf({ targets: { targets: { t: only512 } } }), 't')).code,
    ).toBe('TARGET_INVALID');
  });
});
