/**
 * NotaryServerClient: the library's HTTP client for notary-server's trust-data API
 * (notary-v1.md §2). Bytes in, bytes out — parsing and verifying metadata is the caller's
 * job. Downloads are bounded as the Go client bounds them (timestamp 1 MiB, files of
 * unknown size 100 MiB, server keys 256 KiB, error bodies read up to 64 KiB); a publish is
 * one multipart POST shaped exactly like Go's. Every failure is a NotaryHsmError with a
 * SERVER_* code (see server-errors.ts), or USAGE / ROLE_NAME_INVALID for bad arguments.
 */
import { NotaryHsmError } from '../errors';
import { HttpTransport, displayUrl, parseServerUrl, type HttpResponse } from './http';
import { multipartBody, type MultipartFile } from './multipart';
import { encodeGun, encodeRole, tufUrl } from './paths';
import { serverError } from './server-errors';
import { RegistryTokenAuth, type RegistryCredentials } from './token-auth';

/** Download bounds, as the Go client (const.go, storage/httpstore.go). */
export const MAX_TIMESTAMP_BYTES = 1 << 20;
export const MAX_UNKNOWN_BYTES = 100 << 20;
export const MAX_KEY_BYTES = 256 << 10;
export const MAX_ERROR_BYTES = 64 << 10;
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Where the server is and how to trust it. */
export interface NotaryServerClientOptions {
  /** Base URL, `http://` or `https://`, e.g. `https://127.0.0.1:4443` (a path prefix is kept). */
  url: string;
  /** PEM CA certificate(s) for an https server with a private CA (replaces the system CAs). */
  ca?: Buffer | string;
  /** A client certificate chain and its key (PEM), for a server that asks for one. */
  cert?: Buffer | string;
  key?: Buffer | string;
  /** Registry credentials for the token service (NOTARY_AUTH); without them tokens are asked for anonymously. */
  credentials?: RegistryCredentials;
  /** Deadline for each request in milliseconds (default 30 s). */
  timeoutMs?: number;
}

function checkMax(maxBytes: number): number {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new NotaryHsmError(
      'USAGE',
      `maxBytes must be a non-negative integer, got ${String(maxBytes)}`,
    );
  }
  return maxBytes;
}

/** Reads and writes the trust data of GUNs on one notary-server. */
export class NotaryServerClient {
  readonly url: string;
  private readonly base: URL;
  private readonly transport: HttpTransport;
  private readonly auth: RegistryTokenAuth;

  /** throws: USAGE (not an http(s) URL, bad timeout) */
  constructor(opts: NotaryServerClientOptions) {
    this.base = parseServerUrl(opts.url);
    this.url = displayUrl(this.base);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new NotaryHsmError(
        'USAGE',
        `timeoutMs must be a positive number, got ${String(timeoutMs)}`,
      );
    }
    this.transport = new HttpTransport({
      timeoutMs,
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
      ...(opts.cert === undefined ? {} : { cert: opts.cert }),
      ...(opts.key === undefined ? {} : { key: opts.key }),
    });
    this.auth = new RegistryTokenAuth(
      this.transport,
      opts.credentials === undefined ? {} : { credentials: opts.credentials },
    );
  }

  /** The current `<role>.json`. throws: SERVER_*, ROLE_NAME_INVALID, USAGE */
  async getCurrent(
    gun: string,
    role: string,
    maxBytes?: number,
    opts: { timeoutMs?: number } = {},
  ): Promise<Buffer> {
    return await this.download(
      gun,
      role,
      `${encodeRole(role)}.json`,
      `${role}.json`,
      maxBytes,
      opts.timeoutMs,
    );
  }

  /** `<version>.<role>.json`. throws: SERVER_*, ROLE_NAME_INVALID, USAGE */
  async getByVersion(
    gun: string,
    role: string,
    version: number,
    maxBytes?: number,
    opts: { timeoutMs?: number } = {},
  ): Promise<Buffer> {
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new NotaryHsmError('USAGE', `version must be an integer ≥ 1, got ${String(version)}`);
    }
    return await this.download(
      gun,
      role,
      `${version}.${encodeRole(role)}.json`,
      `${version}.${role}.json`,
      maxBytes,
      opts.timeoutMs,
    );
  }

  /** `<role>.<sha256-hex>.json`; the length is known from the parent, so the bound is required. */
  async getByHash(
    gun: string,
    role: string,
    sha256Hex: string,
    maxBytes: number,
    opts: { timeoutMs?: number } = {},
  ): Promise<Buffer> {
    if (typeof sha256Hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256Hex)) {
      throw new NotaryHsmError('USAGE', `not a SHA-256 hex digest: ${JSON.stringify(sha256Hex)}`);
    }
    const hex = sha256Hex.toLowerCase();
    return await this.download(
      gun,
      role,
      `${encodeRole(role)}.${hex}.json`,
      `${role}.${hex}.json`,
      checkMax(maxBytes),
      opts.timeoutMs,
    );
  }

  /** The server-held key for `role` (created on demand when no root is stored yet). */
  getServerKey(gun: string, role: 'timestamp' | 'snapshot'): Promise<Buffer> {
    return this.keyRequest('GET', gun, role);
  }

  /** Asks the server for a new key for `role`; nothing changes until a root lists it. */
  rotateServerKey(gun: string, role: 'timestamp' | 'snapshot'): Promise<Buffer> {
    return this.keyRequest('POST', gun, role);
  }

  /** Uploads the files in one atomic multipart request. throws: SERVER_*, ROLE_NAME_INVALID, USAGE */
  async publish(
    gun: string,
    files: ReadonlyArray<MultipartFile>,
    opts: { timeoutMs?: number } = {},
  ): Promise<void> {
    if (files.length === 0) throw new NotaryHsmError('USAGE', `nothing to publish for ${gun}`);
    const roles = files.map((f) => f.role);
    roles.forEach((role) => encodeRole(role));
    const dup = roles.find((r, i) => roles.indexOf(r) !== i);
    if (dup !== undefined)
      throw new NotaryHsmError('USAGE', `role ${dup} given twice in one publish`);
    const { contentType, parts } = multipartBody(files);
    await this.send('POST', gun, '', 'the update', {
      body: parts,
      headers: { 'content-type': contentType },
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
  }

  /** Deletes all trust data of `gun` on the server. throws: SERVER_*, USAGE */
  async deleteRepository(gun: string): Promise<void> {
    await this.send('DELETE', gun, '', 'the repository');
  }

  /** Closes idle keep-alive connections (the client stays usable). */
  close(): void {
    this.transport.close();
  }

  private async keyRequest(method: 'GET' | 'POST', gun: string, role: string): Promise<Buffer> {
    if (role !== 'timestamp' && role !== 'snapshot') {
      throw new NotaryHsmError(
        'ROLE_NAME_INVALID',
        `the server holds only timestamp and snapshot keys, not ${JSON.stringify(role)}`,
      );
    }
    return (await this.send(method, gun, `${role}.key`, `${role}.key`, { maxBytes: MAX_KEY_BYTES }))
      .body;
  }

  private async download(
    gun: string,
    role: string,
    file: string,
    what: string,
    maxBytes?: number,
    timeoutMs?: number,
  ): Promise<Buffer> {
    const bound = maxBytes === undefined ? defaultBound(role) : checkMax(maxBytes);
    const res = await this.send('GET', gun, file, what, {
      maxBytes: bound,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    // A file is a 200 with its bytes; 201, 204 and the like carry no file (an empty one
    // would otherwise be read as the file).
    if (res.status !== 200) {
      throw new NotaryHsmError(
        'SERVER_BAD_RESPONSE',
        `the Notary server answered ${what} of ${gun} with status ${res.status}, not 200 and the file`,
        { details: { gun, file: what, status: res.status } },
      );
    }
    return res.body;
  }

  private async send(
    method: 'GET' | 'POST' | 'DELETE',
    gun: string,
    file: string,
    what: string,
    opts: {
      maxBytes?: number;
      /** The body, or its parts in order. */
      body?: Buffer | readonly Buffer[];
      headers?: Record<string, string>;
      timeoutMs?: number;
    } = {},
  ): Promise<HttpResponse> {
    const url = tufUrl(this.base, encodeGun(gun), file);
    // The scope a request needs depends on the GUN, the method and, for server keys
    // (created on demand), the kind of file; the last challenge per such key is kept.
    const authKey = `${method} ${gun} ${file.endsWith('.key') ? 'key' : 'data'}`;
    const attempt = (authorization: string | undefined): Promise<HttpResponse> =>
      this.transport.request({
        method,
        url,
        maxBytes: opts.maxBytes ?? MAX_ERROR_BYTES,
        maxErrorBytes: MAX_ERROR_BYTES,
        ...(opts.body === undefined ? {} : { body: opts.body }),
        headers: {
          ...opts.headers,
          ...(authorization === undefined ? {} : { authorization }),
        },
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      });
    const cached = this.auth.headerFor(authKey);
    let res = await attempt(cached);
    if (res.status === 401) {
      // Registry token auth: a Bearer challenge is answered once with a fresh token.
      const authorization = await this.auth.answer(
        authKey,
        res.headers['www-authenticate'],
        cached,
      );
      if (authorization !== undefined) {
        res = await attempt(authorization);
        if (res.status === 401) {
          throw new NotaryHsmError(
            'SERVER_AUTH',
            `the Notary server refused the token the token service issued for ${what} of ${gun} (${method}); ` +
              'the credentials in NOTARY_AUTH may not grant access to this repository',
            { details: { status: 401, url: displayUrl(url), gun } },
          );
        }
      }
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw serverError(res, { method, url: displayUrl(url), gun, what });
  }
}

function defaultBound(role: string): number {
  return role === 'timestamp' ? MAX_TIMESTAMP_BYTES : MAX_UNKNOWN_BYTES;
}
