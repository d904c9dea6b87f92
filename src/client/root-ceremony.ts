/**
 * The offline root ceremony, in three steps that can run on three different hosts:
 *
 * 1. export: the next root (root keys added or removed, threshold, expiry) over the
 *    current one, unsigned, as a root change file (client/root-change.ts);
 * 2. sign: on a host whose notary-hsmd holds root keys of the change (current or
 *    proposed), the daemon signs the proposed root and the signatures are added to the
 *    file. Nothing here talks to the Notary server;
 * 3. import: the signatures of one or more copies of the file are gathered; once the
 *    current root's threshold and the proposed root's threshold are both met, and the
 *    server's root is still the one the change was made over, the new root is published.
 */
import { NotaryHsmError } from '../errors';
import { bareKeyId } from '../metadata/keys';
import type { Root } from '../metadata/root';
import { parseMetadata, type Signature, type SignedMetadata } from '../metadata/signed';
import { parseJson } from '../metadata/json';
import type { KeyView } from '../signing/types';
import type { DaemonClient } from './daemon-client';
import {
  changeStatus,
  newRootChange,
  proposeRootChange,
  sameChange,
  signedProposal,
  withSignatures,
  type ChangeStatus,
  type RootChange,
  type RootEdits,
} from './root-change';
import { MAX_UNKNOWN_BYTES, type TrustServer } from './trust-server';
import { readRepository } from './reader';
import { runUpdateLoop, type RetryOptions, type UpdateResult } from './update-loop';

/**
 * The server's current root of `gun`, as published (it is checked when the change is
 * made and again, byte for byte, when it is imported).
 * throws: SERVER_*, JSON_*, FIELD_*
 */
export async function fetchCurrentRoot(
  server: TrustServer,
  gun: string,
): Promise<SignedMetadata<Root>> {
  const bytes = await server.getCurrent(gun, 'root', MAX_UNKNOWN_BYTES);
  return parseMetadata('root', bytes, 'from the server');
}

/** Step 1: the unsigned change. throws: USAGE, CERTIFICATE_INVALID */
export function exportRootChange(
  gun: string,
  current: SignedMetadata<Root>,
  edits: RootEdits,
  now: Date = new Date(),
): RootChange {
  return newRootChange(gun, current, proposeRootChange(current, gun, edits, now));
}

/** The daemon's root keys that may still sign the change, by name. */
function keysToSign(change: RootChange, offered: readonly KeyView[]): KeyView[] {
  const status = changeStatus(change);
  const wanted = new Set<string>();
  for (const [root, s] of [
    [change.current.signed, status.current],
    [change.proposed, status.proposed],
  ] as const) {
    for (const id of s.keyIds) {
      if (s.signed.includes(id)) continue;
      const key = root.keys.get(id);
      if (key) wanted.add(bareKeyId(key));
    }
  }
  return offered.filter((k) => k.role === 'root' && wanted.has(k.keyId));
}

export interface SignChangeOptions {
  client: DaemonClient;
  /** Daemon key names to sign with (default: every root key of the change it holds). */
  keys?: readonly string[];
  /** For root tokens whose PIN comes with each request. */
  pin?: string;
}

/**
 * Step 2: the daemon's signatures added to the change.
 * throws: KEY_NOT_HELD (the daemon holds no root key of the change that has yet to sign),
 * the daemon's refusals (FORBIDDEN, CERTIFICATE_INVALID, VERSION_ROLLBACK, PIN_*…),
 * SIGNATURE_INVALID (an answer that does not verify)
 */
export async function signRootChange(
  change: RootChange,
  opts: SignChangeOptions,
): Promise<{ change: RootChange; signedBy: string[] }> {
  const offered = (await opts.client.keys(change.gun)).keys;
  const usable = keysToSign(change, offered);
  let names: string[] | undefined;
  if (opts.keys?.length) {
    const missing = opts.keys.filter((n) => !usable.some((k) => k.name === n));
    if (missing.length > 0 && opts.pin === undefined) {
      throw new NotaryHsmError(
        'KEY_NOT_HELD',
        `${missing.join(', ')}: not a root key of this change that has yet to sign ` +
          `(keys that may: ${usable.map((k) => k.name).join(', ') || 'none'})`,
      );
    }
    names = [...opts.keys];
  } else if (usable.length > 0) {
    names = usable.map((k) => k.name);
  } else if (opts.pin === undefined) {
    // A root key whose PIN comes per request is listed only once used: let the daemon pick.
    const mine = offered.filter((k) => k.role === 'root');
    throw new NotaryHsmError(
      'KEY_NOT_HELD',
      `${change.gun}: notary-hsmd holds no root key of this change that has yet to sign ` +
        `(its root keys for ${change.gun}: ${mine.map((k) => `${k.name} (${k.keyId.slice(0, 12)})`).join(', ') || 'none'})`,
    );
  }
  const res = await opts.client.signRoot({
    gun: change.gun,
    signed: parseJson(JSON.stringify(change.proposed.toJson())),
    ...(names ? { keys: names } : {}),
    ...(opts.pin === undefined ? {} : { pin: opts.pin }),
  });
  const signatures: Signature[] = res.signatures.map((s) => ({
    keyid: s.keyid,
    method: s.method,
    sig: Buffer.from(s.sig, 'base64'),
  }));
  return {
    change: withSignatures(change, signatures, 'notary-hsmd'),
    signedBy: signatures.map((s) => s.keyid),
  };
}

/**
 * The signatures of several copies of one change, together.
 * throws: CEREMONY_FILE_INVALID (copies of different changes), SIGNATURE_INVALID
 */
export function mergeRootChanges(
  copies: readonly { change: RootChange; source: string }[],
): RootChange {
  const [first, ...rest] = copies;
  if (!first) throw new NotaryHsmError('USAGE', 'name at least one root change file');
  let merged = first.change;
  for (const c of rest) {
    if (!sameChange(first.change, c.change)) {
      throw new NotaryHsmError(
        'CEREMONY_FILE_INVALID',
        `${c.source} is a different root change from ${first.source} (another GUN, current root or proposal)`,
      );
    }
    merged = withSignatures(merged, c.change.signatures, c.source);
  }
  return merged;
}

/** What is still missing, in words. */
export function describeStatus(status: ChangeStatus): string[] {
  const line = (name: string, s: ChangeStatus['current']): string => {
    const missing = s.keyIds.filter((id) => !s.signed.includes(id));
    const need = Math.max(0, s.threshold - s.signed.length);
    return (
      `${name} root keys: ${s.signed.length} of ${s.threshold} needed have signed` +
      (need > 0 ? `; ${need} more of ${missing.map((id) => id.slice(0, 12)).join(', ')}` : '')
    );
  };
  return [line('current', status.current), line('proposed', status.proposed)];
}

export interface ImportOptions extends RetryOptions {
  server: TrustServer;
}

/**
 * Step 3: publishes the change once the server's root is still the change's current root
 * and both thresholds are met. A server that already holds the proposed root counts as
 * published.
 * throws: ROOT_CHANGED, THRESHOLD_NOT_MET (nothing sent), UPDATE_GAVE_UP, SERVER_*
 */
export async function importRootChange(
  change: RootChange,
  opts: ImportOptions,
): Promise<UpdateResult & { alreadyPublished: boolean }> {
  const stale = (root: SignedMetadata<Root>): NotaryHsmError =>
    new NotaryHsmError(
      'ROOT_CHANGED',
      `${change.gun}: the server's root (version ${root.signed.version}) is not the root ` +
        `(version ${change.current.signed.version}) this change was exported over; export it again`,
      {
        details: {
          gun: change.gun,
          serverVersion: root.signed.version,
          changeVersion: change.current.signed.version,
        },
      },
    );
  const onServer = await fetchCurrentRoot(opts.server, change.gun);
  if (onServer.message.equals(change.message)) {
    const repo = await readRepository(opts.server, change.gun);
    return { repo, published: [], alreadyPublished: true };
  }
  if (!onServer.bytes.equals(change.current.bytes)) throw stale(onServer);
  const status = changeStatus(change);
  if (!status.complete) {
    throw new NotaryHsmError(
      'THRESHOLD_NOT_MET',
      `${change.gun}: the root change is not signed enough to publish: ${describeStatus(status).join('; ')}`,
      { details: { gun: change.gun, current: status.current, proposed: status.proposed } },
    );
  }
  const file = signedProposal(change);
  const result = await runUpdateLoop({
    server: opts.server,
    gun: change.gun,
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    change: (attempt) => {
      const root = attempt.repo.root;
      const version = attempt.version('root', root.signed.version);
      if (!root.bytes.equals(change.current.bytes) || version !== change.proposed.version) {
        throw stale(root);
      }
      return Promise.resolve({ files: [file] });
    },
  });
  return { ...result, alreadyPublished: false };
}
