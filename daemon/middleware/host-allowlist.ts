/**
 * Host header allowlist, a defence against DNS rebinding: a web page on evil.example
 * whose name was rebound to 127.0.0.1 can reach the loopback daemon, but its requests
 * still say `Host: evil.example`. Only the names the daemon is meant to be reached by
 * pass; everything else gets 421 `HOST_NOT_ALLOWED` before any route runs.
 */
import { NotaryHsmError } from '../../src/errors';
import type { DaemonMiddleware } from '../http/context';
import { HttpError } from '../http/errors';

/** Loopback names; without a port they match any port (the app does not know its port). */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

/** The allowlist for a daemon listening on `port`: `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`. */
export function defaultAllowedHosts(port: number): string[] {
  return LOOPBACK_HOSTS.map((h) => `${h}:${port}`);
}

interface HostSpec {
  name: string;
  port?: string;
}

/** Splits `name`, `name:port`, `[v6]` or `[v6]:port`; undefined when malformed. */
export function parseHost(value: string): HostSpec | undefined {
  const v = value.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::([0-9]{1,5}))?$/.exec(v);
  if (!m?.[1]) return undefined;
  return m[2] === undefined ? { name: m[1] } : { name: m[1], port: String(Number(m[2])) };
}

/**
 * Refuses requests whose Host header is not on `allowed` (`host` or `host:port`).
 * throws: CONFIG_INVALID (at construction) for an entry that is not host[:port]
 */
export function hostAllowlist(allowed: readonly string[]): DaemonMiddleware {
  const specs = allowed.map((entry) => {
    const spec = parseHost(entry);
    if (!spec) {
      throw new NotaryHsmError(
        'CONFIG_INVALID',
        `allowed host ${JSON.stringify(entry)} is not host[:port]`,
      );
    }
    return spec;
  });
  return async (ctx, next) => {
    const host = parseHost(ctx.get('host'));
    const ok =
      host !== undefined &&
      specs.some((s) => s.name === host.name && (s.port === undefined || s.port === host.port));
    if (!ok) {
      throw new HttpError(
        'HOST_NOT_ALLOWED',
        'the Host header names a host this daemon does not serve (see the Host allowlist in its configuration)',
      );
    }
    await next();
  };
}
