/**
 * The options of pinned verification, shared by `verify` and `list`: `--pin-root` (key
 * IDs or root certificate files), `--trust-file` (pins per GUN prefix), `--trust-dir`
 * (the trust cache; env NOTARY_HSM_TRUST_DIR, default ~/.notary-hsm/trust) and
 * `--timeout` (seconds per request).
 */
import { NotaryHsmError } from '../../errors';
import { loadTrustFile, parsePin, pinsForGun, type RootPin } from '../../client/pins';
import { TrustCache, trustDirFrom } from '../../client/trust-cache';
import type { PinnedRepository, PinnedVerifyOptions } from '../../client/verify';
import type { Io } from '../context';

export interface PinFlags {
  pinRoot?: string[];
  trustFile?: string;
  trustDir?: string;
  timeout?: string;
}

/** Whether the user asked for pinned verification at all. */
export function wantsPinning(flags: PinFlags): boolean {
  return (flags.pinRoot?.length ?? 0) > 0 || flags.trustFile !== undefined;
}

/** Pins for `gun` from --pin-root and the trust file, and where they came from. throws: USAGE, CONFIG_INVALID */
export function pinsFrom(gun: string, flags: PinFlags): { pins: RootPin[]; from: string[] } {
  const pins = (flags.pinRoot ?? []).map((p) => parsePin(p));
  const from = pins.length > 0 ? ['--pin-root'] : [];
  if (flags.trustFile !== undefined) {
    const hit = pinsForGun(loadTrustFile(flags.trustFile), gun);
    if (hit) {
      pins.push(...hit.pins);
      from.push(`${flags.trustFile} (${hit.pattern})`);
    }
  }
  return { pins, from };
}

/** --timeout in seconds (a fraction allowed) as milliseconds. throws: USAGE */
export function timeoutMsFrom(flags: PinFlags): number | undefined {
  if (flags.timeout === undefined) return undefined;
  const s = Number(flags.timeout);
  if (!/^[0-9]{1,5}(\.[0-9]{1,3})?$/.test(flags.timeout) || !(s > 0)) {
    throw new NotaryHsmError(
      'USAGE',
      `--timeout ${JSON.stringify(flags.timeout)}: expected seconds, e.g. 30 or 0.5`,
    );
  }
  return Math.round(s * 1000);
}

/** Everything verifyPinned needs from the flags. throws: USAGE, CONFIG_INVALID */
export function pinnedOptions(
  gun: string,
  flags: PinFlags,
  io: Io,
): PinnedVerifyOptions & { from: string[] } {
  const { pins, from } = pinsFrom(gun, flags);
  const timeoutMs = timeoutMsFrom(flags);
  return {
    pins,
    from,
    cache: new TrustCache(trustDirFrom(flags.trustDir, io.env)),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}

/** One line on how the root came to be trusted. */
export function trustNote(repo: PinnedRepository, from: readonly string[]): string {
  const t = repo.trust;
  const v = repo.root.signed.version;
  const how =
    t.via === 'pin'
      ? `pinned root key ${t.pin?.keyId ?? '?'} (${from.join(', ')}) signed root version ${v}`
      : t.followed.length > 0
        ? `root versions ${t.followed.join(', ')} follow from the cached root version ${
            repo.previous?.versions.get('root') ?? '?'
          }`
        : `root version ${v} is the one the trust cache holds`;
  return (
    `trusted ${repo.gun}: ${how}; timestamp ${repo.timestamp.signed.version}, ` +
    `snapshot ${repo.snapshot.signed.version}, targets ${
      repo.targets.get('targets')?.signed.version ?? '?'
    }, ${repo.targets.size - 1} delegation(s) verified`
  );
}

/** Adds the pinning options to a command. */
export function withPinOptions<T extends { option(flags: string, description: string): T }>(
  cmd: T,
): T {
  return cmd
    .option(
      '--pin-root <pins...>',
      'trusted root: a certificate key ID, a canonical root key ID, or a root certificate (PEM) file',
    )
    .option(
      '--trust-file <file>',
      'YAML/JSON {"pins": {"<gun or prefix*>": [key IDs or certificate files]}}; exact GUN, else longest prefix',
    )
    .option(
      '--trust-dir <dir>',
      'trust cache directory (env NOTARY_HSM_TRUST_DIR, default ~/.notary-hsm/trust)',
    )
    .option('--timeout <seconds>', 'deadline of each request to the server (default 30)');
}
