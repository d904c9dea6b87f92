/**
 * The daemon's configuration file (YAML), as a schema: unknown keys are rejected at
 * every level. This is the part about tokens and keys; the daemon adds its listener,
 * clients and policy beside it.
 */
import { z } from 'zod';

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a name is lowercase letters, digits, . _ -');

export const tokenConfigSchema = z.strictObject({
  name,
  /** A profile from hsm-profiles/ (softhsm2, yubikey-piv, yubikey-opensc, yubihsm2, generic). */
  profile: z.string().min(1),
  /** Token selection: by label or by serial, exactly one; never by slot number. */
  label: z.string().min(1).max(32).optional(),
  serial: z.string().min(1).max(16).optional(),
  /** `file:PATH`, `env:NAME`, `credential:NAME` (systemd) or `request`. PINs are never written inline. */
  pin: z.string().min(1),
  /** A module path instead of the profile's candidates. */
  module: z.string().min(1).optional(),
  /** Environment of the token's module host (e.g. SOFTHSM2_CONF); *_CONF/*_PATH values resolve relative to the file. */
  environment: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).optional(),
  sessions: z.int().min(1).max(16).optional(),
  /** Module hosts (processes) that sign for this token at once; the profile's signHosts by default. */
  sign_hosts: z.int().min(1).max(8).optional(),
  queue_limit: z.int().min(1).max(100_000).optional(),
  timeout_ms: z.int().min(100).max(600_000).optional(),
});

const pattern = z.string().min(1).max(255);

export const keyConfigSchema = z.strictObject({
  name,
  token: name,
  /** What the daemon may sign with this key (needed by the daemon, not by `keys list`). */
  role: z.enum(['root', 'targets', 'delegation']).optional(),
  /** GUN patterns this key may sign for: exact, `prefix/*`, or `*`. */
  guns: z.array(pattern).optional(),
  /** For delegation keys: the delegation roles and target patterns it may sign. */
  delegation: z
    .strictObject({
      roles: z.array(z.string().regex(/^targets\/[-a-z0-9_]+(\/[-a-z0-9_]+)*$/)).min(1),
      paths: z.array(pattern).min(1),
    })
    .optional(),
  /** A PKCS#11 URI (RFC 7512) naming the key, or `label` and/or `id` (hex CKA_ID). */
  object: z.string().startsWith('pkcs11:').optional(),
  label: z.string().min(1).optional(),
  id: z
    .string()
    .regex(/^([0-9a-f]{2})+$/, 'lowercase hex bytes')
    .optional(),
});

const scopeSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('root'),
    keys: z.array(name).min(1),
    guns: z.array(pattern).min(1),
  }),
  z.strictObject({
    kind: z.literal('targets'),
    keys: z.array(name).min(1),
    guns: z.array(pattern).min(1),
  }),
  z.strictObject({
    kind: z.literal('delegation'),
    keys: z.array(name).min(1),
    guns: z.array(pattern).min(1),
    roles: z.array(z.string()).min(1),
    paths: z.array(pattern).min(1),
  }),
]);

export const clientConfigSchema = z.strictObject({
  name,
  /** Hex SHA-256 of the client's bearer token (the token itself is never stored). */
  token_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'hex SHA-256 of the bearer token'),
  admin: z.boolean().optional(),
  sign: z.array(scopeSchema).optional(),
  /**
   * With a TLS listener: the token counts only from a client certificate with this subject
   * (`CN=ci-runner-1`, or several attributes `CN=…,O=…`, all of which must match) and/or
   * this SHA-256 fingerprint (hex, colons allowed).
   */
  certificate: z
    .strictObject({
      subject: z.string().min(3).max(1024).optional(),
      sha256: z
        .string()
        .regex(/^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/, 'the SHA-256 fingerprint: 64 hex digits')
        .optional(),
    })
    .refine((c) => c.subject !== undefined || c.sha256 !== undefined, 'name a subject or a sha256')
    .optional(),
});

export const policyConfigSchema = z.strictObject({
  max_expiry_days: z
    .strictObject({
      root: z.int().min(1).max(36500).default(3650),
      targets: z.int().min(1).max(36500).default(1095),
      delegation: z.int().min(1).max(36500).default(1095),
    })
    .default({ root: 3650, targets: 1095, delegation: 1095 }),
  clock_skew_seconds: z.int().min(0).max(3600).default(300),
  /** The largest step of a role's version above the last one the daemon signed. */
  max_version_step: z.int().min(1).max(1_000_000_000).default(1000),
  /** The highest version the daemon signs for a role it has never signed (a migrated repository). */
  max_first_version: z.int().min(1).max(1_000_000_000_000).default(1_000_000),
  /**
   * How long a client has to publish what the daemon signed for it. A version handed out
   * and not published within it counts as abandoned, and other clients sign past it.
   */
  publish_lease_seconds: z.int().min(1).max(3600).default(30),
  request_bytes: z
    .int()
    .min(1024)
    .max(64 << 20)
    .default(1 << 20),
});

export const fileConfigSchema = z.strictObject({
  /** `127.0.0.1:PORT`, `[::1]:PORT` or `unix:/path`. */
  listen: z.string().min(1).default('127.0.0.1:7468'),
  /**
   * TLS with client certificates (mutual TLS) on the TCP listener: the daemon's certificate
   * chain and key, and the CA(s) whose client certificates are accepted (PEM files,
   * relative to this file). Required for a listener that is not on loopback; once set,
   * plain HTTP is not served.
   */
  tls: z
    .strictObject({
      cert: z.string().min(1),
      key: z.string().min(1),
      client_ca: z.string().min(1),
    })
    .optional(),
  /** Host header values accepted besides the listen address's own. */
  allowed_hosts: z.array(z.string().min(1)).optional(),
  state_dir: z.string().min(1).default('./var/state'),
  /**
   * Where the audit log's checkpoint is kept (src/store/checkpoint.ts): a token whose PIN
   * the daemon holds, and a name for this daemon's checkpoint (default: the state
   * directory's path; two daemons on one token need different ones).
   * Default: the first such token. `off`: none (a cut or restored log then goes unnoticed).
   */
  audit_checkpoint: z
    .union([
      z.literal('off'),
      z.strictObject({
        token: z.string().min(1),
        label: z.string().min(1).max(256).optional(),
      }),
    ])
    .optional(),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
      format: z.enum(['json', 'text']).default('json'),
    })
    .default({ level: 'info', format: 'json' }),
  policy: policyConfigSchema.default({
    max_expiry_days: { root: 3650, targets: 1095, delegation: 1095 },
    clock_skew_seconds: 300,
    max_version_step: 1000,
    max_first_version: 1_000_000,
    publish_lease_seconds: 30,
    request_bytes: 1 << 20,
  }),
  tokens: z.array(tokenConfigSchema).default([]),
  keys: z.array(keyConfigSchema).default([]),
  clients: z.array(clientConfigSchema).default([]),
});

export type ClientConfig = z.infer<typeof clientConfigSchema>;
export type PolicyConfig = z.infer<typeof policyConfigSchema>;

export type TokenConfig = z.infer<typeof tokenConfigSchema>;
export type KeyConfig = z.infer<typeof keyConfigSchema>;
export type FileConfig = z.infer<typeof fileConfigSchema>;
