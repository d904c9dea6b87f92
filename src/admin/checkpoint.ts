/**
 * `notary-hsmd checkpoint export` and `checkpoint reset`: the audit log's checkpoint as the
 * token holds it (src/store/checkpoint.ts), read straight from the token with the
 * configuration's PIN, not from a running daemon — an auditor compares the log with what
 * the token says. Export writes it for `notary-hsm audit verify --checkpoint FILE`; reset
 * destroys it, deliberately, when a state directory was lost for good (the daemon refuses
 * to start on a log behind its checkpoint until then).
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { Io } from '../cli/context';
import { loadConfig, type Config } from '../config/load';
import { NotaryHsmError } from '../errors';
import { TokenCheckpointStore } from '../pkcs11/token-checkpoint';
import { TokenRegistry } from '../pkcs11/registry';
import { CHECKPOINT_FORMAT } from '../store/checkpoint';
import { lockStateDir } from '../store/lock';
import type { AdminFlags } from './commands';

/** Runs `fn` with the configuration's checkpoint store. throws: CONFIG_INVALID without one */
async function withCheckpoint<T>(
  flags: AdminFlags,
  fn: (store: TokenCheckpointStore, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadConfig(flags.config);
  const c = config.auditCheckpoint;
  if (!c) {
    throw new NotaryHsmError(
      'CONFIG_INVALID',
      `${config.file} keeps no audit checkpoint (audit_checkpoint: off, or no token whose PIN the daemon holds)`,
    );
  }
  const registry = new TokenRegistry(config);
  try {
    return await fn(new TokenCheckpointStore(registry, c.token, c.label), config);
  } finally {
    await registry.close();
  }
}

export async function checkpointExportCommand(
  flags: AdminFlags & { out?: string },
  io: Io,
): Promise<number> {
  const found = await withCheckpoint(flags, async (store, config) => ({
    checkpoint: await store.read(),
    where: store.where,
    stateDir: config.stateDir,
  }));
  if (!found.checkpoint) {
    throw new NotaryHsmError(
      'CHECKPOINT_UNAVAILABLE',
      `${found.where} holds no audit checkpoint yet (the daemon writes it at its first start)`,
    );
  }
  const exported = {
    format: CHECKPOINT_FORMAT,
    seq: found.checkpoint.seq,
    hash: found.checkpoint.hash,
    where: found.where,
    stateDir: found.stateDir,
    exportedAt: new Date().toISOString(),
  };
  const text = `${JSON.stringify(exported, null, 2)}\n`;
  if (flags.out) {
    writeFileSync(flags.out, text);
    if (!flags.json) {
      io.out(`checkpoint seq ${exported.seq}, hash ${exported.hash} written to ${flags.out}`);
    }
  }
  if (flags.json || !flags.out) io.out(text.trimEnd());
  return 0;
}

function report(existed: boolean, where: string, io: Io): number {
  io.out(
    existed
      ? `audit checkpoint removed from ${where}; the daemon writes a new one at its next start`
      : `${where} held no audit checkpoint`,
  );
  return 0;
}

export async function checkpointResetCommand(
  flags: AdminFlags & { yes?: boolean },
  io: Io,
): Promise<number> {
  if (!flags.yes) {
    throw new NotaryHsmError(
      'USAGE',
      'checkpoint reset forgets which audit records the token vouches for: versions signed in ' +
        'records that are lost could then be signed again. Run it with --yes once you are sure',
    );
  }
  return withCheckpoint(flags, async (store, config) => {
    // never under a running daemon: it would write its next checkpoint again (a state
    // directory that is gone has no daemon)
    if (!existsSync(config.stateDir)) return report(await store.reset(), store.where, io);
    const lock = await lockStateDir(config.stateDir).catch((err: unknown) => {
      if (err instanceof NotaryHsmError && err.code === 'STATE_LOCKED') {
        throw new NotaryHsmError(
          'STATE_LOCKED',
          `a daemon is running on ${config.stateDir}: stop it before resetting its checkpoint`,
          { cause: err },
        );
      }
      throw err;
    });
    try {
      return report(await store.reset(), store.where, io);
    } finally {
      await lock.release();
    }
  });
}
