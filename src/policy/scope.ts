/**
 * Who is calling and what they may do: an authenticated client and its scopes. Policy
 * owns these types; the signing pipeline and the HTTP layer use them.
 */

/** What a client may do. Deny by default: an empty list allows nothing. */
export type Scope =
  | { readonly kind: 'admin' }
  | { readonly kind: 'root'; readonly keys: readonly string[]; readonly guns: readonly string[] }
  | { readonly kind: 'targets'; readonly keys: readonly string[]; readonly guns: readonly string[] }
  | {
      readonly kind: 'delegation';
      readonly keys: readonly string[];
      readonly guns: readonly string[];
      /** Delegation role names, exactly (`targets/ci-build`). */
      readonly roles: readonly string[];
      /** Target name patterns the client may sign (`*` within a path segment, `**` across). */
      readonly paths: readonly string[];
    };

/** An authenticated caller. */
export interface Client {
  readonly name: string;
  readonly scopes: readonly Scope[];
}
