/**
 * PKCS#11 URIs (RFC 7512) for naming keys: `pkcs11:token=ci;object=deleg;id=%01;type=private`.
 * We read the path attributes that identify a token and an object; query attributes
 * other than `module-path` are refused — in particular `pin-value`, since PINs never
 * appear inline in configuration.
 */
import { NotaryHsmError } from '../errors';
import type { KeyRef, TokenSelector } from './host/protocol';

export interface Pkcs11Uri {
  readonly token?: string;
  readonly serial?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly object?: string;
  /** CKA_ID as lowercase hex. */
  readonly id?: string;
  readonly type?: 'private' | 'public' | 'cert' | 'secret-key' | 'data';
  readonly modulePath?: string;
}

const PATH_ATTRS = [
  'token',
  'serial',
  'manufacturer',
  'model',
  'object',
  'id',
  'type',
  'library-manufacturer',
  'library-description',
  'library-version',
  'slot-description',
  'slot-manufacturer',
  'slot-id',
] as const;
const TYPES = ['private', 'public', 'cert', 'secret-key', 'data'] as const;

function bad(uri: string, why: string): never {
  throw new NotaryHsmError(
    'URI_INVALID',
    `PKCS#11 URI ${JSON.stringify(uri.replace(/pin-value=[^&]*/g, 'pin-value=…'))}: ${why}`,
  );
}

/** Percent-decodes to bytes (RFC 3986), refusing malformed escapes. */
function decodeBytes(uri: string, s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) bad(uri, `malformed escape %${h}`);
      out.push(parseInt(h, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(out);
}

/**
 * Parses an RFC 7512 URI.
 * throws: URI_INVALID
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!uri.startsWith('pkcs11:')) bad(uri, 'does not start with pkcs11:');
  const rest = uri.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const out: Record<string, string> = {};
  for (const part of path ? path.split(';') : []) {
    const eq = part.indexOf('=');
    if (eq <= 0) bad(uri, `attribute ${JSON.stringify(part)} has no value`);
    const name = part.slice(0, eq);
    if (!(PATH_ATTRS as readonly string[]).includes(name)) bad(uri, `unknown attribute ${name}`);
    if (name in out) bad(uri, `attribute ${name} appears twice`);
    const raw = decodeBytes(uri, part.slice(eq + 1));
    out[name] = name === 'id' ? raw.toString('hex') : raw.toString('utf8');
  }
  let modulePath: string | undefined;
  for (const part of query ? query.split('&') : []) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (name === 'pin-value' || name === 'pin-source') {
      bad(uri, "a PIN is never given in a URI; configure the token's pin source instead");
    }
    if (name !== 'module-path') bad(uri, `unsupported query attribute ${name}`);
    modulePath = decodeBytes(uri, part.slice(eq + 1)).toString('utf8');
  }
  const type = out.type;
  if (type !== undefined && !(TYPES as readonly string[]).includes(type))
    bad(uri, `unknown type ${type}`);
  return {
    ...(out.token !== undefined ? { token: out.token } : {}),
    ...(out.serial !== undefined ? { serial: out.serial } : {}),
    ...(out.manufacturer !== undefined ? { manufacturer: out.manufacturer } : {}),
    ...(out.model !== undefined ? { model: out.model } : {}),
    ...(out.object !== undefined ? { object: out.object } : {}),
    ...(out.id !== undefined ? { id: out.id } : {}),
    ...(type !== undefined ? { type: type as Pkcs11Uri['type'] } : {}),
    ...(modulePath !== undefined ? { modulePath } : {}),
  };
}

/**
 * The key a URI names (object label and/or CKA_ID), which must be a private key if a
 * type is given.
 * throws: URI_INVALID
 */
export function keyRefFromUri(uri: string): { key: KeyRef; token: TokenSelector } {
  const u = parsePkcs11Uri(uri);
  if (u.object === undefined && u.id === undefined) bad(uri, 'names no object (object= or id=)');
  if (u.type !== undefined && u.type !== 'private') bad(uri, 'a signing key is type=private');
  return {
    key: {
      ...(u.object !== undefined ? { label: u.object } : {}),
      ...(u.id !== undefined ? { id: u.id } : {}),
    },
    token: {
      ...(u.token !== undefined ? { label: u.token } : {}),
      ...(u.serial !== undefined ? { serial: u.serial } : {}),
    },
  };
}
