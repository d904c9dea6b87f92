/**
 * Client authentication for the daemon. A client is configured with the SHA-256 of its
 * bearer token (never the token) and its scopes. Authenticating hashes the presented
 * token once and compares the digest with every client's digest using
 * crypto.timingSafeEqual, without stopping at a match: the work done does not depend on
 * which client, if any, holds the token. Failures say only "missing" or "invalid" and
 * never repeat the token.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { keyConfigSchema, type ClientConfig } from '../config/schema';
import { NotaryHsmError } from '../errors';
import { isDelegationRole } from '../metadata/roles';
import { zodProblems } from '../schema-problems';
import type { Client, Scope } from './scope';
import { gunPatternProblem, targetPatternProblem } from './patterns';
import { keyReachProblems, type KeyReach } from './reach';

/** What tokens made by newClientToken start with (so that leaked ones are recognisable). */
export const CLIENT_TOKEN_PREFIX = 'nhsm_';

/** Longest Authorization header value we look at. */
const MAX_AUTHORIZATION_LENGTH = 4096;

/** `Bearer <b64token>` (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1). */
const BEARER = /^bearer ([A-Za-z0-9._~+/-]+=*)$/i;

/** A new client token: the prefix and 32 random bytes in base64url (256 bits). */
export function newClientToken(): string {
  return CLIENT_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Hex SHA-256 of a token's UTF-8 bytes: what the configuration stores as `token_sha256`. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

function refined(
  what: string,
  problem: (s: string) => string | undefined,
): z.ZodType<string, string> {
  return z.string().superRefine((s, ctx) => {
    const p = problem(s);
    if (p !== undefined) ctx.addIssue({ code: 'custom', message: `${what} ${p}` });
  });
}

const name = keyConfigSchema.shape.name;
const guns = z.array(refined('GUN pattern', gunPatternProblem));

/** One scope as configured (see Scope in policy/scope.ts for what each kind allows). */
export const scopeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('admin') }),
  z.strictObject({ kind: z.literal('root'), keys: z.array(name), guns }),
  z.strictObject({ kind: z.literal('targets'), keys: z.array(name), guns }),
  z.strictObject({
    kind: z.literal('delegation'),
    keys: z.array(name),
    guns,
    roles: z.array(
      refined('role', (r) =>
        isDelegationRole(r) ? undefined : 'is not a delegation role (targets/<name>)',
      ),
    ),
    paths: z.array(refined('target pattern', targetPatternProblem)),
  }),
]);

/** One client as the registry holds it: its name, token digest and scopes. */
export const clientEntrySchema = z.strictObject({
  name,
  token_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the token: 64 lowercase hex digits'),
  scopes: z.array(scopeSchema),
  /** The client certificate the token must come with (see PeerCertificate). */
  certificate: z
    .strictObject({ subject: z.string().optional(), sha256: z.string().optional() })
    .optional(),
});

export type ClientEntry = z.infer<typeof clientEntrySchema>;

/**
 * A `clients` entry of the configuration file (`admin: true` and `sign: [scopes]`) as a
 * registry entry. Patterns and roles are validated by the registry, not here.
 */
export function clientEntryFromConfig(c: ClientConfig): ClientEntry {
  return {
    name: c.name,
    token_sha256: c.token_sha256,
    scopes: [...(c.admin === true ? [{ kind: 'admin' as const }] : []), ...(c.sign ?? [])],
    ...(c.certificate ? { certificate: c.certificate } : {}),
  };
}

/** The client certificate a request came with over mutual TLS (what a binding checks). */
export interface PeerCertificate {
  /** Subject attributes, e.g. `{ CN: 'ci-runner-1', O: 'acme' }`. */
  readonly subject: Readonly<Record<string, string | readonly string[]>>;
  /** SHA-256 of the certificate's DER, lowercase hex without colons. */
  readonly sha256: string;
}

/** A client's certificate binding, parsed: attributes to match and a fingerprint. */
interface Binding {
  readonly subject?: readonly (readonly [string, string])[];
  readonly sha256?: string;
}

/** `CN=a,O=b` → [['CN','a'],['O','b']]; a `\,` keeps a comma in a value. undefined if malformed. */
function parseSubject(text: string): [string, string][] | undefined {
  const parts = text.split(/(?<!\\),/).map((p) => p.trim().replace(/\\,/g, ','));
  const out: [string, string][] = [];
  for (const p of parts) {
    const m = /^([A-Za-z][A-Za-z0-9.]*)=(.+)$/.exec(p);
    if (!m) return undefined;
    out.push([m[1] as string, m[2] as string]);
  }
  return out.length > 0 ? out : undefined;
}

function bindingMatches(b: Binding, peer: PeerCertificate | undefined): boolean {
  if (peer === undefined) return false;
  if (b.sha256 !== undefined && b.sha256 !== peer.sha256) return false;
  for (const [attr, value] of b.subject ?? []) {
    const have = peer.subject[attr];
    if (!(Array.isArray(have) ? have.includes(value) : have === value)) return false;
  }
  return true;
}

interface Entry {
  readonly client: Client;
  readonly digest: Buffer;
  readonly binding?: Binding;
}

function duplicates(values: readonly string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}

function frozenScope(s: Scope): Scope {
  if (s.kind === 'admin') return Object.freeze({ kind: 'admin' });
  const keys = Object.freeze([...s.keys]);
  const guns = Object.freeze([...s.guns]);
  if (s.kind !== 'delegation') return Object.freeze({ kind: s.kind, keys, guns });
  const roles = Object.freeze([...s.roles]);
  const paths = Object.freeze([...s.paths]);
  return Object.freeze({ kind: s.kind, keys, guns, roles, paths });
}

/**
 * The configured clients, and the one way to tell which of them is calling.
 * throws (constructor): CONFIG_INVALID, listing every problem at once
 */
export class ClientRegistry {
  private readonly entries: readonly Entry[];

  /**
   * `keys`: the configured keys; with them, a scope listing a key that reaches beyond it
   * is refused (see reach.ts).
   */
  constructor(options: {
    readonly clients: readonly unknown[];
    readonly keys?: readonly KeyReach[];
  }) {
    const parsed = z.array(clientEntrySchema).safeParse(options.clients);
    const problems = parsed.success ? [] : zodProblems(parsed.error).map((p) => `clients.${p}`);
    const configs = parsed.success ? parsed.data : [];
    for (const d of duplicates(configs.map((c) => c.name)))
      problems.push(`clients: ${d} is defined twice`);
    for (const d of duplicates(configs.map((c) => c.token_sha256))) {
      const names = configs.filter((c) => c.token_sha256 === d).map((c) => c.name);
      problems.push(`clients: ${names.join(', ')} share one token`);
    }
    if (options.keys) problems.push(...keyReachProblems(configs, options.keys));
    for (const c of configs) {
      const subject = c.certificate?.subject;
      if (subject !== undefined && parseSubject(subject) === undefined) {
        problems.push(`clients: ${c.name}: certificate.subject is not ATTR=VALUE[,ATTR=VALUE…]`);
      }
    }
    if (problems.length > 0) {
      throw new NotaryHsmError(
        'CONFIG_INVALID',
        `clients: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`,
        { details: { problems } },
      );
    }
    this.entries = Object.freeze(
      configs.map((c) => ({
        client: Object.freeze({ name: c.name, scopes: Object.freeze(c.scopes.map(frozenScope)) }),
        digest: Buffer.from(c.token_sha256, 'hex'),
        ...(c.certificate
          ? {
              binding: Object.freeze({
                ...(c.certificate.subject !== undefined
                  ? { subject: parseSubject(c.certificate.subject) ?? [] }
                  : {}),
                ...(c.certificate.sha256 !== undefined
                  ? { sha256: c.certificate.sha256.replace(/:/g, '').toLowerCase() }
                  : {}),
              }),
            }
          : {}),
      })),
    );
  }

  /** How many clients are configured. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * The client holding the bearer token in `authorization` (an Authorization header).
   * throws: UNAUTHENTICATED ("missing" without a header, "invalid" for anything else)
   */
  authenticate(authorization: string | undefined, peer?: PeerCertificate): Client {
    if (authorization === undefined || authorization.trim() === '') {
      throw new NotaryHsmError('UNAUTHENTICATED', 'missing bearer token', {
        details: { reason: 'missing' },
      });
    }
    const m = authorization.length <= MAX_AUTHORIZATION_LENGTH ? BEARER.exec(authorization) : null;
    const token = m?.[1];
    let found: Entry | undefined;
    if (token !== undefined) {
      // One-shot hash (no Hash object): about half the CPU of createHash for a token.
      const digest = hash('sha256', token, 'buffer');
      // Every digest is compared, a match does not end the loop: constant work per client.
      for (const e of this.entries) {
        const same = timingSafeEqual(digest, e.digest);
        found = same ? e : found;
      }
    }
    if (found === undefined) {
      throw new NotaryHsmError('UNAUTHENTICATED', 'invalid bearer token', {
        details: { reason: 'invalid' },
      });
    }
    if (found.binding !== undefined && !bindingMatches(found.binding, peer)) {
      // The same answer as an unknown token: a stolen token alone tells nothing more.
      throw new NotaryHsmError('UNAUTHENTICATED', 'invalid bearer token', {
        details: { reason: 'invalid' },
      });
    }
    return found.client;
  }
}
