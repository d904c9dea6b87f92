/**
 * The targets-role files of one repository read, each fetched as soon as it can be named
 * and parsed as soon as it arrives, so that a large file's download and parse overlap the
 * reads still under way instead of following them:
 *
 * - by its pin, once the snapshot pins it and its parent delegates to it (siblings are
 *   fetched side by side, a few at a time);
 * - or early, by name, before any pin is known (the roles an update is about to change):
 *   such a file is only a guess at what the snapshot will pin. It is used only when it is
 *   exactly the pinned file (length and every hash); anything else — another version, an
 *   error, a file that does not parse — is dropped without a word and the pinned file is
 *   fetched as if no guess had been made.
 *
 * Nothing here is trusted: the reader checks each file's signatures and expiry as before.
 */
import { NotaryHsmError } from '../errors';
import type { FileMeta } from '../metadata/file-meta';
import { parseMetadata, type SignedMetadata } from '../metadata/signed';
import type { Targets } from '../metadata/targets';
import { MAX_UNKNOWN_BYTES, type TrustServer } from './trust-server';

/** Where the files come from, as parse errors say. */
export const FROM_SERVER = 'from the server';

/** Pinned downloads in flight at once (a parent may delegate to thousands of roles). */
const IN_FLIGHT = 8;

type Parsed = SignedMetadata<Targets>;

/** A settled outcome: a rejection is kept, not left unhandled while nobody awaits it yet. */
type Outcome = { file: Parsed } | { error: unknown };

function settle(p: Promise<Parsed>): Promise<Outcome> {
  return p.then(
    (file) => ({ file }),
    (error: unknown) => ({ error }),
  );
}

/**
 * The bytes a pin names, checked against it.
 * throws: ROLE_MISSING (nothing pinned), SERVER_*, LENGTH_MISMATCH, HASH_MISMATCH
 */
export async function fetchPinned(
  server: TrustServer,
  gun: string,
  role: string,
  pin: FileMeta | undefined,
): Promise<Buffer> {
  const sha = pin?.sha256Digest;
  if (!pin || !sha) {
    throw new NotaryHsmError('ROLE_MISSING', `the snapshot pins no ${role} file`, {
      details: { role },
    });
  }
  const bytes = await server.getByHash(gun, role, sha.toString('hex'), pin.length);
  pin.check(bytes, role);
  return bytes;
}

/** True when `pin` (length and every listed hash) pins exactly `bytes`. */
export function pinsExactly(pin: FileMeta, bytes: Buffer): boolean {
  try {
    pin.check(bytes, 'file');
    return true;
  } catch {
    return false;
  }
}

export class RoleFiles {
  private readonly server: TrustServer;
  private readonly gun: string;
  private readonly guesses = new Map<string, Promise<Parsed | undefined>>();
  private readonly pinned = new Map<string, Promise<Outcome>>();
  private readonly waiting: Array<() => void> = [];
  private inFlight = 0;

  constructor(server: TrustServer, gun: string) {
    this.server = server;
    this.gun = gun;
  }

  /** Starts fetching and parsing `role`'s current file now, before its pin is known. */
  guess(role: string): void {
    if (this.guesses.has(role)) return;
    const parsed = this.server
      .getCurrent(this.gun, role, MAX_UNKNOWN_BYTES)
      .then((bytes) => parseMetadata(role, bytes, FROM_SERVER, { owned: true }))
      .catch(() => undefined);
    this.guesses.set(role, parsed);
  }

  /**
   * Starts fetching `role`'s pinned file (unless started, or a guess may turn out to be it),
   * within the bound on downloads in flight.
   */
  start(role: string, pin: FileMeta | undefined): void {
    if (this.pinned.has(role)) return;
    const guess = this.guesses.get(role);
    const file = guess
      ? guess.then((g) =>
          g !== undefined && pin !== undefined && pinsExactly(pin, g.bytes)
            ? g
            : this.download(role, pin),
        )
      : this.download(role, pin);
    this.pinned.set(role, settle(file));
  }

  /**
   * `role`'s file as `pin` names it, parsed (not yet verified).
   * throws: ROLE_MISSING, SERVER_*, LENGTH_MISMATCH, HASH_MISMATCH, JSON_*, FIELD_*
   */
  async get(role: string, pin: FileMeta | undefined): Promise<Parsed> {
    this.start(role, pin);
    const outcome = await (this.pinned.get(role) as Promise<Outcome>);
    if ('error' in outcome) throw outcome.error;
    return outcome.file;
  }

  private async download(role: string, pin: FileMeta | undefined): Promise<Parsed> {
    if (this.inFlight >= IN_FLIGHT) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    try {
      const bytes = await fetchPinned(this.server, this.gun, role, pin);
      return parseMetadata(role, bytes, FROM_SERVER, { owned: true });
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}
