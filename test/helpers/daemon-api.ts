/**
 * What the daemon integration tests share: JSON calls to a running notary-hsmd over plain
 * HTTP (own request IDs, any token), the checks every error answer must pass, valid
 * `signed` documents built with the metadata models, signature checks with the daemon's
 * public keys, and reading the audit log back.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { canonicalBytes } from '../../src/metadata/canonical';
import { FileMeta } from '../../src/metadata/file-meta';
import { parseJson, type JsonObject, type JsonValue } from '../../src/metadata/json';
import { TufKey } from '../../src/metadata/keys';
import { Root } from '../../src/metadata/root';
import { Targets } from '../../src/metadata/targets';
import { GoTime } from '../../src/metadata/time';
import { verifySignature } from '../../src/metadata/verify';
import type { AuditEntry } from '../../src/signing/types';
import { AUDIT_LOG_FILE, readAudit } from '../../src/store';
import { rawRequest, type RawRequest, type RawResponse } from './raw-http';

/** A SCREAMING_SNAKE error code. */
export const ERROR_CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

export interface JsonCall {
  readonly method?: string;
  readonly path: string;
  /** A bearer token (sent as `Authorization: Bearer <token>`), or none. */
  readonly token?: string;
  /** Serialised with JSON.stringify. */
  readonly json?: unknown;
  readonly requestId?: string;
}

/** An answer with its body parsed (strictly) when it is JSON. */
export interface ApiResponse extends RawResponse {
  readonly body: JsonValue | undefined;
}

export function parsed(res: RawResponse): ApiResponse {
  let body: JsonValue | undefined;
  try {
    body = parseJson(res.text);
  } catch {
    body = undefined;
  }
  return { ...res, body };
}

/** Sends a raw request and parses the answer. */
export async function send(base: string, req: RawRequest): Promise<ApiResponse> {
  return parsed(await rawRequest(base, req));
}

/** A JSON request with an optional bearer token and request ID. */
export function call(
  base: string,
  c: JsonCall,
  extra: Partial<RawRequest> = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (c.token !== undefined) headers.Authorization = `Bearer ${c.token}`;
  if (c.requestId !== undefined) headers['X-Request-Id'] = c.requestId;
  if (c.json !== undefined) headers['Content-Type'] = 'application/json';
  return send(base, {
    method: c.method ?? (c.json === undefined ? 'GET' : 'POST'),
    path: c.path,
    ...(c.json === undefined ? {} : { body: JSON.stringify(c.json) }),
    ...extra,
    headers: { ...headers, ...(extra.headers ?? {}) },
  });
}

/** True when the daemon at `url` answers /readyz 200. */
export async function isReady(url: string): Promise<boolean> {
  return (await call(url, { path: '/readyz' })).status === 200;
}

/** Codes whose error answers carry `details` (version refusals: what the client acts on). */
const WITH_DETAILS: ReadonlySet<string> = new Set(['VERSION_ROLLBACK', 'VERSION_JUMP']);

/**
 * The error member of an answer, checked to be exactly `{code, message, requestId}`, plus
 * `details` for the codes that carry them.
 */
export function errorOf(res: ApiResponse): {
  code: string;
  message: string;
  requestId: string;
  details?: JsonObject;
} {
  const b = res.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw new Error(`answer ${res.status} is not a JSON object: ${res.text.slice(0, 200)}`);
  }
  expect(Object.keys(b)).toEqual(['error']);
  const e = b.error;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) {
    throw new Error(`answer ${res.status} has no error object: ${res.text.slice(0, 200)}`);
  }
  const { code, message, requestId, details } = e;
  if (typeof code !== 'string' || typeof message !== 'string' || typeof requestId !== 'string') {
    throw new Error(`answer ${res.status} has error members of the wrong types: ${res.text}`);
  }
  const members = WITH_DETAILS.has(code)
    ? ['code', 'details', 'message', 'requestId']
    : ['code', 'message', 'requestId'];
  expect(Object.keys(e).sort()).toEqual(members);
  if (details === undefined) return { code, message, requestId };
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw new Error(`answer ${res.status} has details that are not an object: ${res.text}`);
  }
  return { code, message, requestId, details };
}

/** A 2xx answer's JSON object body. */
export function okBody(res: ApiResponse): JsonObject {
  if (res.status < 200 || res.status > 299) {
    throw new Error(`expected success, got ${res.status}: ${res.text.slice(0, 500)}`);
  }
  const b = res.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw new Error(`answer ${res.status} is not a JSON object: ${res.text.slice(0, 200)}`);
  }
  return b;
}

export interface WireSig {
  readonly keyid: string;
  readonly method: string;
  readonly sig: string;
}

/** The `signatures` of a sign answer. */
export function signaturesOf(res: ApiResponse): WireSig[] {
  const b = okBody(res);
  const sigs = b.signatures;
  if (!Array.isArray(sigs)) throw new Error(`no signatures in ${res.text.slice(0, 200)}`);
  return sigs.map((s) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new Error('bad signature');
    const { keyid, method, sig } = s;
    if (typeof keyid !== 'string' || typeof method !== 'string' || typeof sig !== 'string') {
      throw new Error(`bad signature ${JSON.stringify(s)}`);
    }
    return { keyid, method, sig };
  });
}

/** True when `sig` is `key`'s signature over the canonical bytes of `signed`. */
export function signatureVerifies(key: TufKey, signed: JsonValue, sig: WireSig): boolean {
  return verifySignature(key, sig.method, canonicalBytes(signed), Buffer.from(sig.sig, 'base64'));
}

/** Hex SHA-256 of the canonical bytes of `signed` (what the audit log's payloadDigest holds). */
export function payloadDigest(signed: JsonValue): string {
  return createHash('sha256').update(canonicalBytes(signed)).digest('hex');
}

/** Configured keys as GET /v1/keys shows them to `token`: name → TUF key. */
export async function daemonKeys(base: string, token: string): Promise<Map<string, TufKey>> {
  const b = okBody(await call(base, { path: '/v1/keys', token }));
  const keys = b.keys;
  if (!Array.isArray(keys)) throw new Error('GET /v1/keys: no keys');
  const out = new Map<string, TufKey>();
  for (const k of keys) {
    if (typeof k !== 'object' || k === null || Array.isArray(k) || typeof k.name !== 'string') {
      throw new Error('GET /v1/keys: bad entry');
    }
    const key = TufKey.fromJson(k.publicKey, '/publicKey');
    expect(k.keyId).toBe(key.id);
    out.set(k.name, key);
  }
  return out;
}

/** The root certificate (as an `ecdsa-x509` TUF key) the daemon makes for `gun` with `key`. */
export async function rootCertificate(
  base: string,
  token: string,
  gun: string,
  key = 'root',
  requestId?: string,
): Promise<TufKey> {
  const b = okBody(
    await call(base, {
      path: '/v1/certificates/root',
      token,
      json: { gun, key },
      ...(requestId ? { requestId } : {}),
    }),
  );
  const k = TufKey.fromJson(b.publicKey, '/publicKey');
  expect(b.keyId).toBe(k.id);
  return k;
}

/** sha256 FileMeta of some bytes, as a Docker tag's target. */
export function tagMeta(content: string): FileMeta {
  const bytes = Buffer.from(content);
  return FileMeta.sha256(createHash('sha256').update(bytes).digest(), bytes.length);
}

/** A valid `signed` Targets document (top-level or delegation). */
export function targetsDoc(
  version: number,
  names: readonly string[] = ['v1'],
  opts: { days?: number; expires?: GoTime } = {},
): JsonObject {
  return new Targets({
    expires: opts.expires ?? GoTime.daysFromNow(opts.days ?? 30),
    version,
    targets: new Map(names.map((n) => [n, tagMeta(`manifest ${n} ${version}`)])),
  }).toJson();
}

/** A valid `signed` Root document: `rootKey` signs root, `otherKey` the three other roles. */
export function rootDoc(
  version: number,
  rootKey: TufKey,
  otherKey: TufKey,
  opts: { days?: number; expires?: GoTime } = {},
): JsonObject {
  return new Root({
    expires: opts.expires ?? GoTime.daysFromNow(opts.days ?? 365),
    version,
    keys: new Map([
      [rootKey.id, rootKey],
      [otherKey.id, otherKey],
    ]),
    roles: new Map([
      ['root', { keyIds: [rootKey.id], threshold: 1 }],
      ['targets', { keyIds: [otherKey.id], threshold: 1 }],
      ['snapshot', { keyIds: [otherKey.id], threshold: 1 }],
      ['timestamp', { keyIds: [otherKey.id], threshold: 1 }],
    ]),
  }).toJson();
}

/** Every record of the audit log in `stateDir` (a last line still being written is left out). */
export async function auditRecords(stateDir: string): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const r of readAudit(join(stateDir, AUDIT_LOG_FILE))) out.push(r);
  return out;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
