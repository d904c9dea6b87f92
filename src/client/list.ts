/**
 * Which targets a verified repository offers, and from which role, with Notary's rules:
 * a breadth-first walk from `targets` over the roles that verified, each delegation's
 * paths restricted to its parent's, a target counting only inside its role's paths, and
 * the first role to list a name winning. Asked for several roles, each role's subtree is
 * walked in turn with the others' subtrees skipped (Notary's priority order).
 */
import { compareUtf8 } from '../metadata/canonical';
import { pathAllowed, restrictPaths } from '../metadata/roles';
import type { TrustedRepository } from './reader';

export interface ListedTarget {
  readonly name: string;
  /** `sha256:<hex>`, or '' when the role pins the target by no sha256 hash. */
  readonly digest: string;
  readonly size: number;
  readonly role: string;
}

interface WalkRole {
  name: string;
  paths: readonly string[];
}

function isInSubtree(role: string, of: string): boolean {
  return role === of || role.startsWith(of + '/');
}

/** Visits the roles of `repo` breadth-first, as Notary's WalkTargets. */
function walk(
  repo: TrustedRepository,
  rolePath: string,
  skip: readonly string[],
  visit: (role: WalkRole) => void,
): void {
  const queue: WalkRole[] = [{ name: 'targets', paths: [''] }];
  while (queue.length > 0) {
    const role = queue.shift() as WalkRole;
    const file = repo.targets.get(role.name);
    if (!file) continue;
    const children = file.signed.delegationRoles.map((d) => ({
      name: d.name,
      paths: restrictPaths(role.paths, d.paths),
    }));
    if (rolePath.startsWith(role.name + '/')) {
      queue.push(...children);
      continue;
    }
    if (isInSubtree(role.name, rolePath) && !skip.includes(role.name)) visit(role);
    queue.push(...children);
  }
}

/** Targets offered by `roles` (default: the whole tree from `targets`), sorted by name. */
export function listTargets(
  repo: TrustedRepository,
  roles: readonly string[] = ['targets'],
): ListedTarget[] {
  const found = new Map<string, ListedTarget>();
  for (const rolePath of roles) {
    const skip = roles.filter((r) => r !== rolePath);
    walk(repo, rolePath, skip, (role) => {
      const file = repo.targets.get(role.name);
      for (const [name, meta] of file?.signed.targets ?? []) {
        if (found.has(name) || !pathAllowed(name, role.paths)) continue;
        const sha = meta.sha256Digest;
        found.set(name, {
          name,
          digest: sha ? `sha256:${sha.toString('hex')}` : '',
          size: meta.length,
          role: role.name,
        });
      }
    });
  }
  return [...found.values()].sort((a, b) => compareUtf8(a.name, b.name));
}
