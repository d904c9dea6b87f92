/**
 * Client authentication for the daemon. A client is configured with the SHA-256 of its
 * bearer token (never the token) and its scopes. Authenticating hashes the presented
 * token once and compares the digest with every client's digest using
 * crypto.timingSafeEqual, without stopping at a match: the work done does not depend on
 * which client, if any, holds the token. Failures say only "missing" or "invalid" and
 * never repeat the token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
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
  return createHash('sha256').update(token, 'utf8').digest('hex');
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
  };
}

interface Entry {
  readonly client: Client;
  readonly digest: Buffer;
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
  authenticate(authorization: string | undefined): Client {
    if (authorization === undefined || authorization.trim() === '') {
      throw new NotaryHsmError('UNAUTHENTICATED', 'missing bearer token', {
        details: { reason: 'missing' },
      });
    }
    const m = authorization.length <= MAX_AUTHORIZATION_LENGTH ? BEARER.exec(authorization) : null;
    const token = m?.[1];
    let found: Client | undefined;
    if (token !== undefined) {
      const digest = createHash('sha256').update(token, 'utf8').digest();
      // Every digest is compared, a match does not end the loop: constant work per client.
      for (const e of this.entries) {
        const same = timingSafeEqual(digest, e.digest);
        found = same ? e.client : found;
      }
    }
    if (found === undefined) {
      throw new NotaryHsmError('UNAUTHENTICATED', 'invalid bearer token', {
        details: { reason: 'invalid' },
      });
    }
    return found;
  }
}
