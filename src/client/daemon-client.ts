/**
 * The client side of notary-hsmd's REST API (v1): what the CLI and library use to have
 * metadata signed by keys that live behind the daemon. The daemon never signs bytes it
 * did not compute itself, so this client sends metadata (`signed` objects), not bytes;
 * the signatures it gets back are verified locally before they are used. Errors the
 * daemon reports keep their stable codes.
 */
import { NotaryHsmError, isNotaryHsmError, type ErrorCode } from '../errors';
import { isJsonObject, parseJson, type JsonValue } from '../metadata/json';
import { TufKey } from '../metadata/keys';
import { HttpTransport, parseServerUrl } from '../notary/http';
import type { KeyView, RootCertificateResult, SignResult, TokenStatusView } from '../signing/types';

export interface DaemonClientOptions {
  /** Base URL, e.g. http://127.0.0.1:7468. */
  url: string;
  /** The client's bearer token. Never logged. */
  token: string;
  timeoutMs?: number;
}

const MAX_BYTES = 4 << 20;

export class DaemonClient {
  private readonly base: URL;
  private readonly token: string;
  private readonly http: HttpTransport;

  constructor(opts: DaemonClientOptions) {
    this.base = parseServerUrl(opts.url);
    this.token = opts.token;
    this.http = new HttpTransport({ timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = new URL(this.base.origin + this.base.pathname.replace(/\/$/, '') + path);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
    };
    let bytes: Buffer | undefined;
    if (body !== undefined) {
      bytes = Buffer.from(JSON.stringify(body), 'utf8');
      headers['content-type'] = 'application/json';
    }
    let res;
    try {
      res = await this.http.request({
        method,
        url,
        headers,
        ...(bytes ? { body: bytes } : {}),
        maxBytes: MAX_BYTES,
        maxErrorBytes: 64 << 10,
      });
    } catch (err) {
      if (isNotaryHsmError(err, 'SERVER_UNREACHABLE', 'SERVER_TIMEOUT')) {
        throw new NotaryHsmError(
          'DAEMON_UNREACHABLE',
          `notary-hsmd at ${this.base.origin} did not answer: is it running? (make run)`,
          { cause: err },
        );
      }
      throw err;
    }
    let parsed: JsonValue;
    try {
      parsed = parseJson(res.body);
    } catch (cause) {
      throw new NotaryHsmError(
        'DAEMON_BAD_RESPONSE',
        `notary-hsmd answered ${res.status} with a body that is not JSON`,
        { cause },
      );
    }
    if (res.status >= 200 && res.status < 300) return parsed as T;
    const e = isJsonObject(parsed) && isJsonObject(parsed.error) ? parsed.error : undefined;
    const code = typeof e?.code === 'string' ? e.code : 'DAEMON_BAD_RESPONSE';
    const message =
      typeof e?.message === 'string' ? e.message : `notary-hsmd answered ${res.status}`;
    throw new NotaryHsmError(code as ErrorCode, message, {
      details: {
        ...(isJsonObject(e?.details) ? e.details : {}),
        status: res.status,
        ...(typeof e?.requestId === 'string' ? { requestId: e.requestId } : {}),
      },
    });
  }

  tokens(): Promise<{ tokens: TokenStatusView[] }> {
    return this.call('GET', '/v1/tokens');
  }

  keys(gun?: string): Promise<{ keys: KeyView[] }> {
    return this.call(
      'GET',
      gun === undefined ? '/v1/keys' : `/v1/keys?gun=${encodeURIComponent(gun)}`,
    );
  }

  /**
   * The TUF public keys of the daemon keys `names`, as the daemon offers them to this
   * client (for `gun`, when given).
   * throws: KEY_NOT_FOUND (a name the daemon does not offer)
   */
  async tufKeys(names: readonly string[], gun?: string): Promise<TufKey[]> {
    const offered = (await this.keys(gun)).keys;
    return names.map((name) => {
      const k = offered.find((x) => x.name === name);
      if (!k) {
        throw new NotaryHsmError(
          'KEY_NOT_FOUND',
          `notary-hsmd offers this client no key named ${name}${gun === undefined ? '' : ` for ${gun}`} (notary-hsm keys list)`,
        );
      }
      return TufKey.fromJson(k.publicKey, '/publicKey');
    });
  }

  generateKey(req: {
    token: string;
    label: string;
    id?: string;
    role: KeyView['role'];
  }): Promise<{ key: KeyView }> {
    return this.call('POST', '/v1/keys', req);
  }

  rootCertificate(req: { gun: string; key: string; pin?: string }): Promise<RootCertificateResult> {
    return this.call('POST', '/v1/certificates/root', req);
  }

  /** Admin: the repository `gun` was deleted on the server; its versions start over. */
  resetRepository(gun: string): Promise<{ gun: string; forgotten: number }> {
    return this.call('POST', '/v1/repositories/reset', { gun });
  }

  signRoot(req: {
    gun: string;
    signed: JsonValue;
    keys?: string[];
    pin?: string;
  }): Promise<SignResult> {
    return this.call('POST', '/v1/sign/root', req);
  }

  signTargets(req: { gun: string; signed: JsonValue; keys?: string[] }): Promise<SignResult> {
    return this.call('POST', '/v1/sign/targets', req);
  }

  signDelegation(req: {
    gun: string;
    role: string;
    signed: JsonValue;
    keys?: string[];
  }): Promise<SignResult> {
    return this.call('POST', '/v1/sign/delegation', req);
  }
}
