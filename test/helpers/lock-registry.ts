/**
 * A package registry on 127.0.0.1 that knows exactly the packages of package-lock.json and
 * serves their tarballs from the local npm cache (filled by `npm ci`), so a test can
 * `npm install` the packed project without leaving loopback. A package's document lists
 * every locked version of it, with the dependencies, bins, engines and integrity the lock
 * records; a tarball missing from the cache is a 404 that names it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

interface LockEntry {
  version?: string;
  integrity?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  license?: string;
}

export interface LockRegistry {
  readonly url: string;
  close(): Promise<void>;
}

/** The npm cache's file for an integrity string (`sha512-…`), if it is there. */
function cachedTarball(cacheDir: string, integrity: string): string | undefined {
  const [algo, b64] = integrity.split(' ')[0]?.split('-', 2) ?? [];
  if (!algo || !b64) return undefined;
  const hex = Buffer.from(b64, 'base64').toString('hex');
  const file = join(
    cacheDir,
    '_cacache',
    'content-v2',
    algo,
    hex.slice(0, 2),
    hex.slice(2, 4),
    hex.slice(4),
  );
  return existsSync(file) ? file : undefined;
}

/** Starts the registry for `lockFile`'s packages on an ephemeral loopback port. */
export async function startLockRegistry(lockFile: string): Promise<LockRegistry> {
  const cacheDir = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const byName = new Map<string, Map<string, LockEntry>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    const at = path.lastIndexOf('node_modules/');
    if (at < 0 || entry.link || !entry.version || !entry.integrity) continue;
    const name = path.slice(at + 'node_modules/'.length);
    const versions = byName.get(name) ?? new Map<string, LockEntry>();
    versions.set(entry.version, entry);
    byName.set(name, versions);
  }

  let base = '';
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/').slice(1);
    const tarball = /^-\/(.+)\/([^/]+)\.tgz$/.exec(path);
    if (tarball) {
      const entry = byName.get(tarball[1] ?? '')?.get(tarball[2] ?? '');
      const file = entry?.integrity ? cachedTarball(cacheDir, entry.integrity) : undefined;
      if (!file) {
        res.writeHead(404).end(`${path} is not in the npm cache (run npm ci)`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
      return;
    }
    const versions = byName.get(path);
    if (!versions) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const doc = {
      name: path,
      'dist-tags': { latest: [...versions.keys()].at(-1) },
      versions: Object.fromEntries(
        [...versions].map(([version, e]) => [
          version,
          {
            name: path,
            version,
            dependencies: e.dependencies ?? {},
            optionalDependencies: e.optionalDependencies ?? {},
            peerDependencies: e.peerDependencies ?? {},
            peerDependenciesMeta: e.peerDependenciesMeta ?? {},
            ...(e.bin ? { bin: e.bin } : {}),
            ...(e.engines ? { engines: e.engines } : {}),
            ...(e.os ? { os: e.os } : {}),
            ...(e.cpu ? { cpu: e.cpu } : {}),
            dist: { integrity: e.integrity, tarball: `${base}/-/${path}/${version}.tgz` },
          },
        ]),
      ),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
