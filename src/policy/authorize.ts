/**
 * Authorization: may this client sign this role of this GUN at this endpoint with these
 * keys? Deny by default. The GUN is validated first (GUN_INVALID), then only scopes of
 * the endpoint's kind are considered: `root` for sign/root and certificates/root,
 * `targets` for sign/targets, `delegation` for sign/delegation; `admin` grants no
 * signing at all. A scope applies when one of its GUN patterns matches and, for
 * delegations, it lists the role exactly. Each requested key must be listed by an
 * applicable scope; without a request the keys are every key the applicable scopes
 * list. For delegations the target patterns are those of the applicable scopes that
 * list every key used, so that each target is allowed by a scope that also allows every
 * key signing it; when no single scope lists all those keys the request is refused.
 * Refusals name what was asked for and which part is not allowed, never what other
 * clients (or this one, elsewhere) may do.
 */
import { NotaryHsmError } from '../errors';
import type { SignEndpoint } from '../signing/types';
import type { Client, Scope } from './scope';
import { anyGunMatches, checkGun, quote, roleAllowed } from './patterns';

/** What a client asks to do. */
export interface AuthorizationRequest {
  readonly endpoint: SignEndpoint;
  readonly gun: string;
  /** `root`, `targets` or `targets/<name>`. */
  readonly role: string;
  /** Configured key names; undefined: every key the client may use here. */
  readonly keyNames?: readonly string[];
}

/** What the client may do for that request. */
export interface Authorization {
  /** Key names to sign with, deduplicated, in request (or configuration) order. */
  readonly keys: string[];
  /** For delegations: the target patterns every target must match. */
  readonly paths?: string[];
}

type SigningScope = Exclude<Scope, { kind: 'admin' }>;

const KIND: { readonly [E in SignEndpoint]: SigningScope['kind'] } = {
  'sign/root': 'root',
  'certificates/root': 'root',
  'sign/targets': 'targets',
  'sign/delegation': 'delegation',
};

/** True when the client has the admin scope. */
export function isAdmin(client: Client): boolean {
  return client.scopes.some((s) => s.kind === 'admin');
}

function forbidden(client: Client, req: AuthorizationRequest, what: string): NotaryHsmError {
  const role = quote(req.role);
  return new NotaryHsmError(
    'FORBIDDEN',
    `client ${client.name} may not ${what} (${req.endpoint}, role ${role} of ${req.gun})`,
    { details: { client: client.name, endpoint: req.endpoint, gun: req.gun, role } },
  );
}

function roleFits(kind: SigningScope['kind'], role: string): boolean {
  if (kind === 'root') return role === 'root';
  if (kind === 'targets') return role === 'targets';
  return role.startsWith('targets/');
}

/**
 * Decides whether `client` may make `req`, and with which keys.
 * throws: GUN_INVALID, FORBIDDEN, USAGE (an explicitly empty key list)
 */
export function authorize(client: Client, req: AuthorizationRequest): Authorization {
  checkGun(req.gun);
  if (!Object.prototype.hasOwnProperty.call(KIND, req.endpoint)) {
    throw forbidden(client, req, `use endpoint ${quote(String(req.endpoint))}`);
  }
  const kind = KIND[req.endpoint];
  if (!roleFits(kind, req.role)) {
    throw forbidden(client, req, `sign that role at ${req.endpoint}`);
  }
  const ofKind = client.scopes.filter((s): s is SigningScope => s.kind === kind);
  if (ofKind.length === 0) throw forbidden(client, req, `sign ${kind} metadata`);
  const forGun = ofKind.filter((s) => anyGunMatches(s.guns, req.gun));
  if (forGun.length === 0) throw forbidden(client, req, `sign for GUN ${req.gun}`);
  const applicable = forGun.filter(
    (s) => s.kind !== 'delegation' || roleAllowed(s.roles, req.role),
  );
  if (applicable.length === 0) throw forbidden(client, req, 'sign that role');

  if (req.keyNames !== undefined && req.keyNames.length === 0) {
    throw new NotaryHsmError('USAGE', 'keys: name at least one key, or leave the list out');
  }
  const allowed = [...new Set(applicable.flatMap((s) => s.keys))];
  const keys = req.keyNames === undefined ? allowed : [...new Set(req.keyNames)];
  if (keys.length === 0) throw forbidden(client, req, 'sign here: its scopes list no keys for it');
  const refused = keys.filter((k) => !allowed.includes(k));
  if (refused.length > 0) {
    throw forbidden(client, req, `use key(s) ${refused.map((k) => quote(k)).join(', ')}`);
  }
  if (kind !== 'delegation') return { keys };

  const granting = applicable.filter((s) => keys.every((k) => s.keys.includes(k)));
  if (granting.length === 0) {
    throw forbidden(
      client,
      req,
      `use keys ${keys.map((k) => quote(k)).join(', ')} together (name fewer keys)`,
    );
  }
  const paths = [...new Set(granting.flatMap((s) => (s.kind === 'delegation' ? s.paths : [])))];
  return { keys, paths };
}
