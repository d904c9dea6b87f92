/**
 * Root pins: what a user trusts a repository's root by, given on the command line or per
 * GUN prefix in a trust file. A pin is a key ID — the certificate key ID that root.json
 * and notary's `trust_pinning.certs` use, or the canonical ID of the bare public key that
 * `notary key list` shows — or a PEM certificate file, which pins both of its IDs. A
 * trust file maps GUNs to pins as notary's trust_pinning does: an exact GUN first, else
 * the longest `prefix*` pattern the GUN starts with.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type * as Yaml from 'yaml';
import { NotaryHsmError } from '../errors';
import { TufKey } from '../metadata/keys';
import { goPem, pemBlocks } from '../metadata/pem';

/** The YAML parser, loaded only when a trust file is read (every CLI start would pay for it). */
function yaml(): typeof Yaml {
  return createRequire(__filename)('yaml') as typeof Yaml;
}

/** One pin as given, and the key IDs it stands for. */
export interface RootPin {
  /** What the user wrote: a key ID or a file name. */
  readonly source: string;
  /** Lowercase hex key IDs any of which matches. */
  readonly ids: readonly string[];
}

const KEY_ID = /^[0-9a-fA-F]{64}$/;

/** The x509 TUF key type for a certificate's public key. */
function x509Type(der: Buffer): string {
  const type = new X509Certificate(der).publicKey.asymmetricKeyType;
  return type === 'rsa' ? 'rsa-x509' : 'ecdsa-x509';
}

/**
 * The IDs a PEM certificate file pins: the certificate key ID of its bundle and of its
 * leaf alone (as root.json would list them), and the canonical ID of the leaf's key.
 * throws: USAGE (no readable certificate)
 */
function certificatePin(file: string, text: string): RootPin {
  const certs = pemBlocks(text, 'CERTIFICATE');
  const leaf = certs[0];
  if (!leaf) {
    throw new NotaryHsmError(
      'USAGE',
      `${file} holds no PEM certificate; a pin is a 64-hex key ID or a root certificate file`,
    );
  }
  try {
    const type = x509Type(leaf);
    const bundle = new TufKey(
      type,
      Buffer.from(certs.map((c) => goPem('CERTIFICATE', c)).join('')),
    );
    const single = new TufKey(type, Buffer.from(goPem('CERTIFICATE', leaf)));
    return { source: file, ids: [...new Set([bundle.id, single.id, single.canonicalId])] };
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `${file}: the certificate does not decode`, { cause });
  }
}

/**
 * A pin from a key ID or a certificate file (relative to `baseDir` when given).
 * throws: USAGE
 */
export function parsePin(spec: string, baseDir?: string): RootPin {
  if (KEY_ID.test(spec)) return { source: spec, ids: [spec.toLowerCase()] };
  const file = baseDir === undefined ? spec : resolve(baseDir, spec);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new NotaryHsmError(
      'USAGE',
      `pin ${JSON.stringify(spec)} is neither a 64-hex key ID nor a readable certificate file`,
      { cause },
    );
  }
  return certificatePin(spec, text);
}

/** The pin that `key` matches by its certificate or canonical ID, if any. */
export function matchingPin(key: TufKey, pins: readonly RootPin[]): RootPin | undefined {
  let canonical: string | undefined;
  try {
    canonical = key.canonicalId;
  } catch {
    canonical = undefined; // a key that does not decode matches by its own ID only
  }
  return pins.find(
    (p) => p.ids.includes(key.id) || (canonical !== undefined && p.ids.includes(canonical)),
  );
}

/** Pins per GUN pattern: an exact GUN, or `prefix*`. */
export interface TrustFile {
  readonly file: string;
  readonly pins: ReadonlyMap<string, readonly RootPin[]>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every problem of a trust file's document, as `path: message` lines. */
function trustFileProblems(doc: unknown): string[] {
  if (!isRecord(doc)) return ['(top): expected an object with "pins"'];
  const problems = Object.keys(doc)
    .filter((k) => k !== 'pins')
    .map((k) => `${k}: unknown member (only "pins")`);
  if (!isRecord(doc.pins)) return [...problems, 'pins: expected an object of GUN → pins'];
  for (const [pattern, list] of Object.entries(doc.pins)) {
    if (pattern === '') problems.push('pins: an empty GUN');
    if (!Array.isArray(list) || list.length === 0) {
      problems.push(`pins.${pattern}: expected a non-empty list of key IDs or certificate files`);
    } else if (list.some((p) => typeof p !== 'string' || p === '')) {
      problems.push(`pins.${pattern}: every pin is a key ID or a certificate file name`);
    }
  }
  return problems;
}

/**
 * Reads a trust file, YAML or JSON: `{"pins": {"<gun or prefix*>": ["<key ID or cert file>", …]}}`.
 * Certificate files are resolved relative to the trust file.
 * throws: CONFIG_INVALID, USAGE (a pin that is neither a key ID nor a certificate)
 */
export function loadTrustFile(file: string): TrustFile {
  let doc: unknown;
  try {
    doc = yaml().parse(readFileSync(file, 'utf8'), { uniqueKeys: true });
  } catch (cause) {
    throw new NotaryHsmError('CONFIG_INVALID', `cannot read trust file ${file}`, { cause });
  }
  const problems = trustFileProblems(doc);
  if (problems.length > 0) {
    throw new NotaryHsmError('CONFIG_INVALID', `trust file ${file}: ${problems.join('; ')}`, {
      details: { file },
    });
  }
  const base = dirname(resolve(file));
  const pins = new Map<string, RootPin[]>();
  for (const [pattern, specs] of Object.entries((doc as { pins: Record<string, string[]> }).pins)) {
    pins.set(
      pattern,
      specs.map((s) => parsePin(s, base)),
    );
  }
  return { file, pins };
}

/**
 * The pins a trust file gives `gun`: its exact entry, else the longest `prefix*` entry
 * the GUN starts with, else none.
 */
export function pinsForGun(
  trust: TrustFile,
  gun: string,
): { pattern: string; pins: readonly RootPin[] } | undefined {
  const exact = trust.pins.get(gun);
  if (exact) return { pattern: gun, pins: exact };
  let best: { pattern: string; pins: readonly RootPin[] } | undefined;
  for (const [pattern, pins] of trust.pins) {
    if (!pattern.endsWith('*')) continue;
    const prefix = pattern.slice(0, -1);
    if (gun.startsWith(prefix) && (!best || prefix.length > best.pattern.length - 1)) {
      best = { pattern, pins };
    }
  }
  return best;
}
