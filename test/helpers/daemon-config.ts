/**
 * Variants of the configuration makeDaemonSetup writes: the same token, keys and state
 * directory, with clients or key limits changed by the test. The variant is written
 * beside the original, so its relative paths (state directory, PIN file) mean the same.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { hashToken, newClientToken } from '../../src/policy/clients';
import type { DaemonSetup } from './daemon';

/** The configuration document as YAML gives it back (only what the variants touch is typed). */
export interface ConfigDoc {
  keys: {
    name: string;
    guns?: string[];
    delegation?: { roles: string[]; paths: string[] };
    [k: string]: unknown;
  }[];
  clients: {
    name: string;
    token_sha256: string;
    admin?: boolean;
    sign?: Record<string, unknown>[];
  }[];
  [k: string]: unknown;
}

/** Writes `name` (e.g. `matrix.yaml`) next to the setup's config, as `edit` changes it. */
export function writeConfigVariant(
  setup: DaemonSetup,
  name: string,
  edit: (doc: ConfigDoc) => void,
): string {
  const doc = parse(readFileSync(setup.config, 'utf8')) as ConfigDoc;
  edit(doc);
  const path = join(setup.dir, name);
  writeFileSync(path, stringify(doc));
  return path;
}

/** A new client for a variant: its bearer token and its configuration entry. */
export function newClient(
  name: string,
  sign: Record<string, unknown>[],
): { token: string; entry: ConfigDoc['clients'][number] } {
  const token = newClientToken();
  return { token, entry: { name, token_sha256: hashToken(token), sign } };
}
