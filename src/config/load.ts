/**
 * Loads the configuration: reads the YAML file, validates it against the schema,
 * checks what a schema cannot (names unique, references resolve, profiles exist, one
 * token selector that the profile supports, PIN sources well formed, key references
 * usable), resolves paths relative to the file, and reports every problem at once.
 * The result is frozen.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import type { KeyRef, TokenSelector } from '../pkcs11/host/protocol';
import { pinSource } from '../pkcs11/pin';
import { loadProfile, type HsmProfile } from '../pkcs11/profile';
import { zodProblems } from '../schema-problems';
import { keyRefFromUri } from '../pkcs11/uri';
import {
  fileConfigSchema,
  type ClientConfig,
  type FileConfig,
  type KeyConfig,
  type PolicyConfig,
  type TokenConfig,
} from './schema';

export interface ResolvedToken {
  readonly config: TokenConfig;
  readonly profile: HsmProfile;
  readonly selector: TokenSelector;
  /** Module path override (resolved), if any. */
  readonly module?: string;
  readonly environment: Readonly<Record<string, string>>;
}

export interface ResolvedKey {
  readonly name: string;
  readonly token: string;
  readonly ref: KeyRef;
  readonly role?: 'root' | 'targets' | 'delegation';
  readonly guns: readonly string[];
  readonly delegation?: { readonly roles: readonly string[]; readonly paths: readonly string[] };
}

export interface Config {
  readonly file: string;
  readonly listen: string;
  /** TLS with client certificates for the listener: PEM file paths, resolved. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa: string };
  readonly allowedHosts: readonly string[];
  readonly stateDir: string;
  /** The token and data-object label of the audit checkpoint; undefined: none (`off`, or no token qualifies). */
  readonly auditCheckpoint?: { readonly token: string; readonly label: string };
  readonly log: { readonly level: string; readonly format: 'json' | 'text' };
  readonly policy: PolicyConfig;
  readonly tokens: readonly ResolvedToken[];
  readonly keys: readonly ResolvedKey[];
  readonly clients: readonly ClientConfig[];
}

function duplicates(names: readonly string[]): string[] {
  return names.filter((n, i) => names.indexOf(n) !== i);
}

/** Validates parsed YAML; `base` is the directory paths are relative to. throws: CONFIG_INVALID */
export function resolveConfig(data: unknown, file: string, profileDir?: string): Config {
  const parsed = fileConfigSchema.safeParse(data ?? {});
  if (!parsed.success) throw invalid(file, zodProblems(parsed.error));
  const cfg = parsed.data;
  const base = dirname(file);
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const problems: string[] = [];

  for (const d of duplicates(cfg.tokens.map((t) => t.name)))
    problems.push(`tokens: ${d} is defined twice`);
  for (const d of duplicates(cfg.keys.map((k) => k.name)))
    problems.push(`keys: ${d} is defined twice`);

  for (const d of duplicates(cfg.clients.map((c) => c.name))) {
    problems.push(`clients: ${d} is defined twice`);
  }
  for (const d of duplicates(cfg.clients.map((c) => c.token_sha256))) {
    problems.push(`clients: two clients share token ${d.slice(0, 8)}…`);
  }
  cfg.keys.forEach((k, i) => {
    const where = `keys.${i} (${k.name})`;
    if (k.role === 'delegation' && !k.delegation) {
      problems.push(`${where}: a delegation key lists its delegation roles and paths`);
    }
    if (k.role !== 'delegation' && k.delegation) {
      problems.push(`${where}: only delegation keys take a delegation section`);
    }
    if (k.role && !k.guns?.length)
      problems.push(`${where}: list the GUN patterns this key may sign (guns)`);
  });
  cfg.clients.forEach((c, i) => {
    const where = `clients.${i} (${c.name})`;
    (c.sign ?? []).forEach((scope, j) => {
      for (const keyName of scope.keys) {
        const key = cfg.keys.find((k) => k.name === keyName);
        if (!key) problems.push(`${where}.sign.${j}: no key named ${keyName}`);
        else if (key.role !== scope.kind) {
          problems.push(
            `${where}.sign.${j}: key ${keyName} is a ${key.role ?? 'role-less'} key, not ${scope.kind}`,
          );
        }
      }
    });
    if (!c.admin && !(c.sign ?? []).length)
      problems.push(`${where}: allowed nothing (admin or sign scopes)`);
  });
  const tokens: ResolvedToken[] = [];
  cfg.tokens.forEach((t, i) => {
    const where = `tokens.${i} (${t.name})`;
    let profile: HsmProfile | undefined;
    try {
      profile = loadProfile(t.profile, profileDir);
    } catch (err) {
      problems.push(`${where}: ${isNotaryHsmError(err) ? err.message : String(err)}`);
    }
    if ((t.label === undefined) === (t.serial === undefined)) {
      problems.push(`${where}: select the token by exactly one of label or serial`);
    } else if (profile) {
      const by = t.label !== undefined ? 'label' : 'serial';
      if (!profile.selection.by.includes(by))
        problems.push(`${where}: profile ${profile.name} does not select tokens by ${by}`);
    }
    try {
      const pin = t.pin.startsWith('file:') ? `file:${rel(t.pin.slice(5))}` : t.pin;
      pinSource(pin);
      t.pin = pin;
    } catch (err) {
      problems.push(`${where}.pin: ${isNotaryHsmError(err) ? err.message : String(err)}`);
    }
    if (profile && (t.sign_hosts ?? 1) > 1) {
      if (profile.touch.possible)
        problems.push(
          `${where}.sign_hosts: profile ${profile.name} may wait for a touch; such a token signs through one host`,
        );
      if (t.pin === 'request')
        problems.push(
          `${where}.sign_hosts: a token whose PIN comes with each request signs through one host`,
        );
    }
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.environment ?? {}))
      environment[k] = /(_CONF|_PATH|_DIR)$/.test(k) ? rel(v) : v;
    if (profile) {
      tokens.push({
        config: t,
        profile,
        selector: t.label !== undefined ? { label: t.label } : { serial: t.serial },
        ...(t.module !== undefined ? { module: rel(t.module) } : {}),
        environment,
      });
    }
  });

  const keys: ResolvedKey[] = [];
  cfg.keys.forEach((k, i) => {
    const where = `keys.${i} (${k.name})`;
    const token = cfg.tokens.find((t) => t.name === k.token);
    if (!token) problems.push(`${where}: no token named ${k.token}`);
    if ((k.object === undefined) === (k.label === undefined && k.id === undefined)) {
      problems.push(
        `${where}: name the key by object (a PKCS#11 URI) or by label/id, not both or neither`,
      );
      return;
    }
    if (k.object !== undefined) {
      try {
        const { key, token: sel } = keyRefFromUri(k.object);
        if (
          token &&
          sel.label !== undefined &&
          token.label !== undefined &&
          sel.label !== token.label
        ) {
          problems.push(
            `${where}: the URI's token=${sel.label} is not token ${token.name}'s label ${token.label}`,
          );
        }
        keys.push({ ...keyExtras(k), name: k.name, token: k.token, ref: key });
      } catch (err) {
        problems.push(`${where}.object: ${isNotaryHsmError(err) ? err.message : String(err)}`);
      }
      return;
    }
    keys.push({
      ...keyExtras(k),
      name: k.name,
      token: k.token,
      ref: {
        ...(k.label !== undefined ? { label: k.label } : {}),
        ...(k.id !== undefined ? { id: k.id } : {}),
      },
    });
  });

  const checkpoint = auditCheckpoint(cfg, tokens, rel(cfg.state_dir), problems);
  if (problems.length > 0) throw invalid(file, problems);
  return Object.freeze({
    file,
    listen: cfg.listen,
    ...(cfg.tls
      ? {
          tls: { cert: rel(cfg.tls.cert), key: rel(cfg.tls.key), clientCa: rel(cfg.tls.client_ca) },
        }
      : {}),
    allowedHosts: cfg.allowed_hosts ?? [],
    stateDir: rel(cfg.state_dir),
    ...(checkpoint ? { auditCheckpoint: checkpoint } : {}),
    log: cfg.log,
    policy: cfg.policy,
    tokens: Object.freeze(tokens),
    keys: Object.freeze(keys),
    clients: Object.freeze(cfg.clients),
  });
}

/**
 * The audit checkpoint's place: the configured token, or by default the first token whose
 * PIN the daemon holds (a private object is read after login; a per-request PIN is never
 * held), preferring one that never waits for a touch (a write waits for a free session).
 */
function auditCheckpoint(
  cfg: FileConfig,
  resolved: readonly ResolvedToken[],
  stateDir: string,
  problems: string[],
): { token: string; label: string } | undefined {
  const c = cfg.audit_checkpoint;
  if (c === 'off') return undefined;
  const label = (c?.label ?? stateDir).slice(0, 256);
  if (c === undefined) {
    const held = resolved.filter((t) => t.config.pin !== 'request');
    const token = held.find((t) => !t.profile.touch.possible) ?? held[0];
    return token ? { token: token.config.name, label } : undefined;
  }
  const token = cfg.tokens.find((t) => t.name === c.token);
  if (!token) problems.push(`audit_checkpoint.token: no token named ${c.token}`);
  else if (token.pin === 'request') {
    problems.push(
      `audit_checkpoint.token: token ${c.token} takes its PIN with each request; the checkpoint needs a token whose PIN the daemon holds`,
    );
  }
  return { token: c.token, label };
}

function keyExtras(k: KeyConfig): Pick<ResolvedKey, 'role' | 'guns' | 'delegation'> {
  return {
    ...(k.role ? { role: k.role } : {}),
    guns: k.guns ?? [],
    ...(k.delegation ? { delegation: k.delegation } : {}),
  };
}

function invalid(file: string, problems: string[]): NotaryHsmError {
  return new NotaryHsmError(
    'CONFIG_INVALID',
    `${file}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`,
    {
      details: { file, problems },
    },
  );
}

/** Reads and validates a configuration file. throws: CONFIG_INVALID */
export function loadConfig(path: string, profileDir?: string): Config {
  const file = resolve(path);
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new NotaryHsmError(
      'CONFIG_INVALID',
      `cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
  }
  return resolveConfig(data, file, profileDir);
}
