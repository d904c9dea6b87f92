/**
 * HSM profiles: what notary-hsm knows about a family of PKCS#11 devices, as data in
 * hsm-profiles/<name>.yaml — where the module lives, how tokens are selected, how many
 * sessions it takes, the signing mechanism, whether keys can be generated through
 * PKCS#11, touch and PIN behaviour, timeouts, and what to tell a user when the module
 * answers with a device error or sees no slot. Profiles are validated against the schema
 * below (unknown keys rejected, every problem reported at once).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { NotaryHsmError } from '../errors';
import { zodProblems } from '../schema-problems';

const hex = z.string().regex(/^([0-9a-f]{2})+$/, 'lowercase hex bytes');

export const profileSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  description: z.string().min(1),
  module: z.strictObject({
    /** Candidate paths of the module; the first that exists is used. */
    paths: z.array(z.string().min(1)).min(1),
  }),
  selection: z.strictObject({
    /** Which token attributes identify a token of this family. */
    by: z.array(z.enum(['label', 'serial'])).min(1),
  }),
  /** Sessions per token: operations in flight at once. */
  sessions: z.int().min(1).max(16),
  /**
   * Module hosts (processes) that sign for one token at once (default 1). More than one
   * only for modules that let several processes use a token together and tokens that
   * never wait for a touch: each host signs synchronously, so this is what spreads a
   * fast software token over the machine's cores.
   */
  signHosts: z.int().min(1).max(8).optional(),
  signing: z.strictObject({
    /** CKM_ECDSA over a SHA-256 digest computed in software (works everywhere, SoftHSM2 lacks CKM_ECDSA_SHA256). */
    mechanism: z.literal('ecdsa'),
  }),
  keyGeneration: z.strictObject({
    /** Whether `keys generate` may create key pairs on this device through PKCS#11. */
    supported: z.boolean(),
    note: z.string().optional(),
  }),
  /** CKA_ID (hex) → the device's own name for that key slot (YubiKey PIV: 01 → 9a …). */
  keySlots: z.record(hex, z.string()).optional(),
  touch: z.strictObject({
    possible: z.boolean(),
    note: z.string().optional(),
  }),
  pin: z.strictObject({
    /** Tries before the PIN locks, when the device documents it. */
    retries: z.int().min(1).optional(),
    /** Keys (CKA_ID hex) that need the PIN again for every signature (CKA_ALWAYS_AUTHENTICATE). */
    everySignature: z.array(hex).optional(),
    note: z.string().optional(),
  }),
  timeouts: z.strictObject({
    /** Longest an operation may take, a touch wait included. */
    operationMs: z.int().min(100).max(600_000),
  }),
  queue: z.strictObject({ limit: z.int().min(1).max(100_000) }),
  /** What to tell the user, appended to the error, when the module answers so. */
  hints: z
    .strictObject({
      deviceError: z.string().optional(),
      noReader: z.string().optional(),
      notPresent: z.string().optional(),
    })
    .optional(),
});

export type HsmProfile = z.infer<typeof profileSchema>;

/** Where the project's profiles live (beside src/ and dist/). */
export function defaultProfileDir(): string {
  for (const up of [
    ['..', '..'],
    ['..', '..', '..'],
  ]) {
    const dir = join(__dirname, ...up, 'hsm-profiles');
    if (existsSync(dir)) return dir;
  }
  return join(__dirname, '..', '..', 'hsm-profiles');
}

/**
 * Reads and validates hsm-profiles/<name>.yaml.
 * throws: PROFILE_INVALID
 */
export function loadProfile(name: string, dir: string = defaultProfileDir()): HsmProfile {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new NotaryHsmError('PROFILE_INVALID', `${JSON.stringify(name)} is not a profile name`);
  }
  const file = join(dir, `${name}.yaml`);
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new NotaryHsmError('PROFILE_INVALID', `cannot read profile ${name} (${file})`, { cause });
  }
  const result = profileSchema.safeParse(data);
  if (!result.success) {
    const problems = zodProblems(result.error);
    throw new NotaryHsmError(
      'PROFILE_INVALID',
      `profile ${name} (${file}):\n  ${problems.join('\n  ')}`,
      {
        details: { profile: name, problems },
      },
    );
  }
  if (result.data.name !== name) {
    throw new NotaryHsmError(
      'PROFILE_INVALID',
      `profile file ${file} names itself ${result.data.name}`,
    );
  }
  return result.data;
}

/**
 * The first module path of the profile that exists on this machine.
 * throws: MODULE_NOT_FOUND
 */
export function resolveModule(
  profile: HsmProfile,
  exists: (p: string) => boolean = existsSync,
): string {
  const found = profile.module.paths.find(exists);
  if (!found) {
    throw new NotaryHsmError(
      'MODULE_NOT_FOUND',
      `no ${profile.name} PKCS#11 module found (looked at ${profile.module.paths.join(', ')})`,
      { details: { profile: profile.name } },
    );
  }
  return found;
}
