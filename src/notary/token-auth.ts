/**
 * Registry token auth, as Docker and the notary CLI speak it to a Notary server behind a
 * registry's token service: the server answers 401 with `WWW-Authenticate: Bearer
 * realm="…",service="…",scope="…"`; we GET the realm with `service` and `scope` (and HTTP
 * basic auth when credentials are given — `NOTARY_AUTH`, base64 `user:password`), take
 * `token` (or `access_token`) from its JSON answer and retry with `Authorization: Bearer`.
 * Tokens are cached per realm, service and scope until `issued_at + expires_in` (60 s when
 * the service gives no lifetime, as Docker assumes), a little earlier to allow for skew.
 *
 * Credentials and tokens never appear in messages, details or logs. Basic credentials are
 * sent only over https, or plain http to a loopback realm.
 */
import { NotaryHsmError } from '../errors';
import { displayUrl, type HttpTransport } from './http';

/** A user name and password for the token service. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/** What a `WWW-Authenticate: Bearer …` challenge asks for. */
export interface BearerChallenge {
  readonly realm: string;
  readonly service?: string;
  readonly scope?: string;
}

/** The lifetime Docker assumes when the token service names none. */
const DEFAULT_EXPIRES_S = 60;
/** Tokens are dropped this long before they expire (clock skew, time in flight). */
const EARLY_S = 10;
const MAX_TOKEN_BYTES = 64 << 10;

/**
 * Reads NOTARY_AUTH (base64 of `user:password`, as the notary CLI does).
 * throws: USAGE (not base64 of `user:password`; the value is never quoted)
 */
export function credentialsFromNotaryAuth(
  value: string | undefined,
): RegistryCredentials | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(text)
    ? Buffer.from(text, 'base64').toString('utf8')
    : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw new NotaryHsmError(
      'USAGE',
      'NOTARY_AUTH is not base64 of user:password (make it with: printf %s "$USER:$PASSWORD" | base64 -w0)',
    );
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Parses a `WWW-Authenticate` value; undefined unless it is a Bearer challenge with a realm. */
export function parseBearerChallenge(
  header: string | string[] | undefined,
): BearerChallenge | undefined {
  for (const value of Array.isArray(header) ? header : header === undefined ? [] : [header]) {
    const m = /^\s*Bearer\s+(.*)$/i.exec(value);
    if (!m) continue;
    const params: Record<string, string> = {};
    const re = /([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/g;
    for (let p = re.exec(m[1] as string); p !== null; p = re.exec(m[1] as string)) {
      const key = (p[1] as string).toLowerCase();
      params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    }
    if (!params.realm) continue;
    return {
      realm: params.realm,
      ...(params.service ? { service: params.service } : {}),
      ...(params.scope ? { scope: params.scope } : {}),
    };
  }
  return undefined;
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function authError(message: string, details: Record<string, unknown> = {}): NotaryHsmError {
  return new NotaryHsmError('SERVER_AUTH', message, { details });
}

/** Gets and caches bearer tokens from registry token services. */
export class RegistryTokenAuth {
  private readonly cache = new Map<string, { token: string; until: number }>();
  private readonly inFlight = new Map<string, Promise<{ token: string; until: number }>>();
  /** The last challenge seen per request key (`GUN METHOD`), so later requests send a token at once. */
  private readonly challenges = new Map<string, BearerChallenge>();
  private readonly credentials: RegistryCredentials | undefined;
  private readonly now: () => number;

  constructor(
    private readonly transport: HttpTransport,
    opts: { credentials?: RegistryCredentials; now?: () => number } = {},
  ) {
    this.credentials = opts.credentials;
    this.now = opts.now ?? Date.now;
  }

  /** The `Authorization` header for a request under `key`, when a cached token fits it. */
  headerFor(key: string): string | undefined {
    const challenge = this.challenges.get(key);
    if (challenge === undefined) return undefined;
    const hit = this.cache.get(cacheKey(challenge));
    return hit !== undefined && hit.until > this.now() ? `Bearer ${hit.token}` : undefined;
  }

  /**
   * Answers a 401 with its `WWW-Authenticate` header: the `Authorization` value to retry
   * with, or undefined when it is no Bearer challenge (the caller reports the 401). `sent`
   * is the `Authorization` the refused request carried. Requests refused at the same time
   * share one fetch; a token fetched meanwhile by another request is used as it is.
   * throws: SERVER_AUTH (credentials missing or refused, or no usable token), SERVER_UNREACHABLE, SERVER_TIMEOUT
   */
  async answer(
    key: string,
    header: string | string[] | undefined,
    sent: string | undefined,
  ): Promise<string | undefined> {
    const challenge = parseBearerChallenge(header);
    if (challenge === undefined) return undefined;
    this.challenges.set(key, challenge);
    const ck = cacheKey(challenge);
    const hit = this.cache.get(ck);
    if (hit !== undefined && hit.until > this.now() && `Bearer ${hit.token}` !== sent) {
      return `Bearer ${hit.token}`;
    }
    let pending = this.inFlight.get(ck);
    if (pending === undefined) {
      pending = this.fetch(challenge).finally(() => this.inFlight.delete(ck));
      this.inFlight.set(ck, pending);
    }
    const got = await pending;
    this.cache.set(ck, got);
    return `Bearer ${got.token}`;
  }

  private async fetch(challenge: BearerChallenge): Promise<{ token: string; until: number }> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw authError(
        `the Notary server's token realm is not a URL: ${JSON.stringify(challenge.realm.slice(0, 200))}`,
      );
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw authError(`the Notary server's token realm ${displayUrl(realm)} is not http(s)`);
    }
    const where = displayUrl(realm);
    const creds = this.credentials;
    if (creds !== undefined && realm.protocol === 'http:' && !isLoopbackHost(realm.hostname)) {
      throw authError(
        `the token service ${where} is plain http; credentials from NOTARY_AUTH are sent only over https`,
        { realm: where },
      );
    }
    if (challenge.service !== undefined) realm.searchParams.set('service', challenge.service);
    if (challenge.scope !== undefined) realm.searchParams.set('scope', challenge.scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
    }
    const issuedBefore = this.now();
    const res = await this.transport.request({
      method: 'GET',
      url: realm,
      headers,
      maxBytes: MAX_TOKEN_BYTES,
      maxErrorBytes: 4096,
    });
    const scope = challenge.scope ?? '(no scope)';
    const details = { realm: where, status: res.status, scope };
    if (res.status === 401 || res.status === 403) {
      throw authError(
        creds === undefined
          ? `the Notary server needs registry credentials for ${scope}, and the token service ${where} refused an anonymous request (HTTP ${res.status}); set NOTARY_AUTH to base64 of user:password`
          : `the token service ${where} refused the credentials from NOTARY_AUTH for ${scope} (HTTP ${res.status}); check the user name and password`,
        details,
      );
    }
    if (res.status < 200 || res.status >= 300) {
      throw authError(
        `the token service ${where} answered HTTP ${res.status} for ${scope}`,
        details,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw authError(`the token service ${where} answered with a body that is not JSON`, details);
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const token = typeof b.token === 'string' && b.token !== '' ? b.token : b.access_token;
    if (typeof token !== 'string' || token === '' || /[\s]/.test(token)) {
      throw authError(`the token service ${where} answered without a token`, details);
    }
    const expiresIn =
      typeof b.expires_in === 'number' && Number.isFinite(b.expires_in) && b.expires_in > 0
        ? b.expires_in
        : DEFAULT_EXPIRES_S;
    const issued = typeof b.issued_at === 'string' ? Date.parse(b.issued_at) : NaN;
    const from = Number.isFinite(issued) ? issued : issuedBefore;
    return { token, until: from + (expiresIn - Math.min(EARLY_S, expiresIn / 2)) * 1000 };
  }
}

function cacheKey(c: BearerChallenge): string {
  return JSON.stringify([c.realm, c.service ?? '', c.scope ?? '']);
}
