/**
 * Local administration commands of notary-hsmd that work straight on the tokens of a
 * configuration, without a running daemon: `tokens` (profile, label, serial, presence,
 * PIN state) and `keys list` / `keys generate` (keys made on the token, shown with their
 * TUF key IDs). Each prints a table, or JSON with --json. Listing every token, `keys list`
 * names a token it cannot list (one whose PIN comes with each request needs that PIN to
 * see its private keys) and lists the others, exiting 1, as `tokens` does.
 */
import { isNotaryHsmError, NotaryHsmError } from '../errors';
import { loadConfig } from '../config/load';
import { TufKey } from '../metadata/keys';
import type { KeyReport } from '../pkcs11/host/protocol';
import { TokenRegistry } from '../pkcs11/registry';
import { table, tokensTable } from '../cli/table';
import type { Io } from '../cli/context';

export interface AdminFlags {
  config: string;
  json?: boolean;
}

async function withRegistry<T>(
  flags: AdminFlags,
  fn: (r: TokenRegistry) => Promise<T>,
): Promise<T> {
  const registry = new TokenRegistry(loadConfig(flags.config));
  try {
    return await fn(registry);
  } finally {
    await registry.close();
  }
}

/** A key as the admin commands show it. */
function keyView(token: string, slots: Readonly<Record<string, string>> | undefined, k: KeyReport) {
  const tuf = TufKey.ecdsa(k.spki);
  return {
    token,
    label: k.label,
    id: k.id,
    ...(slots?.[k.id] ? { slot: slots[k.id] } : {}),
    keyId: tuf.id,
    publicKey: tuf.toJson(),
    extractable: k.extractable,
    sensitive: k.sensitive,
  };
}

export async function tokensCommand(flags: AdminFlags, io: Io): Promise<number> {
  const views = await withRegistry(flags, (r) => r.tokens());
  if (flags.json) {
    io.out(JSON.stringify({ tokens: views }));
  } else {
    io.out(tokensTable(views));
    for (const v of views) if (v.error) io.err(`${v.name}: ${v.error.message} [${v.error.code}]`);
  }
  return views.every((v) => !v.error) ? 0 : 1;
}

export async function keysListCommand(
  flags: AdminFlags & { token?: string },
  io: Io,
): Promise<number> {
  const { keys, unlisted } = await withRegistry(flags, async (r) => {
    const names = flags.token ? [flags.token] : r.tokenNames;
    const keys: ReturnType<typeof keyView>[] = [];
    const unlisted: { token: string; error: { code: string; message: string } }[] = [];
    for (const name of names) {
      const slots = r.profileOf(name).keySlots;
      try {
        keys.push(...(await r.listKeys(name)).map((k) => keyView(name, slots, k)));
      } catch (err) {
        // Every token asked for: one that cannot be listed (its PIN comes with each
        // request, or it is absent) is named, as `tokens` names it, and the others listed.
        if (flags.token !== undefined || !isNotaryHsmError(err)) throw err;
        unlisted.push({ token: name, error: { code: err.code, message: err.message } });
      }
    }
    return { keys, unlisted };
  });
  if (flags.json) {
    io.out(JSON.stringify(unlisted.length > 0 ? { keys, unlisted } : { keys }));
  } else {
    io.out(
      table(
        ['TOKEN', 'LABEL', 'ID', 'CANONICAL KEY ID'],
        keys.map((k) => [k.token, k.label, k.id + (k.slot ? ` (${k.slot})` : ''), k.keyId]),
      ),
    );
    for (const u of unlisted) io.err(`${u.token}: ${u.error.message} [${u.error.code}]`);
  }
  return unlisted.length > 0 ? 1 : 0;
}

export async function keysGenerateCommand(
  flags: AdminFlags & { token: string; label: string; id?: string },
  io: Io,
): Promise<number> {
  const id = flags.id ?? Buffer.from(flags.label, 'utf8').toString('hex').slice(0, 32);
  if (!/^([0-9a-f]{2})+$/.test(id))
    throw new NotaryHsmError('USAGE', '--id is lowercase hex bytes (CKA_ID), e.g. 01');
  const view = await withRegistry(flags, async (r) =>
    keyView(
      flags.token,
      r.profileOf(flags.token).keySlots,
      await r.generateKey(flags.token, flags.label, id),
    ),
  );
  if (flags.json) io.out(JSON.stringify({ key: view }));
  else
    io.out(
      `generated ${view.label} (CKA_ID ${view.id}) on ${view.token}: TUF key ID ${view.keyId}`,
    );
  return 0;
}
