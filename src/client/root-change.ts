/**
 * A root change in flight: the offline root ceremony's file. It holds the root being
 * replaced (the exact bytes the server published), the proposed next root, and the
 * signatures gathered so far, so that each signer can see exactly what changes and the
 * last step can check the thresholds before anything reaches the server.
 *
 * A change is accepted by a Notary client and server when it carries signatures from the
 * current root's threshold of its root keys and from the proposed root's threshold of
 * its own (notary-v1.md §2.7), so `status` counts both.
 *
 * File format (JSON, one object; unknown members refused):
 *   notaryHsmRootChange  1
 *   gun                  the repository
 *   current              base64 of the current root.json, byte-exact
 *   proposed             the proposed root's `signed` object
 *   summary              the human-readable change (recomputed and compared on read, so an
 *                        edited summary cannot misdescribe what is signed)
 *   signatures           [{keyid, method, sig}] over the proposed root's canonical bytes
 */
import { NotaryHsmError } from '../errors';
import { checkRootKey } from '../metadata/certificate';
import { asArray, asBase64, asInt, asObject, asString, asStringArray } from '../metadata/fields';
import { parseJson, type JsonValue } from '../metadata/json';
import { bareKeyId, type TufKey } from '../metadata/keys';
import { Root } from '../metadata/root';
import {
  parseEnvelope,
  parseMetadata,
  serialize,
  toWire,
  type Signature,
  type SignedMetadata,
} from '../metadata/signed';
import { GoTime } from '../metadata/time';
import { verifySignature, verifyThreshold } from '../metadata/verify';
import { ROOT_DAYS } from './publish';
import { describeRootChange } from './root-diff';

export const ROOT_CHANGE_FORMAT = 1;

/** A root change and the signatures gathered for it. */
export interface RootChange {
  readonly gun: string;
  /** The root the change replaces, as published. */
  readonly current: SignedMetadata<Root>;
  readonly proposed: Root;
  /** Canonical bytes of the proposed root: what every signature covers. */
  readonly message: Buffer;
  readonly signatures: readonly Signature[];
}

/** What the ceremony asks of the root keys. */
export interface RootEdits {
  /** Root certificates (`ecdsa-x509`, CN = GUN) of keys that become root keys. */
  readonly add: readonly TufKey[];
  /** Root keys that leave, by certificate key ID or canonical key ID (or a unique prefix of 8+). */
  readonly remove: readonly string[];
  /** The root threshold (default: the current one). */
  readonly threshold?: number;
  /** Days from now until the new root expires (default ROOT_DAYS). */
  readonly expiresDays?: number;
}

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new NotaryHsmError('CEREMONY_FILE_INVALID', message, { details });
}

function usage(message: string): never {
  throw new NotaryHsmError('USAGE', message);
}

/** The root key of `root` that `ref` names (certificate or canonical ID, or a unique prefix). */
function findRootKey(root: Root, ref: string): string {
  const wanted = ref.toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(wanted)) {
    usage(`--remove-key ${JSON.stringify(ref)}: give a key ID (8 to 64 hex digits)`);
  }
  const ids = root.role('root').keyIds;
  const hits = ids.filter((id) => {
    const key = root.keys.get(id);
    return id.startsWith(wanted) || (key !== undefined && bareKeyId(key).startsWith(wanted));
  });
  if (hits.length === 0) usage(`--remove-key ${ref}: not a root key of this repository`);
  if (hits.length > 1)
    usage(`--remove-key ${ref}: names ${hits.length} root keys; give more digits`);
  return hits[0] as string;
}

/**
 * The next root: root keys changed as `edits` say, other roles unchanged, version + 1.
 * The root certificates of the current root stay in `keys` (as Notary keeps them), so the
 * keys that leave can still sign for the current root's threshold.
 * throws: USAGE (nothing to change, a bad threshold, an unknown key), CERTIFICATE_INVALID
 */
export function proposeRootChange(
  current: SignedMetadata<Root>,
  gun: string,
  edits: RootEdits,
  now: Date = new Date(),
): Root {
  const old = current.signed;
  const nothing =
    edits.add.length === 0 &&
    edits.remove.length === 0 &&
    edits.threshold === undefined &&
    edits.expiresDays === undefined;
  if (nothing) {
    usage('nothing to change: add or remove root keys, set --root-threshold or --expires-days');
  }
  const removed = new Set(edits.remove.map((ref) => findRootKey(old, ref)));
  const keyIds = old.role('root').keyIds.filter((id) => !removed.has(id));
  const keys = new Map(old.keys);
  for (const key of edits.add) {
    if (keyIds.includes(key.id)) usage(`root key ${key.id} is already a root key of ${gun}`);
    keyIds.push(key.id);
    keys.set(key.id, key);
  }
  const threshold = edits.threshold ?? old.role('root').threshold;
  if (keyIds.length === 0) usage('a root needs at least one root key');
  if (!(Number.isSafeInteger(threshold) && threshold >= 1 && threshold <= keyIds.length)) {
    usage(`a root threshold of ${threshold} needs at least that many root keys (${keyIds.length})`);
  }
  for (const id of keyIds) checkRootKey(keys.get(id) as TufKey, gun, now);
  const days = edits.expiresDays ?? ROOT_DAYS;
  if (!(Number.isSafeInteger(days) && days >= 1))
    usage('--expires-days takes a whole number of days');
  const roles = new Map(old.roles);
  roles.set('root', { keyIds, threshold });
  return new Root({
    expires: GoTime.daysFromNow(days, now),
    version: old.version + 1,
    keys,
    roles,
    consistentSnapshot: old.consistentSnapshot,
  });
}

/** A new change, with no signatures yet. */
export function newRootChange(
  gun: string,
  current: SignedMetadata<Root>,
  proposed: Root,
): RootChange {
  // The message as a reader computes it: canonical bytes of the file's `signed`, decoded.
  const { message } = parseMetadata('root', serialize(proposed, []));
  return { gun, current, proposed, message, signatures: [] };
}

/** Who signed for one side of the change, and who still may. */
export interface SideStatus {
  readonly threshold: number;
  /** Certificate key IDs of the root keys on this side. */
  readonly keyIds: readonly string[];
  /** Those that signed validly. */
  readonly signed: readonly string[];
}

export interface ChangeStatus {
  /** The current root's root keys (a Notary client follows the change only with these). */
  readonly current: SideStatus;
  /** The proposed root's root keys. */
  readonly proposed: SideStatus;
  readonly complete: boolean;
}

function side(root: Root, change: RootChange): SideStatus {
  const { keyIds, threshold } = root.role('root');
  const signed = keyIds.filter((id) =>
    change.signatures.some((s) => {
      const key = root.keys.get(id);
      return (
        s.keyid === id && key !== undefined && verifySignature(key, s.method, change.message, s.sig)
      );
    }),
  );
  return { threshold, keyIds, signed };
}

/** How far the change is from both thresholds. */
export function changeStatus(change: RootChange): ChangeStatus {
  const current = side(change.current.signed, change);
  const proposed = side(change.proposed, change);
  return {
    current,
    proposed,
    complete:
      current.signed.length >= current.threshold && proposed.signed.length >= proposed.threshold,
  };
}

/** The key a signature of the change is made with: a root key on either side. */
function signingKey(change: RootChange, keyid: string): TufKey | undefined {
  const listed = (root: Root): boolean => root.role('root').keyIds.includes(keyid);
  if (listed(change.proposed)) return change.proposed.keys.get(keyid);
  if (listed(change.current.signed)) return change.current.signed.keys.get(keyid);
  return undefined;
}

/**
 * The change with `signatures` added. Each must be a valid signature of the proposed root
 * by one of the root keys of either side; one per key is kept.
 * throws: SIGNATURE_INVALID (naming `source`)
 */
export function withSignatures(
  change: RootChange,
  signatures: readonly Signature[],
  source: string,
): RootChange {
  const all = [...change.signatures];
  for (const s of signatures) {
    const key = signingKey(change, s.keyid);
    if (!key) {
      throw new NotaryHsmError(
        'SIGNATURE_INVALID',
        `${source}: a signature by ${s.keyid.slice(0, 12)}, which is no root key of the current or the proposed root`,
        { details: { keyId: s.keyid } },
      );
    }
    if (!verifySignature(key, s.method, change.message, s.sig)) {
      throw new NotaryHsmError(
        'SIGNATURE_INVALID',
        `${source}: the signature by ${s.keyid.slice(0, 12)} does not verify over the proposed root`,
        { details: { keyId: s.keyid } },
      );
    }
    if (!all.some((x) => x.keyid === s.keyid)) all.push(s);
  }
  return { ...change, signatures: all };
}

/** The proposed root as a file, with the signatures gathered. */
export function signedProposal(change: RootChange): SignedMetadata<Root> {
  const bytes = serialize(change.proposed, change.signatures);
  return parseMetadata('root', bytes);
}

/** The file text of a change. */
export function formatRootChange(change: RootChange): string {
  const doc = {
    notaryHsmRootChange: ROOT_CHANGE_FORMAT,
    gun: change.gun,
    current: change.current.bytes.toString('base64'),
    proposed: change.proposed.toJson(),
    summary: describeRootChange(change.gun, change.current.signed, change.proposed),
    signatures: change.signatures.map(toWire),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Reads a change file; `source` names it in errors. The current root must verify on its
 * own for the GUN, the proposed root must be its next version, every signature must be
 * valid, and the summary must be the one the change implies.
 * throws: CEREMONY_FILE_INVALID, SIGNATURE_INVALID, and the metadata codes of a root
 * that does not parse or verify
 */
export function parseRootChange(text: string | Buffer, source: string): RootChange {
  let doc: JsonValue;
  try {
    doc = parseJson(text);
  } catch (cause) {
    return invalid(
      `${source}: not a root change file (${cause instanceof Error ? cause.message : 'not JSON'})`,
    );
  }
  let change: RootChange;
  let summary: string[];
  let signatures: Signature[];
  try {
    const o = asObject(doc, '', [
      'notaryHsmRootChange',
      'gun',
      'current',
      'proposed',
      'summary',
      'signatures',
    ]);
    const format = asInt(o.notaryHsmRootChange, '/notaryHsmRootChange', 1);
    if (format !== ROOT_CHANGE_FORMAT) {
      invalid(
        `${source}: root change format ${format}, this notary-hsm reads ${ROOT_CHANGE_FORMAT}`,
      );
    }
    const gun = asString(o.gun, '/gun');
    const current = parseMetadata('root', asBase64(o.current, '/current'), `in ${source}`);
    const proposed = Root.fromJson(o.proposed as JsonValue, '/proposed');
    summary = asStringArray(o.summary, '/summary');
    // Signatures are read as an envelope would be, so their rules are the file format's.
    signatures = parseEnvelope(
      Buffer.from(JSON.stringify({ signed: {}, signatures: asArray(o.signatures, '/signatures') })),
    ).signatures;
    change = newRootChange(gun, current, proposed);
  } catch (err) {
    if (err instanceof NotaryHsmError && err.code !== 'CEREMONY_FILE_INVALID') {
      invalid(`${source}: ${err.message}`, { code: err.code });
    }
    throw err;
  }
  checkCurrent(change.current);
  if (change.proposed.version !== change.current.signed.version + 1) {
    invalid(
      `${source}: proposes root version ${change.proposed.version} to follow version ${change.current.signed.version}`,
    );
  }
  const expected = describeRootChange(change.gun, change.current.signed, change.proposed);
  if (expected.join('\n') !== summary.join('\n')) {
    invalid(`${source}: its summary does not describe the proposed root (the file was edited)`);
  }
  return withSignatures(change, signatures, source);
}

/**
 * The current root must be signed by its own threshold, as the server checks it before a
 * change (certificate expiry aside: an expired root is what a renewal replaces).
 * throws: THRESHOLD_NOT_MET, ROLE_MISSING
 */
function checkCurrent(current: SignedMetadata<Root>): void {
  const root = current.signed;
  verifyThreshold(current.message, current.signatures, {
    role: 'root',
    keys: root.roleKeys('root'),
    threshold: root.role('root').threshold,
  });
}

/** True when two changes propose the same root over the same current root. */
export function sameChange(a: RootChange, b: RootChange): boolean {
  return a.gun === b.gun && a.current.bytes.equals(b.current.bytes) && a.message.equals(b.message);
}
