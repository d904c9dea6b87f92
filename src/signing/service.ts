/**
 * The signing pipeline of notary-hsmd — authorise → understand → reserve → sign →
 * answer — as one service that the HTTP routes (and tests) call. It is the daemon's
 * signing choke point.
 *
 * Invariants:
 * - Nothing is signed for a client that authorize() refuses, with a key outside the
 *   client's scopes or outside the key's own GUN patterns and delegation limits.
 * - Nothing is signed that checkSignRequest() has not parsed and checked (type, role,
 *   expiry window, delegation paths); the bytes signed are the canonical bytes the daemon
 *   computed from its own model, never caller bytes.
 * - The version is reserved, and the decision written durably to the audit log, BEFORE
 *   any token signs. If that record cannot be written, nothing is signed
 *   (AUDIT_UNAVAILABLE); after a crash a reserved version is never signed again.
 * - Every refusal is audited too, with its stable code.
 * - A per-request PIN is passed to the token once and kept nowhere.
 */
import { createHash } from 'node:crypto';
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import type { Config, ResolvedKey } from '../config/load';
import { createRootCertificate, ROOT_CERT_DAYS } from '../metadata/certificate';
import type { JsonValue } from '../metadata/json';
import { TufKey } from '../metadata/keys';
import type { Root } from '../metadata/root';
import { Targets } from '../metadata/targets';
import type { TokenRegistry } from '../pkcs11/registry';
import { authorize, checkSignRequest, isAdmin } from '../policy';
import type { ClientRegistry, PeerCertificate } from '../policy/clients';
import { anyGunMatches, checkGun, quote } from '../policy/patterns';
import type { Signer } from '../signer/signer';
import type { Store } from '../store';
import type { VersionBounds } from '../store/signing-state';
import { SIGN_KIND, SigningKeys, type SigningKey } from './signing-keys';
import type {
  AuditInput,
  Client,
  DaemonServices,
  KeyView,
  RootCertificateResult,
  SignRequest,
  KeyTouchView,
  SignResult,
  TokenStatusView,
} from './types';

export interface SigningServiceDeps {
  config: Config;
  registry: TokenRegistry;
  clients: ClientRegistry;
  store: Store;
  now?: () => Date;
  /** Told of every audited decision, after its record is written (the daemon's counters). */
  observe?: (decision: SigningDecision) => void;
}

/** One audited decision, for metrics: what was asked, and what came of it. */
export interface SigningDecision {
  readonly endpoint: string;
  readonly outcome: 'signed' | 'refused' | 'failed';
  /** The refusal's or failure's code. */
  readonly code?: string;
  /** Signatures made (for `signed` answers of the sign endpoints). */
  readonly signatures?: number;
}

export class SigningService implements DaemonServices {
  private readonly config: Config;
  private readonly registry: TokenRegistry;
  private clients: ClientRegistry;
  private readonly store: Store;
  private readonly now: () => Date;
  private readonly publicKeys = new Map<string, Buffer>();
  private readonly versionBounds: VersionBounds;
  private readonly signingKeys: SigningKeys;
  private readonly observe: (d: SigningDecision) => void;

  constructor(deps: SigningServiceDeps) {
    this.observe = deps.observe ?? (() => undefined);
    this.config = deps.config;
    this.registry = deps.registry;
    this.clients = deps.clients;
    this.store = deps.store;
    this.now = deps.now ?? (() => new Date());
    this.signingKeys = new SigningKeys({ config: deps.config, source: deps.registry });
    this.versionBounds = {
      maxStep: this.config.policy.max_version_step,
      firstMax: this.config.policy.max_first_version,
      leaseMs: this.config.policy.publish_lease_seconds * 1000,
    };
  }

  /** Replaces the client list (a SIGHUP reload): later requests authenticate against it. */
  replaceClients(clients: ClientRegistry): void {
    this.clients = clients;
  }

  authenticate(authorization: string | undefined, peer?: PeerCertificate): Client {
    return this.clients.authenticate(authorization, peer);
  }

  /** Audits a refusal; if even that cannot be written, the answer is AUDIT_UNAVAILABLE. */
  private async refuse(base: AuditInput, err: unknown): Promise<never> {
    const e = isNotaryHsmError(err) ? err : new NotaryHsmError('PKCS11_ERROR', 'internal failure');
    await this.store.audit.append(
      Object.assign({}, base, { outcome: 'refused' as const, code: e.code, reason: e.message }),
    );
    this.observe({ endpoint: base.endpoint, outcome: 'refused', code: e.code });
    throw err;
  }

  async sign(client: Client, req: SignRequest): Promise<SignResult> {
    const base: AuditInput = {
      client: client.name,
      endpoint: req.endpoint,
      gun: req.gun,
      role: req.role,
      requestId: req.requestId,
      ...(req.clientRequestId !== undefined ? { clientRequestId: req.clientRequestId } : {}),
      outcome: 'refused',
    };
    let plan: { model: Root | Targets; version: number; canonical: Buffer; payloadDigest: string };
    let signing: SigningKey[];
    let keyIds: string[];
    try {
      const now = this.now();
      const auth = authorize(client, {
        endpoint: req.endpoint,
        gun: req.gun,
        role: req.role,
        ...(req.keys ? { keyNames: req.keys } : {}),
      });
      const keys = this.signingKeys.usable(auth.keys, req);
      plan = checkSignRequest(req, {
        now,
        policy: {
          maxExpiryDays: this.config.policy.max_expiry_days,
          clockSkewSeconds: this.config.policy.clock_skew_seconds,
        },
        ...(auth.paths ? { allowedPaths: auth.paths } : {}),
      });
      if (plan.model instanceof Targets && SIGN_KIND[req.endpoint] === 'delegation') {
        this.signingKeys.checkPaths(keys, plan.model);
      }
      signing = await this.signingKeys.signersFor(keys, req, plan.model, now);
      keyIds = signing.flatMap((s) => s.keyIds);
      // Object.assign rather than a spread followed by members (a slow path in V8).
      await this.store.state.reserve(
        Object.assign({}, base, {
          gun: req.gun,
          role: req.role,
          version: plan.version,
          payloadDigest: plan.payloadDigest,
          keyIds,
          outcome: 'signed' as const,
        }),
        this.versionBounds,
      );
    } catch (err) {
      if (isNotaryHsmError(err, 'AUDIT_UNAVAILABLE')) throw err;
      return this.refuse(base, err);
    }
    try {
      const sigs = await Promise.all(signing.map((s) => s.signer.sign(plan.canonical)));
      this.observe({ endpoint: req.endpoint, outcome: 'signed', signatures: keyIds.length });
      return {
        leaseMs: this.versionBounds.leaseMs ?? 0,
        signatures: signing.flatMap((s, i) =>
          s.keyIds.map((keyid) => ({
            keyid,
            method: 'ecdsa',
            sig: Buffer.from(sigs[i] as Uint8Array).toString('base64'),
          })),
        ),
      };
    } catch (err) {
      const e = isNotaryHsmError(err) ? err : new NotaryHsmError('PKCS11_ERROR', 'signing failed');
      await this.store.audit
        .append({
          ...base,
          version: plan.version,
          keyIds,
          outcome: 'failed',
          code: e.code,
          reason: e.message,
        })
        .catch(() => undefined);
      this.observe({ endpoint: req.endpoint, outcome: 'failed', code: e.code });
      throw err;
    }
  }

  async rootCertificate(
    client: Client,
    req: { gun: string; key: string; pin?: string; requestId: string; clientRequestId?: string },
  ): Promise<RootCertificateResult> {
    const base: AuditInput = {
      client: client.name,
      endpoint: 'certificates/root',
      gun: req.gun,
      role: 'root',
      requestId: req.requestId,
      ...(req.clientRequestId !== undefined ? { clientRequestId: req.clientRequestId } : {}),
      outcome: 'refused',
    };
    let signer: Signer;
    try {
      authorize(client, {
        endpoint: 'certificates/root',
        gun: req.gun,
        role: 'root',
        keyNames: [req.key],
      });
      const key = this.signingKeys.key(req.key);
      if (key.role !== 'root' || !anyGunMatches(key.guns, req.gun)) {
        throw new NotaryHsmError('FORBIDDEN', `key ${req.key} is not a root key for ${req.gun}`);
      }
      signer = await this.registry.signerFor(key.token, key.ref, req.pin);
      await this.store.audit.append({
        ...base,
        keyIds: [TufKey.ecdsa(signer.publicKeySpki).id],
        outcome: 'signed',
      });
    } catch (err) {
      if (isNotaryHsmError(err, 'AUDIT_UNAVAILABLE')) throw err;
      return this.refuse(base, err);
    }
    let cert: TufKey;
    try {
      // Never valid for longer than the policy lets root metadata live: the certificate
      // must pass the same check when a root listing it is signed.
      const days = Math.min(ROOT_CERT_DAYS, this.config.policy.max_expiry_days.root);
      cert = await createRootCertificate({ gun: req.gun, signer, days });
    } catch (err) {
      await this.failed(base, err);
      throw err;
    }
    this.observe({ endpoint: base.endpoint, outcome: 'signed', signatures: 1 });
    return {
      gun: req.gun,
      key: req.key,
      publicKey: cert.toJson(),
      keyId: cert.id,
      certificatePem: cert.public.toString('utf8'),
    };
  }

  private async publicKeyOf(k: ResolvedKey): Promise<Buffer> {
    let spki = this.publicKeys.get(k.name);
    if (!spki) {
      const signer = await this.registry.signerFor(k.token, k.ref);
      spki = Buffer.from(signer.publicKeySpki);
      this.publicKeys.set(k.name, spki);
    }
    return spki;
  }

  touchKeys(client: Client): KeyTouchView[] {
    const names = new Set<string>();
    for (const s of client.scopes) {
      if (s.kind === 'admin') for (const k of this.config.keys) names.add(k.name);
      else for (const k of s.keys) names.add(k);
    }
    return [...names].flatMap((name) => {
      const k = this.config.keys.find((x) => x.name === name);
      if (k?.role === undefined) return [];
      return [
        {
          name,
          role: k.role,
          token: k.token,
          touch: this.registry.profileOf(k.token).touch.possible,
        },
      ];
    });
  }

  async keys(client: Client, opts: { gun?: string }): Promise<KeyView[]> {
    const names = new Set<string>();
    for (const s of client.scopes) {
      if (s.kind === 'admin') for (const k of this.config.keys) names.add(k.name);
      else if (!opts.gun || anyGunMatches(s.guns, opts.gun)) for (const k of s.keys) names.add(k);
    }
    const out: KeyView[] = [];
    for (const name of names) {
      const k = this.signingKeys.key(name);
      if (!k.role) continue;
      let spki: Buffer;
      try {
        spki = await this.publicKeyOf(k);
      } catch (err) {
        // A key on a token whose PIN comes with each request is listed once it has been used.
        if (isNotaryHsmError(err, 'PIN_REQUIRED')) continue;
        throw err;
      }
      const tuf = TufKey.ecdsa(spki);
      out.push({
        name,
        role: k.role,
        token: k.token,
        keyId: tuf.id,
        publicKey: tuf.toJson(),
      });
    }
    return out;
  }

  async generateKey(
    client: Client,
    req: {
      token: string;
      label: string;
      id?: string;
      role: KeyView['role'];
      requestId: string;
      clientRequestId?: string;
    },
  ): Promise<KeyView> {
    const base: AuditInput = {
      client: client.name,
      endpoint: 'keys/generate',
      requestId: req.requestId,
      ...(req.clientRequestId !== undefined ? { clientRequestId: req.clientRequestId } : {}),
      outcome: 'refused',
    };
    if (!isAdmin(client)) {
      return this.refuse(
        base,
        new NotaryHsmError('FORBIDDEN', `client ${client.name} may not generate keys`),
      );
    }
    if (!this.registry.tokenNames.includes(req.token)) {
      return this.refuse(
        base,
        new NotaryHsmError('TOKEN_NOT_FOUND', `no token named ${quote(req.token)} is configured`),
      );
    }
    const id = req.id ?? createHash('sha256').update(req.label).digest('hex').slice(0, 8);
    const what = `generate ${quote(req.label)} (${id}) on ${req.token}`;
    await this.store.audit.append({ ...base, outcome: 'signed', reason: what });
    try {
      const report = await this.registry.generateKey(req.token, req.label, id);
      const tuf = TufKey.ecdsa(report.spki);
      return {
        name: req.label,
        role: req.role,
        token: req.token,
        keyId: tuf.id,
        publicKey: tuf.toJson() as JsonValue,
      };
    } catch (err) {
      await this.failed(base, err, what);
      throw err;
    }
  }

  /** Audits an operation that was allowed but failed on the token (best effort: the answer is the failure). */
  private async failed(base: AuditInput, err: unknown, what?: string): Promise<void> {
    const e = isNotaryHsmError(err) ? err : new NotaryHsmError('PKCS11_ERROR', 'operation failed');
    await this.store.audit
      .append({
        ...base,
        outcome: 'failed',
        code: e.code,
        reason: what ? `${what}: ${e.message}` : e.message,
      })
      .catch(() => undefined);
    this.observe({ endpoint: base.endpoint, outcome: 'failed', code: e.code });
  }

  async resetRepository(
    client: Client,
    req: { gun: string; requestId: string; clientRequestId?: string },
  ): Promise<{ gun: string; forgotten: number }> {
    const base: AuditInput = {
      client: client.name,
      endpoint: 'repositories/reset',
      gun: req.gun,
      requestId: req.requestId,
      ...(req.clientRequestId !== undefined ? { clientRequestId: req.clientRequestId } : {}),
      outcome: 'refused',
    };
    try {
      checkGun(req.gun);
      if (!isAdmin(client)) {
        throw new NotaryHsmError('FORBIDDEN', `client ${client.name} may not reset repositories`);
      }
    } catch (err) {
      return this.refuse(base, err);
    }
    const forgotten = this.store.state.rolesOf(req.gun);
    await this.store.state.reset(
      Object.assign({}, base, {
        gun: req.gun,
        outcome: 'reset' as const,
        reason: `the repository was deleted on the server; its versions start over (${forgotten} role(s) forgotten)`,
      }),
    );
    return { gun: req.gun, forgotten };
  }

  async auditRefusal(
    client: Client,
    req: { endpoint: string; requestId: string; clientRequestId?: string; error: unknown },
  ): Promise<void> {
    const e = isNotaryHsmError(req.error) ? req.error : undefined;
    const code = e?.code ?? (req.error as { code?: unknown } | undefined)?.code;
    await this.store.audit.append({
      client: client.name,
      endpoint: req.endpoint,
      requestId: req.requestId,
      ...(req.clientRequestId !== undefined ? { clientRequestId: req.clientRequestId } : {}),
      outcome: 'refused',
      code: typeof code === 'string' ? code : 'BAD_REQUEST',
      reason: req.error instanceof Error ? quote(req.error.message, 200) : 'refused',
    });
    this.observe({
      endpoint: req.endpoint,
      outcome: 'refused',
      code: typeof code === 'string' ? code : 'BAD_REQUEST',
    });
  }

  tokens(_client: Client): Promise<TokenStatusView[]> {
    return this.registry.tokens();
  }

  async readiness(): Promise<{ ready: boolean; problems: readonly string[] }> {
    const views = await this.registry.readiness();
    const problems = views
      .filter((v) => !v.present || v.error)
      .map((v) => `${v.name}: ${v.error?.message ?? 'not present'}`);
    // nothing is signed without its audit record: a store that cannot record is not ready
    const audit = this.store.problem();
    if (audit !== undefined) problems.push(`audit: ${audit}`);
    return { ready: problems.length === 0, problems };
  }

  async tokenGauges(): Promise<
    readonly { token: string; queueDepth: number; pinState?: string; present?: boolean }[]
  > {
    const views = await this.registry.readiness();
    return views.map((v) => ({
      token: v.name,
      queueDepth: this.registry.tokenNames.includes(v.name) ? this.registry.owner(v.name).depth : 0,
      present: v.present,
      ...(v.pinState !== undefined ? { pinState: v.pinState } : {}),
    }));
  }
}
