/**
 * The contracts of the signing pipeline that notary-hsmd serves: who is calling
 * (an authenticated client and its scopes), what they ask (a sign request per endpoint),
 * what the pipeline answers, and the ports it uses (policy, state/audit, keys). The HTTP
 * layer in daemon/ only translates requests to these calls and results back.
 */
import type { Deferred, JsonValue } from '../metadata/json';
import type { KeptTargets } from '../metadata/kept-targets';
import type { PeerCertificate } from '../policy/clients';
import type { Client, Scope } from '../policy/scope';

export type { Client, Scope };

/** The endpoints that sign, as named in audit records and scopes. */
export type SignEndpoint = 'sign/root' | 'sign/targets' | 'sign/delegation' | 'certificates/root';

/** A request to sign metadata (the daemon computes the bytes itself). */
export interface SignRequest {
  readonly endpoint: Exclude<SignEndpoint, 'certificates/root'>;
  readonly gun: string;
  /** `root`, `targets` or `targets/<name>`. */
  readonly role: string;
  /** The `signed` object exactly as the caller sent it (parsed strictly later). */
  readonly signed: JsonValue;
  /**
   * The request's own bytes of `signed` when it wrote them in canonical form, which the
   * JSON reader checked while parsing (json.ts `parseJsonKeeping`): canonicalBytes of
   * `signed`, without encoding it again.
   */
  readonly signedBytes?: Buffer;
  /**
   * With signedBytes, for a targets role: its targets read from that text and the empty
   * object `signed` holds in their place (json.ts `defer`, targets.ts DEFER_TARGETS).
   */
  readonly signedTargets?: Deferred<KeptTargets>;
  /** Names of configured keys to sign with; default: every key the client may use for the role. */
  readonly keys?: readonly string[];
  /** For tokens whose PIN comes with the request; used once, never stored or logged. */
  readonly pin?: string;
  /** The daemon's ID of the request, and the caller's own when it sent one. */
  readonly requestId: string;
  readonly clientRequestId?: string;
}

export interface SignatureOut {
  readonly keyid: string;
  readonly method: string;
  /** Standard base64. */
  readonly sig: string;
}

export interface SignResult {
  readonly signatures: readonly SignatureOut[];
  /**
   * How long the caller has to publish these signatures: after that, other clients may
   * sign past this version (it counts as abandoned), so a later publish could lose their
   * changes. Clients stop publishing well before it ends.
   */
  readonly leaseMs?: number;
}

/** One audit record, as stored (hash-chained). */
export interface AuditEntry {
  readonly seq: number;
  /** RFC 3339 UTC. */
  readonly time: string;
  readonly client: string;
  readonly endpoint: string;
  readonly gun?: string;
  readonly role?: string;
  readonly version?: number;
  /** Hex SHA-256 of the canonical bytes that were (or would have been) signed. */
  readonly payloadDigest?: string;
  readonly keyIds?: readonly string[];
  /**
   * `reset`: the admin acknowledged that the GUN's repository was deleted; its versions
   * start over. `checkpointed`: the log's checkpoint is kept from here on where `reason`
   * says (store/checkpoint.ts).
   */
  readonly outcome: 'signed' | 'refused' | 'failed' | 'recovered' | 'reset' | 'checkpointed';
  /** Stable error code for refusals and failures. */
  readonly code?: string;
  readonly reason?: string;
  /** The daemon's own ID of the request. */
  readonly requestId?: string;
  /** The caller's X-Request-Id, kept for correlation (never an identifier of the record). */
  readonly clientRequestId?: string;
  /** Hash of the previous record (64 zeros for the first). */
  readonly prev: string;
  /** SHA-256 over prev and this record's canonical JSON without `hash`. */
  readonly hash: string;
}

export type AuditInput = Omit<AuditEntry, 'seq' | 'time' | 'prev' | 'hash'>;

/** A configured key as a client may see it (GET /v1/keys). */
export interface KeyView {
  readonly name: string;
  readonly role: 'root' | 'targets' | 'delegation';
  readonly token: string;
  /** TUF key ID of the bare key (`ecdsa`). */
  readonly keyId: string;
  /** TUF public key JSON (`{"keytype":"ecdsa","keyval":{"private":null,"public":…}}`). */
  readonly publicKey: JsonValue;
}

/** A key the caller may use, and whether its token may wait for a touch (its profile says so). */
export interface KeyTouchView {
  readonly name: string;
  readonly role: 'root' | 'targets' | 'delegation';
  readonly token: string;
  readonly touch: boolean;
}

/** A root certificate the daemon built and signed for `{gun, key}`. */
export interface RootCertificateResult {
  readonly gun: string;
  readonly key: string;
  /** The `ecdsa-x509` TUF key wrapping the certificate (Go-exact PEM). */
  readonly publicKey: JsonValue;
  /** Its key ID (the certificate ID that root.json lists). */
  readonly keyId: string;
  readonly certificatePem: string;
}

/** Presence and PIN state of a configured token (GET /v1/tokens). */
export interface TokenStatusView {
  readonly name: string;
  readonly profile: string;
  readonly present: boolean;
  readonly label?: string;
  readonly serial?: string;
  readonly pinState?: 'ok' | 'count_low' | 'final_try' | 'locked';
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * Everything the HTTP layer calls. Every method authorises, checks, audits and signs
 * inside; routes only translate. Errors are NotaryHsmErrors with stable codes.
 */
export interface DaemonServices {
  /**
   * The client holding the bearer token; `peer` is the client certificate of a mutual-TLS
   * connection (clients bound to a certificate need it). throws: UNAUTHENTICATED
   */
  authenticate(authorization: string | undefined, peer?: PeerCertificate): Client;
  tokens(client: Client): Promise<TokenStatusView[]>;
  /** Every configured token present and usable; else the names and problems. Never logs in. */
  readiness(): Promise<{ ready: boolean; problems: readonly string[] }>;
  keys(client: Client, opts: { gun?: string }): Promise<KeyView[]>;
  /** The keys `client` may use and whether each may wait for a touch; from the configuration only. */
  touchKeys(client: Client): KeyTouchView[];
  /** Admin only: generate a key on a token. */
  generateKey(
    client: Client,
    req: {
      token: string;
      label: string;
      id?: string;
      role: KeyView['role'];
      requestId: string;
      clientRequestId?: string;
    },
  ): Promise<KeyView>;
  rootCertificate(
    client: Client,
    req: { gun: string; key: string; pin?: string; requestId: string; clientRequestId?: string },
  ): Promise<RootCertificateResult>;
  sign(client: Client, req: SignRequest): Promise<SignResult>;
  /** Audits a request refused before it reached the pipeline (bad body, too large…). throws: AUDIT_UNAVAILABLE */
  /**
   * Admin only: acknowledges that `gun`'s repository was deleted on the server, so that its
   * versions start over (audited). throws: FORBIDDEN, GUN_INVALID, AUDIT_UNAVAILABLE
   */
  resetRepository(
    client: Client,
    req: { gun: string; requestId: string; clientRequestId?: string },
  ): Promise<{ gun: string; forgotten: number }>;
  auditRefusal(
    client: Client,
    req: { endpoint: string; requestId: string; clientRequestId?: string; error: unknown },
  ): Promise<void>;
  /** Queue depth, presence and PIN state per token, for /metrics (asks idle tokens, never logs in). */
  tokenGauges(): Promise<
    readonly {
      token: string;
      queueDepth: number;
      pinState?: string;
      present?: boolean;
    }[]
  >;
}
