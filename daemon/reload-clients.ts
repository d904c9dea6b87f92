/**
 * SIGHUP: the client list (bearer token hashes, scopes, certificate bindings) is read
 * again from the configuration file. The whole file must validate; the new clients are
 * checked against the keys the daemon runs with. Tokens, keys, listeners, TLS, policy and
 * logging are not reloaded — changing them needs a restart, and the result says whether
 * the file now differs from the running configuration there.
 */
import { NotaryHsmError } from '../src/errors';
import { loadConfig, type Config } from '../src/config/load';
import { ClientRegistry, clientEntryFromConfig } from '../src/policy/clients';

export interface ClientReload {
  readonly clients: ClientRegistry;
  /** The configuration whose clients are now in force (the running one otherwise). */
  readonly config: Config;
  readonly before: number;
  readonly after: number;
  /** Client names added and removed (never tokens). */
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Sections of the file that differ from the running configuration and need a restart. */
  readonly needRestart: readonly string[];
}

const RESTART_SECTIONS = ['listen', 'tls', 'stateDir', 'tokens', 'keys', 'policy', 'log'] as const;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Reads `running.file` again and builds the new client registry.
 * throws: CONFIG_INVALID (the file, or its clients against the running keys); the caller
 * keeps the old clients
 */
export function reloadClients(running: Config, profileDir?: string): ClientReload {
  const next = loadConfig(running.file, profileDir);
  const loaded = new Set(running.keys.map((k) => k.name));
  const unknown = next.clients.flatMap((c) =>
    (c.sign ?? []).flatMap((s) =>
      s.keys.filter((k) => !loaded.has(k)).map((k) => `${c.name}: ${k}`),
    ),
  );
  if (unknown.length > 0) {
    throw new NotaryHsmError(
      'CONFIG_INVALID',
      `${running.file}: clients name keys the daemon has not loaded (${unknown.join(', ')}); new keys need a restart`,
      { details: { problems: unknown } },
    );
  }
  const clients = new ClientRegistry({
    clients: next.clients.map(clientEntryFromConfig),
    keys: running.keys,
  });
  const oldNames = new Set(running.clients.map((c) => c.name));
  const newNames = new Set(next.clients.map((c) => c.name));
  return {
    clients,
    config: { ...running, clients: next.clients },
    before: running.clients.length,
    after: next.clients.length,
    added: [...newNames].filter((n) => !oldNames.has(n)),
    removed: [...oldNames].filter((n) => !newNames.has(n)),
    needRestart: RESTART_SECTIONS.filter((k) => !same(running[k], next[k])),
  };
}
