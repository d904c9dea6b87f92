/**
 * What the audit checkpoint costs (src/store/checkpoint.ts): the real bin/notary-hsmd on a
 * SoftHSM2 token, with the checkpoint in that token (the default) and with
 * `audit_checkpoint: off`, under the same load, alternated round by round in one run:
 *
 *  - 32 keep-alive closed-loop clients on POST /v1/sign/delegation for --seconds:
 *    signatures/s, p50 and p99;
 *  - 1 client, sequential requests: p50 (one batch per request, so one checkpoint write
 *    each — the latency a lone CI job sees);
 *  - the raw cost of one checkpoint write (C_SetAttributeValue of the data object's label)
 *    beside one C_Sign, pkcs11js alone on a fresh token.
 *
 *   node dist/bench/bench/checkpoint.js [--seconds 8] [--rounds 2] [--json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as pkcs11 from 'pkcs11js';
import { parse, stringify } from 'yaml';
import type { LoadTask, SignResult } from './daemon-load';
import {
  BENCH_GUN_PREFIX,
  BENCH_ROLE,
  cleanUp,
  createSoftHsmToken,
  killAllNow,
  makeDaemonSetup,
  makeTempDir,
  startDaemonProcess,
} from './daemon-setup';
import { Forked } from './forked';
import { softHsmModule } from '../src/pkcs11/softhsm';

interface Figures {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  loneP50Ms: number;
}

/** µs per call of `fn`, over `n` calls after 50 unmeasured ones. */
function perCall(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < 50; i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

/** One C_SetAttributeValue of a private data object's label, and one C_Sign, in µs. */
async function rawCosts(): Promise<{ writeUs: number; signUs: number }> {
  const dir = await makeTempDir('ckpt-raw-');
  const token = await createSoftHsmToken(dir, 'bench-ckpt-raw');
  process.env.SOFTHSM2_CONF = token.conf;
  const p = new pkcs11.PKCS11();
  p.load(softHsmModule());
  p.C_Initialize();
  try {
    const slot = p
      .C_GetSlotList(true)
      .find((s) => p.C_GetTokenInfo(s).label.trim() === 'bench-ckpt-raw');
    if (!slot) throw new Error('the fresh token is not there');
    const s = p.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
    p.C_Login(s, pkcs11.CKU_USER, token.pin);
    const data = p.C_CreateObject(s, [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
      { type: pkcs11.CKA_TOKEN, value: true },
      { type: pkcs11.CKA_PRIVATE, value: true },
      { type: pkcs11.CKA_MODIFIABLE, value: true },
      { type: pkcs11.CKA_APPLICATION, value: 'bench checkpoint' },
      { type: pkcs11.CKA_LABEL, value: '{}' },
    ]);
    const line = (i: number): string =>
      JSON.stringify({ format: 'notary-hsmd-audit-checkpoint/1', seq: i, hash: 'f'.repeat(64) });
    const writeUs = perCall(500, (i) =>
      p.C_SetAttributeValue(s, data, [{ type: pkcs11.CKA_LABEL, value: line(i) }]),
    );
    const { privateKey } = p.C_GenerateKeyPair(
      s,
      { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11.CKA_TOKEN, value: false },
        { type: pkcs11.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
      ],
      [
        { type: pkcs11.CKA_TOKEN, value: false },
        { type: pkcs11.CKA_SIGN, value: true },
      ],
    );
    const digest = Buffer.alloc(32, 7);
    const out = Buffer.alloc(64);
    const signUs = perCall(2000, () => {
      p.C_SignInit(s, { mechanism: pkcs11.CKM_ECDSA }, privateKey);
      p.C_Sign(s, digest, out);
    });
    return { writeUs, signUs };
  } finally {
    p.C_Finalize();
  }
}

async function measure(config: string, token: string, seconds: number): Promise<Figures> {
  const daemon = await startDaemonProcess(config);
  const load = new Forked<LoadTask, SignResult>('daemon-load.js');
  try {
    const task = (clients: number, secs: number, prefix: string): LoadTask => ({
      kind: 'sign',
      url: daemon.url,
      token,
      clients,
      gunPrefix: `${BENCH_GUN_PREFIX}${prefix}`,
      role: BENCH_ROLE,
      warmupSeconds: 1,
      seconds: secs,
    });
    const full = await load.run(task(32, seconds, `f${Date.now()}-`));
    const lone = await load.run(task(1, Math.max(3, seconds / 2), `l${Date.now()}-`));
    if (full.errors > 0 || lone.errors > 0) {
      throw new Error(
        `errors under load: ${JSON.stringify({ ...full.outcomes, ...lone.outcomes })}`,
      );
    }
    return {
      perSecond: full.perSecond,
      p50Ms: full.latency.p50,
      p99Ms: full.latency.p99,
      loneP50Ms: lone.latency.p50,
    };
  } finally {
    load.close();
    await daemon.stop();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const raw = await rawCosts();
  const setup = await makeDaemonSetup({ prefix: 'ckpt', sessions: 2 });
  const doc = parse(readFileSync(setup.config, 'utf8')) as Record<string, unknown>;
  const off = join(setup.dir, 'daemon-off.yaml');
  writeFileSync(off, stringify({ ...doc, state_dir: 'state-off', audit_checkpoint: 'off' }), {
    mode: 0o600,
  });
  const runs: { on: Figures[]; off: Figures[] } = { on: [], off: [] };
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      runs[which].push(
        await measure(which === 'on' ? setup.config : off, setup.clientToken, seconds),
      );
    }
  }
  const pick = (k: keyof Figures, w: 'on' | 'off'): number => median(runs[w].map((f) => f[k]));
  const result = {
    raw,
    on: Object.fromEntries(
      (['perSecond', 'p50Ms', 'p99Ms', 'loneP50Ms'] as const).map((k) => [k, pick(k, 'on')]),
    ),
    off: Object.fromEntries(
      (['perSecond', 'p50Ms', 'p99Ms', 'loneP50Ms'] as const).map((k) => [k, pick(k, 'off')]),
    ),
    rounds,
    seconds,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const row = (what: string, k: keyof Figures, unit: string, digits: number): string => {
    const a = pick(k, 'on');
    const b = pick(k, 'off');
    return `| ${what} | ${a.toFixed(digits)} ${unit} | ${b.toFixed(digits)} ${unit} | ${(a / b).toFixed(2)}× |`;
  };
  process.stdout.write(
    [
      `audit checkpoint cost: ${rounds} rounds of ${seconds} s each way (medians), SoftHSM2`,
      '',
      '| | checkpoint on | off | on/off |',
      '| --- | ---: | ---: | ---: |',
      row('signatures/s, 32 clients', 'perSecond', '', 0),
      row('p50, 32 clients', 'p50Ms', 'ms', 2),
      row('p99, 32 clients', 'p99Ms', 'ms', 2),
      row('p50, 1 client', 'loneP50Ms', 'ms', 2),
      '',
      `raw pkcs11js on SoftHSM2: one checkpoint write (C_SetAttributeValue) ${raw.writeUs.toFixed(0)} µs; one C_Sign ${raw.signUs.toFixed(0)} µs`,
      '',
    ].join('\n'),
  );
}

void main()
  .catch((err: unknown) => {
    process.stderr.write(
      `checkpoint bench failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    killAllNow();
    process.exitCode = 1;
  })
  .finally(() => cleanUp());
