/**
 * The soak: the real bin/notary-hsmd on a SoftHSM2 token behind the fault shim, under
 * steady signing load (closed-loop keep-alive clients, POST /v1/sign/delegation) for
 * --minutes, with the token pulled out and plugged back in (at 30% of the run) and a touch
 * that never comes (at 65%), each for --fault-seconds. Per interval (--interval, default
 * one minute) it prints: signatures/s, RSS and open descriptors of the daemon and of its
 * module host (/proc/PID/status, /proc/PID/fd), the daemon's event-loop delay p99 (its
 * /metrics gauge, reset at each scrape), /healthz p99 (polled every 100 ms) and errors:
 * expected ones (token codes, and AUDIT_UNAVAILABLE while the audit checkpoint on the
 * token cannot be written, inside a fault window or the 15 s after it) and unexpected
 * ones (anything else). Exit status 1 when there was any unexpected error.
 *
 *   node dist/bench/bench/soak.js [--minutes 10] [--seconds N] [--interval 60]
 *        [--clients 8] [--fault-seconds 20] [--json]
 *
 * `--seconds` overrides `--minutes` (the suite runs a short soak this way).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { FaultControl } from '../test/helpers/fault-shim';
import { FileMeta } from '../src/metadata/file-meta';
import { Targets } from '../src/metadata/targets';
import { GoTime } from '../src/metadata/time';
import { statMs } from './cpu';
import {
  BENCH_GUN_PREFIX,
  BENCH_ROLE,
  buildFaultShim,
  cleanUp,
  killAllNow,
  makeDaemonSetup,
  makeTempDir,
  startDaemonProcess,
} from './daemon-setup';

/**
 * Codes a client may see while the token is out or a touch does not come. The token also
 * keeps the audit log's checkpoint: while it cannot be written, nothing is signed
 * (AUDIT_UNAVAILABLE), and signing resumes by itself once it can.
 */
const FAULT_CODES = new Set([
  'TOKEN_NOT_PRESENT',
  'TOKEN_TIMEOUT',
  'TOKEN_BUSY',
  'NOT_LOGGED_IN',
  'DEVICE_ERROR',
  'AUDIT_UNAVAILABLE',
]);
const GRACE_MS = 15_000;

interface Row {
  interval: number;
  signedPerSecond: number;
  daemonRssMiB: number;
  hostRssMiB: number;
  daemonFds: number;
  hostFds: number;
  loopP99Ms: number;
  healthzP99Ms: number;
  expectedErrors: number;
  unexpectedErrors: number;
  phase: string;
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Math.round((Number(m?.[1]) / 1024) * 10) / 10;
  } catch {
    return NaN;
  }
}

function fds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** The daemon's module host: its child process running node. */
function moduleHost(daemon: number): number | undefined {
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    if (statMs(`/proc/${n}/stat`)?.ppid !== daemon) continue;
    try {
      if (readlinkSync(`/proc/${n}/exe`) === process.execPath) return Number(n);
    } catch {
      // gone
    }
  }
  return undefined;
}

function p99(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] as number) * 100) / 100;
}

function http(
  agent: Agent,
  url: URL,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const r = request(
      { host: url.hostname, port: url.port, method, path, agent, headers, timeout: 60_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end(body);
  });
}

function signBody(gun: string, version: number): Buffer {
  const content = Buffer.from(`soak ${gun} ${version}`);
  const signed = new Targets({
    expires: GoTime.daysFromNow(30),
    version,
    targets: new Map([
      [
        `v${version}`,
        FileMeta.sha256(createHash('sha256').update(content).digest(), content.length),
      ],
    ]),
  }).toJson();
  return Buffer.from(JSON.stringify({ gun, role: BENCH_ROLE, signed }));
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<number> {
  const { values: a } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      seconds: { type: 'string' },
      interval: { type: 'string', default: '60' },
      clients: { type: 'string', default: '8' },
      'fault-seconds': { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (a.help) {
    process.stdout.write(
      'node dist/bench/bench/soak.js [--minutes 10] [--seconds N] [--interval 60] [--clients 8] [--fault-seconds 20] [--json]\n',
    );
    return 0;
  }
  const totalMs = (a.seconds !== undefined ? Number(a.seconds) : Number(a.minutes) * 60) * 1000;
  const intervalMs = Number(a.interval) * 1000;
  const clients = Number(a.clients);
  const faultMs = Number(a['fault-seconds']) * 1000;
  const log = (s: string): void => void process.stderr.write(`soak: ${s}\n`);

  const dir = await makeTempDir('soak-');
  const shim = await buildFaultShim(dir);
  const control = new FaultControl(dir);
  const setup = await makeDaemonSetup({
    prefix: 'soak-',
    dir,
    // `generic` says a touch may be needed (touch.possible), as on a YubiKey
    profile: 'generic',
    sessions: 2,
    module: shim,
    moduleEnv: control.env,
    timeoutMs: 3_000,
  });
  const daemon = await startDaemonProcess(setup.config);
  const url = new URL(daemon.url);
  const pid = daemon.child.pid as number;
  log(`notary-hsmd ${daemon.url} (pid ${pid}), ${clients} clients, ${totalMs / 1000} s`);

  const start = performance.now();
  const windows: { from: number; to: number }[] = [];
  let phase = 'steady';
  let signed = 0;
  let expected = 0;
  let unexpected = 0;
  const unexpectedSeen = new Map<string, number>();
  const expectedSeen = new Map<string, number>();
  let healthz: number[] = [];
  let stop = false;

  const inFault = (t: number): boolean => windows.some((w) => t >= w.from && t <= w.to + GRACE_MS);
  /** Counts an error by the time its answer came (a request in flight when the fault began is the fault's). */
  const note = (what: string): void => {
    const t = performance.now() - start;
    const code = /"code":"([A-Z_]+)"/.exec(what)?.[1] ?? what;
    what = what.replace(/"requestId":"[^"]*"/, '"requestId":"…"');
    if (inFault(t) && FAULT_CODES.has(code)) {
      expected++;
      expectedSeen.set(code, (expectedSeen.get(code) ?? 0) + 1);
    } else {
      unexpected++;
      unexpectedSeen.set(what.slice(0, 200), (unexpectedSeen.get(what.slice(0, 200)) ?? 0) + 1);
    }
  };

  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const headers = {
    Authorization: `Bearer ${setup.clientToken}`,
    'Content-Type': 'application/json',
  };
  const client = async (i: number): Promise<void> => {
    const gun = `${BENCH_GUN_PREFIX}soak${i}`;
    for (let version = 1; !stop; version++) {
      try {
        const res = await http(
          agent,
          url,
          'POST',
          '/v1/sign/delegation',
          headers,
          signBody(gun, version),
        );
        if (res.status === 200) signed++;
        else {
          note(`${res.status} ${res.text}`);
          // a CI job backs off a little before it tries again
          await sleep(50);
        }
      } catch (err) {
        note(`network ${(err as Error).message}`);
        await sleep(100);
      }
    }
  };
  const pollAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const poller = async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const res = await http(pollAgent, url, 'GET', '/healthz', {});
        if (res.status !== 200) note(`healthz ${res.status}`);
        healthz.push(performance.now() - t0);
      } catch (err) {
        note(`healthz ${(err as Error).message}`);
      }
      await sleep(100);
    }
  };
  const loopP99 = async (): Promise<number> => {
    try {
      const res = await http(pollAgent, url, 'GET', '/metrics', {});
      const m = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(res.text);
      return m ? Math.round(Number(m[1]) * 1000 * 100) / 100 : NaN;
    } catch {
      return NaN;
    }
  };

  const faults = (async (): Promise<void> => {
    const at = async (fraction: number): Promise<void> => {
      const wait = start + totalMs * fraction - performance.now();
      if (wait > 0) await sleep(wait);
    };
    await at(0.3);
    if (stop) return;
    const removedAt = performance.now() - start;
    windows.push({ from: removedAt, to: Infinity });
    phase = 'token out';
    control.set({ present: 0 });
    log('token pulled out');
    await sleep(faultMs);
    control.set({ present: 1 });
    (windows[0] as { to: number }).to = performance.now() - start;
    phase = 'token back';
    log('token plugged back in');
    await at(0.65);
    if (stop) return;
    windows.push({ from: performance.now() - start, to: Infinity });
    phase = 'no touch';
    control.set({ sign_delay_ms: -1 });
    log('touch never comes');
    await sleep(faultMs);
    control.set({ sign_delay_ms: 0 });
    (windows[1] as { to: number }).to = performance.now() - start;
    phase = 'touch back';
    log('touch comes again');
  })();

  const rows: Row[] = [];
  const work = [...Array.from({ length: clients }, (_, i) => client(i)), poller()];
  await loopP99(); // reset the gauge
  let lastSigned = 0;
  let lastExpected = 0;
  let lastUnexpected = 0;
  for (let n = 1; n * intervalMs <= totalMs; n++) {
    await sleep(start + n * intervalMs - performance.now());
    const host = moduleHost(pid);
    const row: Row = {
      interval: n,
      signedPerSecond: Math.round((signed - lastSigned) / (intervalMs / 1000)),
      daemonRssMiB: rssMiB(pid),
      hostRssMiB: rssMiB(host),
      daemonFds: fds(pid),
      hostFds: fds(host),
      loopP99Ms: await loopP99(),
      healthzP99Ms: p99(healthz),
      expectedErrors: expected - lastExpected,
      unexpectedErrors: unexpected - lastUnexpected,
      phase,
    };
    healthz = [];
    lastSigned = signed;
    lastExpected = expected;
    lastUnexpected = unexpected;
    rows.push(row);
    log(JSON.stringify(row));
  }
  stop = true;
  control.set({ present: 1, sign_delay_ms: 0 });
  await Promise.all([...work, faults]);
  // The daemon recovered: one more signature after everything.
  const after = await http(
    agent,
    url,
    'POST',
    '/v1/sign/delegation',
    headers,
    signBody(`${BENCH_GUN_PREFIX}soak-after`, 1),
  );
  agent.destroy();
  pollAgent.destroy();
  const exit = await daemon.stop();
  await cleanUp();

  const result = {
    rows,
    signed,
    expectedErrors: Object.fromEntries(expectedSeen),
    unexpectedErrors: Object.fromEntries(unexpectedSeen),
    recovered: after.status === 200,
    daemonExit: exit,
  };
  if (a.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const unit = intervalMs === 60_000 ? 'min' : `${intervalMs / 1000}s`;
    const head = `| ${unit} | sig/s | daemon RSS MiB | host RSS MiB | daemon fds | host fds | loop p99 ms | /healthz p99 ms | expected err | unexpected err | phase |`;
    process.stdout.write(`${head}\n|${'---|'.repeat(11)}\n`);
    for (const r of rows) {
      process.stdout.write(
        `| ${r.interval} | ${r.signedPerSecond} | ${r.daemonRssMiB} | ${r.hostRssMiB} | ${r.daemonFds} | ${r.hostFds} | ${r.loopP99Ms} | ${r.healthzP99Ms} | ${r.expectedErrors} | ${r.unexpectedErrors} | ${r.phase} |\n`,
      );
    }
    process.stdout.write(
      `signed ${signed}; expected errors ${JSON.stringify(result.expectedErrors)}; unexpected ${JSON.stringify(result.unexpectedErrors)}; recovered ${result.recovered}\n`,
    );
  }
  return unexpected === 0 && result.recovered ? 0 : 1;
}

process.on('exit', killAllNow);
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(2);
  },
);
