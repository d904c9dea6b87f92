/**
 * Creating a repository: a root certificate for the root key, the targets key, and the
 * server-held snapshot and timestamp keys; root v1 and targets v1 signed through the
 * choke point, uploaded in one request, then read back to prove the server stored our
 * bytes and pinned them in its snapshot (a mismatch would make every Go client refuse
 * the repository). Later changes go through targets-update.ts and the update loop.
 */
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import { parseJson } from '../metadata/json';
import { TufKey } from '../metadata/keys';
import { Root } from '../metadata/root';
import { BASE_ROLES, type BaseRole } from '../metadata/roles';
import type { SignedMetadata } from '../metadata/signed';
import { Targets, type DelegatedRole } from '../metadata/targets';
import { GoTime } from '../metadata/time';
import { type TrustedRepository } from './reader';
import type { MetadataSigning } from './signing';
import { TARGETS_DAYS } from './targets-update';
import type { TrustServer } from './trust-server';
import { confirm, explainServerRefusal } from './update-loop';

/** Default lifetime of root in days, as Notary: 10 years. */
export const ROOT_DAYS = 3650;

async function serverKey(
  server: TrustServer,
  gun: string,
  role: 'timestamp' | 'snapshot',
): Promise<TufKey> {
  return TufKey.fromJson(parseJson(await server.getServerKey(gun, role)), `/${role}.key`);
}

/** Whether the server holds trust data (a root) for `gun`. throws: SERVER_* but NOT_FOUND */
export async function repositoryExists(server: TrustServer, gun: string): Promise<boolean> {
  try {
    await server.getCurrent(gun, 'root');
    return true;
  } catch (err) {
    if (isNotaryHsmError(err, 'SERVER_NOT_FOUND')) return false;
    throw err;
  }
}

/** Uploads `files`, then reads the repository back and checks it holds exactly them. */
async function publishAndConfirm(
  server: TrustServer,
  gun: string,
  files: readonly SignedMetadata[],
  now: Date,
): Promise<TrustedRepository> {
  try {
    await server.publish(
      gun,
      files.map((f) => ({ role: f.role, bytes: f.bytes })),
    );
  } catch (err) {
    throw explainServerRefusal(gun, err);
  }
  return confirm(server, gun, files, now);
}

export interface InitOptions {
  server: TrustServer;
  gun: string;
  signing: MetadataSigning;
  /** Delegations of `targets` to create with the repository. */
  delegations?: readonly DelegatedRole[];
  delegationKeys?: readonly TufKey[];
  /** How many root keys must sign root (k of n); 1 by default. */
  rootThreshold?: number;
  now?: Date;
}

/**
 * Creates `gun`: a root certificate for the root key, the targets key, and the
 * server's snapshot and timestamp keys; publishes root v1 and an empty targets v1.
 * throws: REPOSITORY_EXISTS, SERVER_*, INSUFFICIENT_SIGNATURES, SIGNER_INVALID_SIGNATURE
 */
export async function initRepository(opts: InitOptions): Promise<TrustedRepository> {
  const { server, gun } = opts;
  const now = opts.now ?? new Date();
  if (await repositoryExists(server, gun)) {
    throw new NotaryHsmError('REPOSITORY_EXISTS', `${gun} already has trust data on the server`, {
      details: { gun },
    });
  }
  const rootKeys = await opts.signing.rootKeys(gun);
  const rootThreshold = opts.rootThreshold ?? 1;
  if (!(rootThreshold >= 1 && rootThreshold <= rootKeys.length)) {
    throw new NotaryHsmError(
      'USAGE',
      `a root threshold of ${rootThreshold} needs at least that many root keys (${rootKeys.length} given)`,
    );
  }
  const targetsKey = await opts.signing.targetsKey();
  const snapshotKey = await serverKey(server, gun, 'snapshot');
  const timestampKey = await serverKey(server, gun, 'timestamp');
  const byRole: Record<BaseRole, TufKey[]> = {
    root: rootKeys,
    targets: [targetsKey],
    snapshot: [snapshotKey],
    timestamp: [timestampKey],
  };
  const root = new Root({
    expires: GoTime.daysFromNow(ROOT_DAYS, now),
    version: 1,
    keys: new Map(BASE_ROLES.flatMap((r) => byRole[r].map((k) => [k.id, k] as const))),
    roles: new Map(
      BASE_ROLES.map((r) => [
        r,
        { keyIds: byRole[r].map((k) => k.id), threshold: r === 'root' ? rootThreshold : 1 },
      ]),
    ),
  });
  const targets = new Targets({
    expires: GoTime.daysFromNow(TARGETS_DAYS, now),
    version: 1,
    targets: new Map(),
    delegationKeys: new Map((opts.delegationKeys ?? []).map((k) => [k.id, k])),
    delegationRoles: opts.delegations ?? [],
  });
  const signedRoot = await opts.signing.sign(gun, 'root', root, [
    { role: 'root', keys: rootKeys, threshold: rootThreshold },
  ]);
  const signedTargets = await opts.signing.sign(gun, 'targets', targets, [
    { role: 'targets', keys: [targetsKey], threshold: 1 },
  ]);
  return publishAndConfirm(server, gun, [signedRoot, signedTargets], now);
}
