/**
 * listen(): loopback TCP and Unix sockets only (anything else needs TLS with client
 * certificates, not implemented yet), and a graceful close that lets requests in flight
 * finish, closes idle keep-alive connections, and cuts the rest after a timeout.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { statSync, writeFileSync, existsSync } from 'node:fs';
import { Agent, get, type IncomingMessage, type RequestOptions } from 'node:http';
import { join } from 'node:path';
import Koa from 'koa';
import {
  allowedHostsFor,
  listen,
  parseListenAddress,
  type ServerHandle,
} from '../../../daemon/server';
import { makeTempDir } from '../../helpers/tmp';

/** A tiny app: /fast answers at once, /slow when the test releases it. */
function slowApp() {
  const releases: (() => void)[] = [];
  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.path === '/slow') await new Promise<void>((resolve) => releases.push(resolve));
    ctx.body = { path: ctx.path };
  });
  return { app, releases };
}

function fetch(opts: RequestOptions): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const handles: ServerHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

async function start(address: string, extra: { shutdownTimeoutMs?: number } = {}) {
  const { app, releases } = slowApp();
  const handle = await listen(app, { address, ...extra });
  handles.push(handle);
  return { handle, releases };
}

describe('listen addresses', () => {
  test.each([
    ['127.0.0.1:7468', { kind: 'tcp', host: '127.0.0.1', port: 7468 }],
    ['[::1]:7468', { kind: 'tcp', host: '::1', port: 7468 }],
    ['unix:/run/notary-hsm/d.sock', { kind: 'unix', path: '/run/notary-hsm/d.sock' }],
  ])('%s parses', (address, expected) => {
    expect(parseListenAddress(address)).toEqual(expected);
  });

  test.each([
    'localhost:7468',
    '127.0.0.1',
    '127.0.0.1:70000',
    '::1:7468',
    '[127.0.0.1]:7468',
    'unix:',
    `unix:/${'x'.repeat(200)}`,
    'http://127.0.0.1:7468',
  ])('%s is CONFIG_INVALID', (address) => {
    expect(() => parseListenAddress(address)).toThrowWithCode('CONFIG_INVALID');
  });

  test.each(['0.0.0.0:7468', '192.0.2.10:7468', '[::]:7468', '[2001:db8::1]:7468'])(
    'non-loopback %s is refused without TLS',
    async (address) => {
      const { app } = slowApp();
      await expect(listen(app, { address })).rejects.toThrowWithCode('CONFIG_INVALID');
    },
  );

  test('the Host allowlist follows the listen address', () => {
    expect(allowedHostsFor('127.0.0.1:7468')).toEqual([
      '127.0.0.1:7468',
      'localhost:7468',
      '[::1]:7468',
    ]);
    expect(allowedHostsFor('127.0.0.2:9000', ['signer.internal:9000'])).toEqual([
      '127.0.0.1:9000',
      'localhost:9000',
      '[::1]:9000',
      '127.0.0.2:9000',
      'signer.internal:9000',
    ]);
    expect(allowedHostsFor('unix:/run/d.sock')).toEqual(['127.0.0.1', 'localhost', '[::1]']);
    expect(allowedHostsFor('127.0.0.1:0')).toEqual(['127.0.0.1', 'localhost', '[::1]']);
  });

  test('TLS: unusable PEM and a Unix socket with TLS are CONFIG_INVALID, never ignored', async () => {
    const { app } = slowApp();
    const tls = { cert: 'c', key: 'k', ca: 'a' };
    await expect(listen(app, { address: '127.0.0.1:0', tls })).rejects.toThrowWithCode(
      'CONFIG_INVALID',
    );
    await expect(listen(app, { address: 'unix:/tmp/never.sock', tls })).rejects.toThrow(
      /TLS is for a TCP listener/,
    );
  });

  test('an address in use is CONFIG_INVALID', async () => {
    const { handle } = await start('127.0.0.1:0');
    const { app } = slowApp();
    await expect(listen(app, { address: handle.address })).rejects.toThrowWithCode(
      'CONFIG_INVALID',
    );
  });
});

describe('serving', () => {
  test('127.0.0.1 with an ephemeral port reports what it bound', async () => {
    const { handle } = await start('127.0.0.1:0');
    expect(handle.address).toBe(`127.0.0.1:${handle.port}`);
    const { res, body } = await fetch({ host: '127.0.0.1', port: handle.port, path: '/fast' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(body)).toEqual({ path: '/fast' });
  });

  test('[::1]', async () => {
    const { handle } = await start('[::1]:0');
    expect(handle.address).toBe(`[::1]:${handle.port}`);
    const { res } = await fetch({ host: '::1', port: handle.port, path: '/fast' });
    expect(res.statusCode).toBe(200);
  });

  test('a Unix socket: mode 0660, a stale file replaced, a live one refused, removed on close', async () => {
    const dir = await makeTempDir('daemon-sock');
    const path = join(dir, 'd.sock');
    // A socket file left behind by a process that was killed.
    const crashed = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await once(crashed.stdout, 'data');
    crashed.kill('SIGKILL');
    await once(crashed, 'exit');
    expect(statSync(path).isSocket()).toBe(true);

    const { handle } = await start(`unix:${path}`);
    expect(handle.address).toBe(`unix:${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    const { res } = await fetch({ socketPath: path, path: '/fast' });
    expect(res.statusCode).toBe(200);

    const { app } = slowApp();
    await expect(listen(app, { address: `unix:${path}` })).rejects.toThrow(/another process/);

    await handle.close();
    expect(existsSync(path)).toBe(false);

    const file = join(dir, 'plain');
    writeFileSync(file, '');
    await expect(listen(app, { address: `unix:${file}` })).rejects.toThrow(/not a socket/);
  });
});

describe('graceful close', () => {
  test('stops accepting, lets the request in flight finish, then resolves', async () => {
    const { handle, releases } = await start('127.0.0.1:0');
    const agent = new Agent({ keepAlive: true });
    try {
      const slow = fetch({ host: '127.0.0.1', port: handle.port, path: '/slow', agent });
      await waitFor(() => releases.length === 1);
      let closed = false;
      const closing = handle.close().then(() => (closed = true));
      await expect(fetch({ host: '127.0.0.1', port: handle.port, path: '/fast' })).rejects.toThrow(
        /ECONNREFUSED/,
      );
      expect(closed).toBe(false);
      releases[0]?.();
      const { res, body } = await slow;
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(body)).toEqual({ path: '/slow' });
      expect(res.headers.connection).toBe('close');
      await closing;
      expect(closed).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  test('idle keep-alive connections do not hold it open', async () => {
    const { handle } = await start('127.0.0.1:0', { shutdownTimeoutMs: 30_000 });
    const agent = new Agent({ keepAlive: true });
    try {
      await fetch({ host: '127.0.0.1', port: handle.port, path: '/fast', agent });
      const started = Date.now();
      await handle.close();
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      agent.destroy();
    }
  });

  test('a request that never finishes is cut after the shutdown timeout', async () => {
    const { handle, releases } = await start('127.0.0.1:0', { shutdownTimeoutMs: 200 });
    const stuck = fetch({ host: '127.0.0.1', port: handle.port, path: '/slow' });
    const outcome = stuck.then(
      () => 'answered',
      () => 'cut',
    );
    await waitFor(() => releases.length === 1);
    const started = Date.now();
    await handle.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(await outcome).toBe('cut');
    releases[0]?.();
  });

  test('close() is idempotent', async () => {
    const { handle } = await start('127.0.0.1:0');
    await Promise.all([handle.close(), handle.close()]);
    await handle.close();
  });
});
