/**
 * The composition root of notary-hsmd: loads the configuration (or the embedded
 * default), builds the token registry, client registry, state store and signing service,
 * creates the Koa app and listens. On SIGTERM/SIGINT it stops accepting requests, lets
 * those in flight finish, then drains the tokens (log out, close sessions, C_Finalize)
 * and closes the audit log.
 */
import { existsSync, readFileSync } from 'node:fs';
import { NotaryHsmError } from '../src/errors';
import { Registry } from 'prom-client';
import { DEFAULT_CONFIG } from '../src/config/default-file';
import { embeddedDefault } from '../src/config/embedded';
import { loadConfig, type Config } from '../src/config/load';
import { log, setConsoleFormat, setConsoleLevel } from '../src/log';
import { TokenRegistry } from '../src/pkcs11/registry';
import { ClientRegistry, clientEntryFromConfig } from '../src/policy/clients';
import { SigningService } from '../src/signing/service';
import { openStore, type Store, type StoreOptions } from '../src/store';
import { TokenCheckpointStore } from '../src/pkcs11/token-checkpoint';
import { createApp } from './app';
import { decisionObserver, processMetrics, tokenOperationObserver } from './metrics';
import { LOOPBACK_HOSTS } from './middleware/host-allowlist';
import { reloadClients, type ClientReload } from './reload-clients';
import { allowedHostsFor, listen, listenInherited, type ServerHandle } from './server';
import type { InheritedSocket } from './systemd/listen-fds';

export { DEFAULT_CONFIG };

export interface Daemon {
  /** The first listener's address. */
  readonly address: string;
  /** Every listener's address (several with socket activation). */
  readonly addresses: readonly string[];
  readonly config: Config;
  /** The admin token, only when the embedded default was created by this start. */
  readonly adminToken?: string;
  /**
   * Reads the client list again from the configuration file (SIGHUP) and logs what
   * changed; a file that does not validate leaves the running clients in force.
   * Returns false when the reload was refused.
   */
  reloadClients(): boolean;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** A configuration file; without one, DEFAULT_CONFIG if it exists, else the embedded default. */
  config?: string;
  /** Overrides the configured listen address (tests: 127.0.0.1:0). */
  listen?: string;
  /**
   * Sockets passed by systemd (socket activation): served instead of binding the
   * configured (or --listen) address.
   */
  inherited?: readonly InheritedSocket[];
}

/** The listener's TLS files. throws: CONFIG_INVALID naming the file that cannot be read */
function readTls(tls: NonNullable<Config['tls']>): { cert: Buffer; key: Buffer; ca: Buffer } {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (cause) {
      throw new NotaryHsmError('CONFIG_INVALID', `tls.${what}: cannot read ${file}`, { cause });
    }
  };
  return {
    cert: read('cert', tls.cert),
    key: read('key', tls.key),
    ca: read('client_ca', tls.clientCa),
  };
}

/** The audit checkpoint's store options: none when the configuration has no checkpoint. */
function checkpointOptions(config: Config, registry: TokenRegistry): StoreOptions {
  const c = config.auditCheckpoint;
  if (!c) {
    log().warn(
      'audit checkpoint off: a log cut short or restored from an old copy goes unnoticed',
      {
        reason:
          config.tokens.length === 0
            ? 'no token'
            : 'audit_checkpoint: off, or no token whose PIN the daemon holds',
      },
    );
    return {};
  }
  return {
    checkpoint: new TokenCheckpointStore(registry, c.token, c.label),
    onCheckpoint: (verdict, at, error) => {
      if (verdict === 'behind') {
        log().error('audit log behind its checkpoint: nothing will be signed', {
          token: c.token,
          errorMessage: error?.message,
        });
        return;
      }
      const fields = { token: c.token, seq: at.seq, hash: at.hash.slice(0, 16) };
      if (verdict === 'adopt') {
        log().warn(
          'audit checkpoint created for an existing log: it guards records from now on',
          fields,
        );
      } else {
        log().info(
          verdict === 'new' ? 'audit checkpoint created' : 'audit log matches its checkpoint',
          fields,
        );
      }
    },
  };
}

export async function startDaemon(opts: ServeOptions = {}): Promise<Daemon> {
  let config: Config;
  let adminToken: string | undefined;
  if (opts.config) config = loadConfig(opts.config);
  else if (existsSync(DEFAULT_CONFIG)) config = loadConfig(DEFAULT_CONFIG);
  else ({ config, adminToken } = await embeddedDefault());

  const logger = log();
  setConsoleLevel(config.log.level);
  setConsoleFormat(config.log.format);
  // Clients before anything is opened: a scope narrower than its keys' reach is refused.
  const clients = new ClientRegistry({
    clients: config.clients.map(clientEntryFromConfig),
    keys: config.keys,
  });
  const metrics = new Registry();
  processMetrics(metrics);
  const registry = new TokenRegistry(config, { observe: tokenOperationObserver(metrics) });
  const handles: ServerHandle[] = [];
  let serviceRef: SigningService | undefined;
  let store: Store | undefined;
  try {
    // Tokens are opened (and logged in, where the PIN is not per request) before the
    // listener: a wrong PIN or an absent token is in the log at once and in /readyz. Then
    // the store, which checks its log against the checkpoint kept in a token.
    await registry.open();
    store = await openStore(config.stateDir, checkpointOptions(config, registry));
    const services: SigningService = new SigningService({
      config,
      registry,
      clients,
      store,
      observe: decisionObserver(metrics),
    });
    const address = opts.listen ?? config.listen;
    const inherited = opts.inherited ?? [];
    const app = createApp({
      services,
      logger,
      limits: {
        bodyBytes: config.policy.request_bytes,
        // Inherited sockets' ports are systemd's: the loopback names on any port, and allowed_hosts.
        allowedHosts:
          inherited.length > 0
            ? [...new Set([...LOOPBACK_HOSTS, ...config.allowedHosts])]
            : allowedHostsFor(address, [...config.allowedHosts]),
      },
      metrics,
    });
    const tls = config.tls ? { tls: readTls(config.tls) } : {};
    if (inherited.length > 0) {
      logger.info('socket activation: serving on the sockets systemd passed', {
        sockets: inherited.map((s) => `${s.name} (fd ${s.fd}, ${s.kind})`),
        notBound: address,
      });
      for (const socket of inherited) handles.push(await listenInherited(app, socket, tls));
    } else {
      handles.push(await listen(app, { address, ...tls }));
    }
    serviceRef = services;
  } catch (err) {
    for (const h of handles) await h.close();
    await store?.close();
    await registry.close();
    throw err;
  }
  const services = serviceRef;
  const addresses = handles.map((h) => h.address);
  const openedStore = store;
  logger.info('notary-hsmd listening', {
    addresses,
    config: config.file,
    tokens: config.tokens.length,
  });
  let running = config;
  let closing: Promise<void> | undefined;
  return {
    address: addresses[0] as string,
    addresses,
    config,
    ...(adminToken ? { adminToken } : {}),
    reloadClients: () => {
      let r: ClientReload;
      try {
        r = reloadClients(running);
      } catch (err) {
        logger.error('reload refused: the running clients stay in force', {
          config: running.file,
          error: err instanceof Error ? err.message : String(err),
        });
        return false;
      }
      services.replaceClients(r.clients);
      running = r.config;
      logger.info('reloaded the client list', {
        config: running.file,
        clients: r.after,
        before: r.before,
        added: r.added,
        removed: r.removed,
      });
      if (r.needRestart.length > 0) {
        logger.warn('the configuration changed beyond its clients: restart to apply', {
          sections: r.needRestart,
        });
      }
      return true;
    },
    close: () =>
      (closing ??= (async () => {
        await Promise.all(handles.map((h) => h.close()));
        // the store first: its last batches write their checkpoint to a token
        await openedStore.close();
        await registry.close();
        logger.info('notary-hsmd stopped');
      })()),
  };
}
