/**
 * A key's reach is wider than any request field. Targets and delegation metadata carry no
 * GUN and no role name, and a root signature is bound to a GUN only by the certificates
 * it lists: a signature made "for" GUN A verifies in GUN B whenever B delegates to (or
 * lists) the same key, and a document signed "as" targets/ci verifies as targets/releases
 * when both roles hold that key. So a client that may use a key may in effect sign for
 * every GUN and role the key may sign for, whatever its own scope says.
 *
 * The configuration is therefore refused when a client's scope lists a key whose GUN
 * patterns (or, for delegation keys, whose roles) reach beyond that scope. A key shared by
 * several GUNs is shared authority: every client using it must be trusted with all of them.
 */
import type { Scope } from './scope';
import { gunPatternCovers } from './patterns';

/** What the daemon may sign with a configured key. */
export interface KeyReach {
  readonly name: string;
  readonly role?: 'root' | 'targets' | 'delegation';
  readonly guns: readonly string[];
  readonly delegation?: { readonly roles: readonly string[] };
}

/** A configured client's name and scopes. */
export interface ClientScopes {
  readonly name: string;
  readonly scopes: readonly Scope[];
}

const list = (values: readonly string[]): string => values.map((v) => JSON.stringify(v)).join(', ');

/** One problem per (client scope, key) pair whose key reaches beyond the scope. */
export function keyReachProblems(
  clients: readonly ClientScopes[],
  keys: readonly KeyReach[],
): string[] {
  const problems: string[] = [];
  const byName = new Map(keys.map((k) => [k.name, k]));
  clients.forEach((c, i) => {
    c.scopes.forEach((scope, j) => {
      if (scope.kind === 'admin') return;
      for (const keyName of scope.keys) {
        const key = byName.get(keyName);
        if (!key) continue; // an unknown key is reported where references are checked
        const where = `clients.${i} (${c.name}).sign.${j}`;
        const wideGuns = key.guns.filter((g) => !scope.guns.some((s) => gunPatternCovers(s, g)));
        if (wideGuns.length > 0) {
          problems.push(
            `${where}: key ${key.name} may sign for GUNs ${list(wideGuns)} beyond this scope's ` +
              `GUNs ${list(scope.guns)}; its signatures carry no GUN, so the client could sign for ` +
              `them too: narrow the key's guns or give this client a key of its own`,
          );
        }
        if (scope.kind !== 'delegation') continue;
        const wideRoles = (key.delegation?.roles ?? []).filter((r) => !scope.roles.includes(r));
        if (wideRoles.length > 0) {
          problems.push(
            `${where}: key ${key.name} may sign roles ${list(wideRoles)} beyond this scope's ` +
              `roles ${list(scope.roles)}; delegation metadata carries no role name, so the client ` +
              `could sign for them too: narrow the key's roles or give this client a key of its own`,
          );
        }
      }
    });
  });
  return problems;
}
