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
  /** `file:PATH`, `env:NAME` or `request`. PINs are never written inline. */
  pin: z.string().min(1),
  /** A module path instead of the profile's candidates. */
  module: z.string().min(1).optional(),
  /** Environment of the token's module host (e.g. SOFTHSM2_CONF); *_CONF/*_PATH values resolve relative to the file. */
  environment: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).optional(),
  sessions: z.int().min(1).max(16).optional(),
  queue_limit: z.int().min(1).max(100_000).optional(),
  timeout_ms: z.int().min(100).max(600_000).optional(),
});

export const keyConfigSchema = z.strictObject({
  name,
  token: name,
  /** A PKCS#11 URI (RFC 7512) naming the key, or `label` and/or `id` (hex CKA_ID). */
  object: z.string().startsWith('pkcs11:').optional(),
  label: z.string().min(1).optional(),
  id: z
    .string()
    .regex(/^([0-9a-f]{2})+$/, 'lowercase hex bytes')
    .optional(),
});

export const fileConfigSchema = z.strictObject({
  tokens: z.array(tokenConfigSchema).default([]),
  keys: z.array(keyConfigSchema).default([]),
});

export type TokenConfig = z.infer<typeof tokenConfigSchema>;
export type KeyConfig = z.infer<typeof keyConfigSchema>;
export type FileConfig = z.infer<typeof fileConfigSchema>;
