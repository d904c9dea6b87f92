/**
 * Docker's view of a repository. `docker pull` with content trust looks a tag up in
 * `targets/releases` first, then in `targets`, and reads no other role; `docker trust
 * inspect` shows those two and the signers' own roles. `docker trust signer add` therefore
 * gives each signer a role of its own (`targets/<signer>`) and also adds the signer's keys
 * to `targets/releases`; `docker trust sign` writes a tag into every such role it holds a
 * key for. These helpers give notary-hsm the same shape (`--docker`).
 */
import { NotaryHsmError } from '../errors';
import type { DelegatedRole } from '../metadata/targets';

/** The role docker pulls read besides `targets`. */
export const DOCKER_RELEASES = 'targets/releases';

/** The roles docker (pull and trust inspect) reads a signed tag from. */
export const DOCKER_READ_ROLES = [DOCKER_RELEASES, 'targets'] as const;

/**
 * The roles a `--docker` change writes: the signer's role and `targets/releases` (once),
 * or `targets` alone.
 */
export function dockerRoles(role: string): string[] {
  if (role === 'targets' || role === DOCKER_RELEASES) return [role];
  if (role.split('/').length !== 2) {
    throw new NotaryHsmError(
      'USAGE',
      `--docker: ${role} is not a direct delegation of targets, which is all docker reads beside targets/releases`,
    );
  }
  return [role, DOCKER_RELEASES];
}

/** `targets/releases` delegating to the same keys as a signer's own role, as docker does. */
export function dockerReleasesFor(signer: DelegatedRole): DelegatedRole {
  return { name: DOCKER_RELEASES, keyIds: [...signer.keyIds], threshold: 1, paths: [''] };
}
