/**
 * The client side of notary-hsmd's REST API (v1): what the CLI and library use to have
 * metadata signed by keys that live behind the daemon. The daemon never signs bytes it
 * did not compute itself, so this client sends metadata (`signed` objects), not bytes;
 * the signatures it gets back are verified locally before they are used. Errors the
 * daemon reports keep their stable codes.
 */
import type * as Tls from 'node:tls';
import { NotaryHsmError, isNotaryHsmError, type ErrorCode } from '../errors';
import { isJsonObject, parseJson, type JsonValue } from '../metadata/json';
import { TufKey } from '../metadata/keys';
import { HttpTransport, parseServerUrl } from '../notary/http';
import type {
  KeyTouchView,
  KeyView,
  RootCertificateResult,
  SignResult,
  TokenStatusView,
} from '../signing/types';

export interface DaemonClientOptions {
  /**
   * Where the daemon is: `http://127.0.0.1:7468`, `https://signer.example:7468` (mutual
   * TLS) or `unix:/run/notary-hsm/notary-hsmd.sock`.
   */
  url: string;
  /** The client's bearer token. Never logged. */
  token: string;
  timeoutMs?: number;
  /** For https: the daemon's CA (PEM), and this client's certificate and key (PEM). */
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  /**
   * Told once when a signature takes longer than `touchNoticeMs` (default 1 s) and a key
   * it may use sits on a token that can wait for a touch (the daemon says so per key).
   */
  onTouchWait?: (message: string) => void;
  touchNoticeMs?: number;
}

const MAX_BYTES = 4 << 20;
const TOUCH_NOTICE_MS = 1000;

/** `unix:PATH` → the socket path; undefined for a URL. */
function unixSocketOf(url: string): string | undefined {
  if (!url.startsWith('unix:')) return undefined;
  const path = url.slice('unix:'.length);
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new NotaryHsmError('USAGE', `--signer ${url}: give the socket as unix:/absolute/path`);
  }
  return path;
}

/**
 * Whether whoever listens at host:port completes a TLS handshake (its certificate is not
 * checked: nothing is sent over it). Asked only after a plain request was dropped.
 */
function speaksTls(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- only for this rare probe
    const tls = require('node:tls') as typeof Tls;
    const socket = tls.connect({ host, port, rejectUnauthorized: false, servername: '' });
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), TLS_PROBE_MS);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** How long the TLS question may take. */
const TLS_PROBE_MS = 1000;

/**
 * JSON text to be sent as it is, in place of a value: a document the client already holds
 * in canonical form (10,000 targets are ~1 MB) is not serialised a second time, and given
 * as UTF-8 bytes (the message its signatures cover) not encoded a second time either.
 */
export class JsonText {
  readonly bytes: Buffer;

  constructor(text: string | Buffer) {
    this.bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  }
}

/**
 * A request body's bytes in parts, sent in order: a `JsonText` member is spliced in
 * verbatim, last, as its own bytes (a 2 MB document is not copied into a body).
 */
export function requestParts(body: Record<string, unknown>): Buffer[] {
  const raw = Object.entries(body).filter(([, v]) => v instanceof JsonText);
  if (raw.length === 0) return [Buffer.from(JSON.stringify(body), 'utf8')];
  const rest = Object.fromEntries(Object.entries(body).filter(([, v]) => !(v instanceof JsonText)));
  let text = JSON.stringify(rest).slice(0, -1);
  const parts: Buffer[] = [];
  for (const [k, v] of raw) {
    text += `${text.length > 1 || parts.length > 0 ? ',' : ''}${JSON.stringify(k)}:`;
    parts.push(Buffer.from(text, 'utf8'), (v as JsonText).bytes);
    text = '';
  }
  parts.push(Buffer.from('}', 'utf8'));
  return parts;
}

export class DaemonClient {
  private readonly base: URL;
  private readonly where: string;
  private readonly token: string;
  private readonly http: HttpTransport;
  private readonly onTouchWait: ((message: string) => void) | undefined;
  private readonly touchNoticeMs: number;
  /** Which of this client's keys may wait for a touch (asked once, for touch notices). */
  private touchy?: Promise<readonly KeyTouchView[]>;

  /** throws: USAGE (a bad URL or socket path, a certificate without its key) */
  constructor(opts: DaemonClientOptions) {
    const socketPath = unixSocketOf(opts.url);
    this.base = socketPath === undefined ? parseServerUrl(opts.url) : new URL('http://localhost/');
    this.where = socketPath === undefined ? this.base.origin : `unix:${socketPath}`;
    this.token = opts.token;
    this.http = new HttpTransport({
      timeoutMs: opts.timeoutMs ?? 60_000,
      ...(socketPath === undefined ? {} : { socketPath }),
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
      ...(opts.cert === undefined ? {} : { cert: opts.cert }),
      ...(opts.key === undefined ? {} : { key: opts.key }),
    });
    this.onTouchWait = opts.onTouchWait;
    this.touchNoticeMs = opts.touchNoticeMs ?? TOUCH_NOTICE_MS;
  }

  /**
   * Runs a signing call; if it is still waiting after touchNoticeMs and one of the keys it
   * may use (`keys`, or any key of `role` when the daemon picks) can wait for a touch,
   * tells onTouchWait once.
   */
  private async touchAware<T>(
    role: KeyView['role'],
    keys: readonly string[] | undefined,
    work: Promise<T>,
  ): Promise<T> {
    const notify = this.onTouchWait;
    if (notify === undefined) return work;
    let done = false;
    const timer = setTimeout(() => {
      void (async () => {
        let known: readonly KeyTouchView[];
        try {
          this.touchy ??= this.call<{ keys: KeyTouchView[] }>('GET', '/v1/keys/touch').then(
            (r) => r.keys,
          );
          known = await this.touchy;
        } catch {
          return; // the notice is a courtesy; the signature's own answer tells the rest
        }
        if (done) return;
        const touchy = known.filter(
          (k) => k.touch && (keys === undefined ? k.role === role : keys.includes(k.name)),
        );
        if (touchy.length === 0) return;
        const tokens = [...new Set(touchy.map((k) => k.token))].join(', ');
        const names = touchy.map((k) => k.name).join(', ');
        notify(
          `touch the key: notary-hsmd is waiting for a touch on token ${tokens} (key ${names}); ` +
            'the key blinks while it waits',
        );
      })();
    }, this.touchNoticeMs);
    try {
      return await work;
    } finally {
      done = true;
      clearTimeout(timer);
    }
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
  ): Promise<T> {
    const url = new URL(this.base.origin + this.base.pathname.replace(/\/$/, '') + path);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
    };
    let bytes: Buffer[] | undefined;
    if (body !== undefined) {
      bytes = requestParts(body);
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
      const errorCode = isNotaryHsmError(err) ? err.details.errorCode : undefined;
      if (typeof errorCode === 'string' && /SSL|TLS|CERT|UNABLE_TO_VERIFY/.test(errorCode)) {
        // Not worth a retry: the same certificates fail the same way.
        throw new NotaryHsmError(
          'DAEMON_TLS',
          `the TLS handshake with notary-hsmd at ${this.where} failed (${errorCode}): it needs ` +
            "a client certificate its CA signed (--signer-cert, --signer-key) and the daemon's CA (--signer-cacert)",
          { cause: err, details: { errorCode } },
        );
      }
      if (
        isNotaryHsmError(err, 'SERVER_UNREACHABLE') &&
        this.base.protocol === 'http:' &&
        this.where === this.base.origin &&
        (await speaksTls(this.base.hostname, Number(this.base.port || 80)))
      ) {
        // A TLS listener drops a plain request without a word, as a crash would; retrying
        // cannot help, so say what is wrong.
        throw new NotaryHsmError(
          'DAEMON_TLS',
          `notary-hsmd at ${this.where} speaks TLS: use https://${this.base.host} (with --signer-cacert for its CA)`,
          { cause: err },
        );
      }
      if (isNotaryHsmError(err, 'SERVER_UNREACHABLE', 'SERVER_TIMEOUT')) {
        throw new NotaryHsmError(
          'DAEMON_UNREACHABLE',
          `notary-hsmd at ${this.where} did not answer${typeof errorCode === 'string' ? ` (${errorCode})` : ''}: is it running? (make run)`,
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
    return this.touchAware('root', [req.key], this.call('POST', '/v1/certificates/root', req));
  }

  /** Admin: the repository `gun` was deleted on the server; its versions start over. */
  resetRepository(gun: string): Promise<{ gun: string; forgotten: number }> {
    return this.call('POST', '/v1/repositories/reset', { gun });
  }

  signRoot(req: {
    gun: string;
    signed: JsonValue | JsonText;
    keys?: string[];
    pin?: string;
  }): Promise<SignResult> {
    return this.touchAware('root', req.keys, this.call('POST', '/v1/sign/root', req));
  }

  signTargets(req: {
    gun: string;
    signed: JsonValue | JsonText;
    keys?: string[];
  }): Promise<SignResult> {
    return this.touchAware('targets', req.keys, this.call('POST', '/v1/sign/targets', req));
  }

  signDelegation(req: {
    gun: string;
    role: string;
    signed: JsonValue | JsonText;
    keys?: string[];
  }): Promise<SignResult> {
    return this.touchAware('delegation', req.keys, this.call('POST', '/v1/sign/delegation', req));
  }
}
