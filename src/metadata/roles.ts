/**
 * Notary role names and delegation paths. Base roles are root, targets, snapshot and
 * timestamp; delegations are `targets/<name>[/<name>…]`, lowercase `[-a-z0-9_]`
 * segments, fewer than 256 characters, and delegate only to their direct children.
 */
import { NotaryHsmError } from '../errors';

export const BASE_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type BaseRole = (typeof BASE_ROLES)[number];

const DELEGATION = /^targets(?:\/[-a-z0-9_]+)+$/;

export function isDelegationRole(name: string): boolean {
  return name.length < 256 && DELEGATION.test(name);
}

/** `targets` or a delegation: the roles whose files are Targets metadata. */
export function isTargetsRole(name: string): boolean {
  return name === 'targets' || isDelegationRole(name);
}

/** throws: ROLE_NAME_INVALID */
export function checkDelegationRole(name: string): string {
  if (!isDelegationRole(name)) {
    throw new NotaryHsmError(
      'ROLE_NAME_INVALID',
      `${JSON.stringify(name)} is not a delegation role (targets/<name>, lowercase letters, digits, - and _)`,
    );
  }
  return name;
}

/** The role that delegates to `name` (`targets/a/b` → `targets/a`). */
export function parentRole(name: string): string {
  return name.slice(0, name.lastIndexOf('/'));
}

/** Whether `target` lies inside one of `paths` (plain prefixes; "" = everything). */
export function pathAllowed(target: string, paths: readonly string[]): boolean {
  return paths.some((p) => target.startsWith(p));
}

/** A child's paths restricted to its parent's: child paths that have a parent path as prefix. */
export function restrictPaths(parent: readonly string[], child: readonly string[]): string[] {
  return child.filter((c) => parent.some((p) => c.startsWith(p)));
}
