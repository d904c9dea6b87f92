/**
 * The reference for bench/pkcs11.ts: pkcs11js with no bridge at all, in a process of its
 * own (forked by the bench, so that only one process at a time has the token directory
 * open). It receives a RawTask over IPC (the PIN comes this way, never on the command
 * line), and answers with RawResult:
 *   - sync:   one session, C_SignInit + C_Sign (synchronous) in a tight loop — THE reference;
 *   - async:  one session, C_SignInit + C_SignAsync awaited one at a time (what the module
 *             host does per session: it shows the cost of the libuv thread-pool hop);
 *   - async2: two sessions, each a loop like `async`, side by side (what two sessions can
 *             give at best on this machine).
 */
import { performance } from 'node:perf_hooks';
import * as pkcs11 from 'pkcs11js';
import { cpuSnapshot, cpuUse } from './cpu';

export interface RawTask {
  readonly module: string;
  readonly tokenLabel: string;
  readonly keyLabel: string;
  readonly pin: string;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

export interface RawFigure {
  readonly ops: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** CPU of this process, µs per signature. */
  readonly cpuUsPerSig: number;
  /** CPU used by other processes meanwhile, % of one core (see cpu.ts). */
  readonly othersCpu?: number;
}

export interface RawResult {
  readonly sync: RawFigure;
  readonly async: RawFigure;
  readonly async2: RawFigure;
}

/** Runs `loop` (which returns its operation count) and times it. */
async function measured(loop: () => number | Promise<number>): Promise<RawFigure> {
  const before = cpuSnapshot();
  const ops = await loop();
  const after = cpuSnapshot();
  const ms = after.at - before.at;
  const use = cpuUse(before, after);
  const others = use.others;
  const perSecond = ops / (ms / 1000);
  return {
    ops,
    seconds: ms / 1000,
    perSecond,
    cpuUsPerSig: (use.process / 100) * (1e6 / perSecond),
    ...(others === undefined ? {} : { othersCpu: others }),
  };
}

function syncLoop(
  lib: pkcs11.PKCS11,
  session: Buffer,
  key: Buffer,
  digest: Buffer,
  seconds: number,
): number {
  const mech = { mechanism: pkcs11.CKM_ECDSA };
  const out = Buffer.alloc(132);
  const start = performance.now();
  const end = start + seconds * 1000;
  let ops = 0;
  let now = start;
  while (now < end) {
    lib.C_SignInit(session, mech, key);
    lib.C_Sign(session, digest, out);
    ops++;
    now = performance.now();
  }
  return ops;
}

async function asyncLoops(
  lib: pkcs11.PKCS11,
  sessions: readonly Buffer[],
  key: Buffer,
  digest: Buffer,
  seconds: number,
): Promise<number> {
  const mech = { mechanism: pkcs11.CKM_ECDSA };
  const start = performance.now();
  const end = start + seconds * 1000;
  let ops = 0;
  const loop = async (session: Buffer): Promise<void> => {
    const out = Buffer.alloc(132);
    while (performance.now() < end) {
      lib.C_SignInit(session, mech, key);
      await lib.C_SignAsync(session, digest, out);
      ops++;
    }
  };
  await Promise.all(sessions.map(loop));
  return ops;
}

async function run(task: RawTask): Promise<RawResult> {
  const lib = new pkcs11.PKCS11();
  lib.load(task.module);
  lib.C_Initialize({ flags: pkcs11.CKF_OS_LOCKING_OK });
  try {
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, '') === task.tokenLabel);
    if (!slot) throw new Error(`no token labelled ${task.tokenLabel}`);
    const flags = pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION;
    const sessions = [lib.C_OpenSession(slot, flags), lib.C_OpenSession(slot, flags)] as const;
    lib.C_Login(sessions[0], pkcs11.CKU_USER, task.pin);
    lib.C_FindObjectsInit(sessions[0], [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
      { type: pkcs11.CKA_LABEL, value: task.keyLabel },
    ]);
    const key = lib.C_FindObjects(sessions[0], 1)[0];
    lib.C_FindObjectsFinal(sessions[0]);
    if (!key) throw new Error(`no private key labelled ${task.keyLabel}`);
    const digest = Buffer.alloc(32, 0x5a);

    syncLoop(lib, sessions[0], key, digest, task.warmupSeconds);
    const sync = await measured(() => syncLoop(lib, sessions[0], key, digest, task.seconds));
    const async = await measured(() => asyncLoops(lib, [sessions[0]], key, digest, task.seconds));
    const async2 = await measured(() => asyncLoops(lib, sessions, key, digest, task.seconds));
    lib.C_Logout(sessions[0]);
    for (const s of sessions) lib.C_CloseSession(s);
    return { sync, async, async2 };
  } finally {
    lib.C_Finalize();
    lib.close();
  }
}

if (process.send) {
  process.once('message', (task: RawTask) => {
    run(task).then(
      (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
      (err: unknown) =>
        process.send?.({ ok: false, error: err instanceof Error ? err.message : String(err) }, () =>
          process.exit(1),
        ),
    );
  });
}
