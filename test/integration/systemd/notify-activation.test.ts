/**
 * notary-hsmd as systemd runs it: started by systemd-socket-activate on a loopback TCP
 * socket and a Unix socket it binds itself (LISTEN_FDS), with NOTIFY_SOCKET pointing at a
 * datagram socket of this test. READY=1 must come before the answer to a request sent as
 * soon as the sockets exist (the kernel queues the connection until the daemon accepts);
 * both inherited sockets serve; WATCHDOG=1 pings arrive while it runs (WATCHDOG_USEC
 * 0.5 s); SIGTERM brings STOPPING=1 and a clean exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { createSocket } from 'unix-dgram';
import { call } from '../../helpers/daemon-api';
import { makeDaemonSetup } from '../../helpers/daemon';
import { freePort } from '../../helpers/ports';
import { makeTempDir } from '../../helpers/tmp';

const BIN = join(__dirname, '..', '..', '..', 'bin', 'notary-hsmd');
const haveActivate = spawnSync('systemd-socket-activate', ['--version']).status === 0;
const describeIf = haveActivate ? describe : describe.skip;
if (!haveActivate) {
  console.warn(
    'skipped: systemd-socket-activate is missing (package systemd, scripts/install-deps.sh)',
  );
}

/** Resolves when `cond()` holds, re-checking on every event `wake` registers. */
async function until(cond: () => boolean, wake: (check: () => void) => () => void): Promise<void> {
  if (cond()) return;
  await new Promise<void>((resolve) => {
    const stop = wake(() => {
      if (cond()) {
        stop();
        resolve();
      }
    });
  });
}

/** The status of a GET over a Unix socket. */
function unixGet(socketPath: string, path: string, token: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, headers: { Host: 'localhost', Authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

describeIf('systemd socket activation and sd_notify', () => {
  let child: ChildProcess | undefined;
  let notify: ReturnType<typeof createSocket> | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    notify?.close();
  });

  it('READY=1 before the first answer, both sockets served, watchdog pings, STOPPING=1', async () => {
    const setup = await makeDaemonSetup();
    const dir = await makeTempDir('sd-');
    const notifyPath = join(dir, 'notify.sock');
    const unixPath = join(dir, 'hsmd.sock');
    const port = await freePort();

    // What arrives, in order: notifications and the test's own answers, in one list.
    const events: string[] = [];
    const sink = createSocket('unix_dgram');
    notify = sink;
    const onMessage = new Set<() => void>();
    sink.on('message', (buf: Buffer) => {
      for (const line of buf.toString().split('\n')) events.push(line);
      for (const f of onMessage) f();
    });
    sink.bind(notifyPath);
    const onNotify = (check: () => void): (() => void) => {
      onMessage.add(check);
      return () => onMessage.delete(check);
    };

    let err = '';
    child = spawn(
      'systemd-socket-activate',
      [
        '-l',
        `127.0.0.1:${port}`,
        '-l',
        unixPath,
        '--fdname=http:unix',
        '-E',
        `NOTIFY_SOCKET=${notifyPath}`,
        '-E',
        'WATCHDOG_USEC=500000',
        '-E',
        'NOTARY_HSM_LOG_LEVEL=info',
        process.execPath,
        BIN,
        'serve',
        '--config',
        setup.config,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const proc = child;
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    // systemd-socket-activate says "Listening on …" for each socket before it starts the daemon.
    await until(
      () => (err.match(/Listening on/g) ?? []).length >= 2,
      (check) => {
        proc.stderr?.on('data', check);
        return () => proc.stderr?.off('data', check);
      },
    );
    const first = call(`http://127.0.0.1:${port}`, { path: '/healthz' }).then((res) => {
      events.push(`answer ${res.status}`);
      return res;
    });
    expect((await first).status).toBe(200);
    const ready = events.indexOf('READY=1');
    expect(ready).toBeGreaterThanOrEqual(0);
    expect(ready).toBeLessThan(events.indexOf('answer 200'));

    // The Unix socket systemd-socket-activate bound is served too, with the API.
    expect(await unixGet(unixPath, '/v1/keys', setup.ciToken)).toBe(200);

    await until(() => events.filter((e) => e === 'WATCHDOG=1').length >= 2, onNotify);

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await until(() => events.includes('STOPPING=1'), onNotify);
    expect(events.indexOf('STOPPING=1')).toBeGreaterThan(ready);
    expect(err).toContain('socket activation');
  });
});
