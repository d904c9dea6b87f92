/**
 * One audit record: how an AuditInput becomes a stored line, and how a stored line is
 * checked. A line is the canonical JSON of the AuditEntry followed by `\n`; `hash` is the
 * hex SHA-256 of `prev` followed by the canonical JSON of the record without `hash`, and
 * `prev` is the previous record's `hash` (GENESIS_HASH for the first). Writing and
 * checking live side by side so that the two can never disagree about the format.
 */
import { hash as digest } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import { canonicalJson } from '../metadata/canonical';
import type { JsonObject } from '../metadata/json';
import type { AuditEntry, AuditInput } from '../signing/types';

/** `prev` of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** The longest line the store writes or reads (a record is a few hundred bytes). */
export const MAX_RECORD_BYTES = 1 << 20;

/** Free text longer than this is cut (and marked) before it is written. */
export const MAX_TEXT_LENGTH = 4096;

const OUTCOMES: ReadonlySet<string> = new Set([
  'signed',
  'refused',
  'failed',
  'recovered',
  'reset',
  'checkpointed',
]);
const TEXT_FIELDS = [
  'client',
  'endpoint',
  'gun',
  'role',
  'payloadDigest',
  'code',
  'reason',
  'requestId',
  'clientRequestId',
];
const REQUIRED_TEXT: ReadonlySet<string> = new Set(['client', 'endpoint']);
const OPTIONAL_TEXT = [
  'gun',
  'role',
  'payloadDigest',
  'code',
  'reason',
  'requestId',
  'clientRequestId',
] as const;
const ALL_FIELDS: ReadonlySet<string> = new Set([
  'seq',
  'time',
  'client',
  'endpoint',
  'gun',
  'role',
  'version',
  'payloadDigest',
  'keyIds',
  'outcome',
  'code',
  'reason',
  'requestId',
  'clientRequestId',
  'prev',
  'hash',
]);
const HEX64 = /^[0-9a-f]{64}$/;
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
// Control characters and lone surrogates: canonical JSON cannot carry them.
const UNREPRESENTABLE =
  // eslint-disable-next-line no-control-regex -- these are exactly the characters to replace
  /[\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Hex SHA-256 of `prev` and the canonical JSON of a record without its `hash`. */
export function recordHash(prev: string, bodyJson: string): string {
  return digest('sha256', prev + bodyJson, 'hex');
}

/** A rejected promise carrying what a synchronous check threw. */
export function rejection(err: unknown): Promise<never> {
  return Promise.reject(err instanceof Error ? err : new Error(String(err)));
}

function invalid(message: string): NotaryHsmError {
  return new NotaryHsmError('AUDIT_RECORD_INVALID', message);
}

/**
 * Text as the log can hold it: characters canonical JSON cannot carry become U+FFFD and
 * overlong text is cut. Refusals are audited with whatever the caller sent, so the log
 * must take any string rather than lose the record.
 */
export function loggableText(s: string): string {
  const clean = s.replace(UNREPRESENTABLE, '\ufffd');
  return clean.length <= MAX_TEXT_LENGTH ? clean : clean.slice(0, MAX_TEXT_LENGTH) + '…';
}

/**
 * The fields of an AuditInput that the log stores, in a fresh object: known members
 * only, strings made loggable (see loggableText), undefined members left out.
 * throws: AUDIT_RECORD_INVALID (a member of the wrong type, a version that is not a safe
 * integer, an unknown outcome)
 */
export function normalizeInput(input: AuditInput): AuditInput {
  const out: Record<string, unknown> = {};
  for (const name of ['client', 'endpoint'] as const) {
    const v: unknown = input[name];
    if (typeof v !== 'string') throw invalid(`audit record: ${name} must be a string`);
    out[name] = loggableText(v);
  }
  for (const name of OPTIONAL_TEXT) {
    const v: unknown = input[name];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw invalid(`audit record: ${name} must be a string`);
    out[name] = loggableText(v);
  }
  const version: unknown = input.version;
  if (version !== undefined) {
    if (typeof version !== 'number' || !Number.isSafeInteger(version)) {
      const shown = typeof version === 'number' ? String(version) : typeof version;
      throw invalid(`audit record: version ${shown} is not a safe integer`);
    }
    out.version = version;
  }
  const keyIds: unknown = input.keyIds;
  if (keyIds !== undefined) {
    if (!Array.isArray(keyIds) || !keyIds.every((k) => typeof k === 'string')) {
      throw invalid('audit record: keyIds must be an array of strings');
    }
    out.keyIds = keyIds.map(loggableText);
  }
  const outcome: unknown = input.outcome;
  if (typeof outcome !== 'string' || !OUTCOMES.has(outcome)) {
    throw invalid(`audit record: unknown outcome ${String(outcome)}`);
  }
  out.outcome = outcome;
  return out as unknown as AuditInput;
}

/** A record with its place in the chain, and the line that stores it. */
export interface SealedRecord {
  readonly entry: AuditEntry;
  readonly line: string;
}

/**
 * The canonical JSON members of a normalised record, in canonical order, split where
 * `hash` goes. Every string of a normalised record is loggable (no control character, no
 * lone surrogate), and for those JSON.stringify escapes exactly what canonicalJson
 * escapes (`"` and `\`); the members and their order are fixed. So this is canonicalJson
 * of the record without its generic sort and checks, which made up most of an append's
 * cost. The tests hold the two equal, and every open re-checks each line with
 * canonicalJson.
 */
function members(r: AuditEntry): { before: string; after: string } {
  const q = JSON.stringify;
  let before = `"client":${q(r.client)}`;
  if (r.clientRequestId !== undefined) before += `,"clientRequestId":${q(r.clientRequestId)}`;
  if (r.code !== undefined) before += `,"code":${q(r.code)}`;
  before += `,"endpoint":${q(r.endpoint)}`;
  if (r.gun !== undefined) before += `,"gun":${q(r.gun)}`;
  let after = '';
  if (r.keyIds !== undefined) after += `,"keyIds":[${r.keyIds.map((k) => q(k)).join(',')}]`;
  after += `,"outcome":${q(r.outcome)}`;
  if (r.payloadDigest !== undefined) after += `,"payloadDigest":${q(r.payloadDigest)}`;
  after += `,"prev":"${r.prev}"`;
  if (r.reason !== undefined) after += `,"reason":${q(r.reason)}`;
  if (r.requestId !== undefined) after += `,"requestId":${q(r.requestId)}`;
  if (r.role !== undefined) after += `,"role":${q(r.role)}`;
  after += `,"seq":${r.seq},"time":"${r.time}"`;
  if (r.version !== undefined) after += `,"version":${r.version}`;
  return { before, after };
}

/** Gives a normalised input (see normalizeInput) its seq, time and place in the chain. */
export function sealRecord(
  input: AuditInput,
  seq: number,
  time: string,
  prev: string,
): SealedRecord {
  // Object.assign, not `{ ...input, seq, … }`: V8 (Node 20) adds members after a spread one
  // slow step at a time, which made this copy most of a seal's cost. Same members either way.
  const entry = Object.assign({}, input, { seq, time, prev, hash: '' });
  const { before, after } = members(entry);
  entry.hash = recordHash(prev, `{${before}${after}}`);
  return { entry, line: `{${before},"hash":"${entry.hash}"${after}}\n` };
}

/** Why a line is not the record the chain expects. */
export interface RecordProblem {
  readonly problem: string;
  /** The record's seq when the line parsed far enough to name one. */
  readonly seq?: number;
  /**
   * True when the line is not even JSON (or not UTF-8): the signature of a write cut
   * short, as opposed to a record that parses but does not verify.
   */
  readonly unparseable: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function shapeProblem(o: Record<string, unknown>): string | undefined {
  for (const name of Object.keys(o)) {
    if (!ALL_FIELDS.has(name)) return `unknown member ${JSON.stringify(name)}`;
  }
  if (typeof o.time !== 'string' || !RFC3339_UTC.test(o.time) || Number.isNaN(Date.parse(o.time))) {
    return 'time is not an RFC 3339 UTC time';
  }
  for (const name of TEXT_FIELDS) {
    const v = o[name];
    if ((REQUIRED_TEXT.has(name) || v !== undefined) && typeof v !== 'string') {
      return `${name} is not a string`;
    }
  }
  if (o.version !== undefined && !Number.isSafeInteger(o.version))
    return 'version is not an integer';
  if (o.keyIds !== undefined) {
    if (!Array.isArray(o.keyIds) || !o.keyIds.every((k) => typeof k === 'string')) {
      return 'keyIds is not an array of strings';
    }
  }
  if (typeof o.outcome !== 'string' || !OUTCOMES.has(o.outcome)) return 'unknown outcome';
  if (typeof o.prev !== 'string' || !HEX64.test(o.prev)) return 'prev is not 64 hex digits';
  if (typeof o.hash !== 'string' || !HEX64.test(o.hash)) return 'hash is not 64 hex digits';
  return undefined;
}

/**
 * Checks stored lines one after another against the chain: each must be the canonical
 * JSON of a well-formed record whose seq follows, whose prev is the last record's hash
 * and whose hash is right. Tolerates nothing; callers decide what a problem means.
 */
export class ChainChecker {
  /** Records accepted so far. */
  records = 0;
  /** Hash of the last accepted record (GENESIS_HASH before the first). */
  lastHash = GENESIS_HASH;

  /** Checks the line (without its `\n`); on success the record joins the chain. */
  check(line: Uint8Array): AuditEntry | RecordProblem {
    const seqWanted = this.records + 1;
    let text: string;
    let value: unknown;
    try {
      text = utf8.decode(line);
      value = JSON.parse(text);
    } catch {
      return { problem: 'not a JSON record (a write cut short, or damage)', unparseable: true };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { problem: 'not a JSON object', unparseable: false };
    }
    const o = value as Record<string, unknown>;
    const seq = Number.isSafeInteger(o.seq) ? (o.seq as number) : undefined;
    const fail = (problem: string): RecordProblem =>
      seq === undefined ? { problem, unparseable: false } : { problem, seq, unparseable: false };
    if (seq === undefined) return fail('seq is not an integer');
    if (seq !== seqWanted) return fail(`seq ${seq} where ${seqWanted} was expected`);
    const shape = shapeProblem(o);
    if (shape !== undefined) return fail(shape);
    let canonical: string;
    try {
      canonical = canonicalJson(o as JsonObject);
    } catch {
      return fail('holds a value canonical JSON cannot carry');
    }
    if (canonical !== text) return fail('not in canonical JSON form');
    if (o.prev !== this.lastHash) {
      return fail(
        seq === 1
          ? 'prev of the first record is not 64 zeros'
          : `prev does not match the hash of the record before it (seq ${seq - 1})`,
      );
    }
    // In canonical form `hash` is never the first member (`client` sorts before it) and no
    // string can hold an unescaped quote, so this is exactly the text without `hash`.
    const hash = o.hash as string;
    const bodyText = text.replace(`,"hash":"${hash}"`, '');
    if (recordHash(this.lastHash, bodyText) !== hash) {
      return fail("hash does not match the record's content");
    }
    this.records = seq;
    this.lastHash = hash;
    return o as unknown as AuditEntry;
  }
}

/** True when `r` is a problem rather than an accepted record. */
export function isProblem(r: AuditEntry | RecordProblem): r is RecordProblem {
  return 'problem' in r;
}
