/**
 * The cost of one sd_notify message (a watchdog ping) two ways, in one run: a datagram
 * sent through unix-dgram (what daemon/systemd/notify.ts does) and a systemd-notify
 * process per message (the alternative without a native addon). Both go to a datagram
 * socket of this process, and a message counts once it has arrived.
 *
 *   node dist/bench/bench/notify.js [--count N]   (default 2000 datagrams, 200 processes)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSocket } from 'unix-dgram';

const run = promisify(execFile);

async function main(): Promise<void> {
  const i = process.argv.indexOf('--count');
  const count = i > 0 ? Number(process.argv[i + 1]) : 2000;
  const dir = mkdtempSync(join(tmpdir(), 'notary-hsm-bench-notify-'));
  const path = join(dir, 'notify.sock');
  const sink = createSocket('unix_dgram');
  let received = 0;
  let waiter: (() => void) | undefined;
  sink.on('message', () => {
    received += 1;
    waiter?.();
  });
  sink.bind(path);
  const arrived = (n: number): Promise<void> =>
    received >= n ? Promise.resolve() : new Promise((r) => (waiter = () => received >= n && r()));

  const sender = createSocket('unix_dgram');
  const ping = Buffer.from('WATCHDOG=1');
  let t = process.hrtime.bigint();
  for (let k = 0; k < count; k++) {
    await new Promise<void>((resolve, reject) =>
      sender.send(ping, 0, ping.length, path, (err) => (err ? reject(err) : resolve())),
    );
    await arrived(k + 1);
  }
  const dgramUs = Number(process.hrtime.bigint() - t) / 1000 / count;
  sender.close();

  const spawns = Math.max(1, Math.floor(count / 10));
  const base = received;
  const env = { ...process.env, NOTIFY_SOCKET: path };
  t = process.hrtime.bigint();
  for (let k = 0; k < spawns; k++) {
    await run('systemd-notify', ['WATCHDOG=1'], { env });
    await arrived(base + k + 1);
  }
  const spawnUs = Number(process.hrtime.bigint() - t) / 1000 / spawns;
  sink.close();
  rmSync(dir, { recursive: true, force: true });

  console.log('sd_notify: one WATCHDOG=1 message, sent until received');
  console.log(
    `  unix-dgram datagram            ${dgramUs.toFixed(1).padStart(9)} µs   (${count} messages)`,
  );
  console.log(
    `  systemd-notify process (REF)   ${spawnUs.toFixed(1).padStart(9)} µs   (${spawns} processes)`,
  );
  console.log(
    `  datagram vs process            ${(spawnUs / dgramUs).toFixed(0).padStart(9)}× cheaper`,
  );
}

void main();
