/**
 * `notary-hsmd checkpoint export` and `checkpoint reset`: the audit log's checkpoint as the
 * token holds it (src/store/checkpoint.ts), read straight from the token with the
 * configuration's PIN, not from a running daemon — an auditor compares the log with what
 * the token says. Export writes it for `notary-hsm audit verify --checkpoint FILE`; reset
 * re-anchors it, deliberately, at the log as it is now — after a state directory was lost
 * for good, or the checkpoint moved to another token — recording that in the log (the
 * daemon refuses to start on a log behind its checkpoint, or without the checkpoint its
 * log says it has, until then).
 */
import { writeFileSync } from 'node:fs';
import type { Io } from '../cli/context';
import { loadConfig, type Config } from '../config/load';
import { NotaryHsmError } from '../errors';
import { TokenCheckpointStore } from '../pkcs11/token-checkpoint';
import { TokenRegistry } from '../pkcs11/registry';
import { openStore, type Store } from '../store';
import { anchorRecord, CHECKPOINT_FORMAT } from '../store/checkpoint';
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

export async function checkpointResetCommand(
  flags: AdminFlags & { yes?: boolean },
  io: Io,
): Promise<number> {
  if (!flags.yes) {
    throw new NotaryHsmError(
      'USAGE',
      'checkpoint reset makes the token vouch for the audit log as it is now: versions signed ' +
        'in records that are lost could then be signed again. Run it with --yes once you are sure',
    );
  }
  return withCheckpoint(flags, async (store, config) => {
    // The store's lock: never under a running daemon, which writes its own checkpoints.
    let opened: Store;
    try {
      opened = await openStore(config.stateDir);
    } catch (err) {
      if (err instanceof NotaryHsmError && err.code === 'STATE_LOCKED') {
        throw new NotaryHsmError(
          'STATE_LOCKED',
          `a daemon is running on ${config.stateDir}: stop it before re-anchoring its checkpoint`,
          { cause: err },
        );
      }
      throw err;
    }
    let head: { seq: number; hash: string };
    try {
      const entry = await opened.audit.append(
        anchorRecord(store.where, 're-anchored by notary-hsmd checkpoint reset'),
      );
      head = { seq: entry.seq, hash: entry.hash };
    } finally {
      await opened.close();
    }
    await store.write(head);
    io.out(
      `audit checkpoint in ${store.where} re-anchored at the log's head: seq ${head.seq}, hash ${head.hash}`,
    );
    return 0;
  });
}
