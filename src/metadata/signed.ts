/**
 * Metadata files: the envelope `{"signed":…,"signatures":[…]}` around one role's
 * `signed` object. Parsing keeps the generic `signed` value beside the typed model,
 * because Notary verifies signatures over the canonical form of the generic decode;
 * serialising writes the model's Go field set, so our bytes are the bytes Go writes.
 */
import { NotaryHsmError } from '../errors';
import { canonicalBytes, canonicalJson, canonicalString } from './canonical';
import {
  asArray,
  asBase64,
  asKeyId,
  asObject,
  asString,
  at,
  fieldType,
  fieldValue,
} from './fields';
import { envelopeOfCanonical, type WireSignature } from './go-json';
import {
  isJsonObject,
  parseJsonKeeping,
  type Deferred,
  type JsonObject,
  type JsonValue,
} from './json';
import type { KeptTargets } from './kept-targets';
import { Root } from './root';
import { isTargetsRole } from './roles';
import { Snapshot, Timestamp } from './snapshot';
import { DEFER_TARGETS, Targets } from './targets';

/** One signature of a file. */
export interface Signature {
  readonly keyid: string;
  /** Lowercase: ecdsa, eddsa, rsapss, … */
  readonly method: string;
  readonly sig: Buffer;
}

export type RoleModel = Root | Targets | Snapshot | Timestamp;

/** A parsed (or freshly signed) metadata file of one role. */
export interface SignedMetadata<T extends RoleModel = RoleModel> {
  readonly role: string;
  readonly signed: T;
  readonly signatures: readonly Signature[];
  /** The message signatures cover: canonical bytes of the generic `signed` value. */
  readonly message: Buffer;
  /** The file's bytes, exactly as received or as we will upload them. */
  readonly bytes: Buffer;
}

export function toWire(s: Signature): WireSignature {
  return { keyid: s.keyid, method: s.method, sig: s.sig.toString('base64') };
}

/**
 * canonicalJson(model.toJson()): the text a model's signatures cover. A targets model
 * writes it without building its targets' JSON (10,000 of them in a large delegation).
 * throws: CANONICAL_UNREPRESENTABLE
 */
export function canonicalTextOf(model: RoleModel): string {
  return model instanceof Targets ? model.canonicalText() : canonicalJson(model.toJson());
}

/** Bytes of a file holding `signed` and `signatures`, exactly as Go writes them. */
export function serialize(signed: RoleModel, signatures: readonly Signature[]): Buffer {
  return envelopeOfCanonical(canonicalTextOf(signed), signatures.map(toWire));
}

function readSignature(v: JsonValue, path: string): Signature {
  const o = asObject(v, path, ['keyid', 'method', 'sig']);
  const method = asString(o.method, at(path, 'method'));
  if (method !== method.toLowerCase() || method.length === 0) {
    fieldValue(at(path, 'method'), 'a signature method is a lowercase name');
  }
  // A control character would parse here but could not be written back canonically.
  canonicalString(method);
  return {
    keyid: asKeyId(o.keyid, at(path, 'keyid')),
    method,
    sig: asBase64(o.sig, at(path, 'sig')),
  };
}

/**
 * Splits a file into its generic `signed` value and its signatures. `canonical` is the
 * file's own text of `signed` when that is already its canonical bytes (as Notary writes
 * it; json.ts checks), so the message need not be encoded again.
 * throws: JSON_* (also for a number with a fraction or exponent), FIELD_*, BASE64_INVALID
 */
export function parseEnvelope(
  bytes: Uint8Array,
  deferTargets = false,
): {
  signed: JsonObject;
  signatures: Signature[];
  canonical: Buffer | undefined;
  /** With deferTargets: the targets as read from their text, when they were (targets.ts). */
  targets?: Deferred<KeptTargets>;
} {
  const { value, kept, deferred } = parseJsonKeeping(bytes, 'signed', {
    integersOnly: true,
    ...(deferTargets ? { defer: DEFER_TARGETS } : {}),
  });
  const o = asObject(value, '', ['signed', 'signatures']);
  const signed = o.signed;
  if (!isJsonObject(signed)) fieldType('/signed', 'an object', signed);
  const signatures = asArray(o.signatures, '/signatures').map((s, i) =>
    readSignature(s, at('/signatures', i)),
  );
  return { signed, signatures, canonical: kept, ...(deferred ? { targets: deferred } : {}) };
}

/** The typed model of `role`'s `signed` object (`targets`: as parseEnvelope deferred them). */
function modelFor(role: string, signed: JsonValue, targets?: Deferred<KeptTargets>): RoleModel {
  switch (role) {
    case 'root':
      return Root.fromJson(signed);
    case 'snapshot':
      return Snapshot.fromJson(signed);
    case 'timestamp':
      return Timestamp.fromJson(signed);
    default:
      if (isTargetsRole(role)) return Targets.fromJson(signed, role, '/signed', targets);
      throw new NotaryHsmError('ROLE_NAME_INVALID', `${JSON.stringify(role)} is not a Notary role`);
  }
}

export interface ParseOptions {
  /** The bytes are the caller's to give up (a download nobody else holds): kept, not copied. */
  owned?: boolean;
}

/**
 * Parses the file of `role` strictly. Nothing is trusted yet: see verify.ts. A failure
 * keeps its code and names the file: "targets.json (role targets) from the server:
 * /signed/…: …", where `source` (e.g. "from the server") says where the bytes came from;
 * its details gain `file` and `role`.
 * throws: JSON_*, FIELD_*, TYPE_MISMATCH, BASE64_INVALID, EXPIRES_INVALID, KEY_ID_MISMATCH,
 * ROLE_NAME_INVALID, CANONICAL_UNREPRESENTABLE
 */
export function parseMetadata(
  role: 'root',
  bytes: Uint8Array,
  source?: string,
): SignedMetadata<Root>;
export function parseMetadata(
  role: 'snapshot',
  bytes: Uint8Array,
  source?: string,
): SignedMetadata<Snapshot>;
export function parseMetadata(
  role: 'timestamp',
  bytes: Uint8Array,
  source?: string,
): SignedMetadata<Timestamp>;
export function parseMetadata(
  role: string,
  bytes: Uint8Array,
  source?: string,
  opts?: ParseOptions,
): SignedMetadata<Targets>;
export function parseMetadata(
  role: string,
  bytes: Uint8Array,
  source?: string,
  opts: ParseOptions = {},
): SignedMetadata {
  try {
    // The file's own copy (unless the caller gives it up); the message may be a view of it.
    const own = opts.owned === true && Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    const { signed, signatures, canonical, targets } = parseEnvelope(own, isTargetsRole(role));
    return {
      role,
      signed: modelFor(role, signed, targets),
      signatures,
      message: canonical ?? canonicalBytes(signed),
      bytes: own,
    };
  } catch (err) {
    if (!(err instanceof NotaryHsmError)) throw err;
    const file = `${role}.json`;
    throw new NotaryHsmError(
      err.code,
      `${file} (role ${role})${source ? ` ${source}` : ''}: ${err.message}`,
      { cause: err, details: { ...err.details, file, role } },
    );
  }
}
