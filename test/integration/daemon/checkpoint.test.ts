/**
 * The audit log's checkpoint in a token, on the real daemon process and SoftHSM2 tokens.
 * Records cut off the end of the log (the daemon stopped), or the whole state directory
 * restored from an older copy, still make a chain that verifies; the daemon refuses to
 * start on either, naming the checkpoint, so no version is ever signed twice. The
 * checkpoint is exported for `notary-hsm audit verify --checkpoint`. A checkpoint token
 * pulled out while the daemon runs (the fault shim's `present=0`, below pkcs11js) stops
 * all signing with AUDIT_UNAVAILABLE until it is back; one absent at start makes the daemon
 * start not ready, and ready once it appears. A public object planted without the PIN is
 * not taken for the checkpoint, and a checkpoint lost from its token (a torn SoftHSM2
 * object file) is refused as missing, since the log says it has one. A log that had no
 * checkpoint gets one; one moved elsewhere is refused until it is re-anchored.
 */
import { execFile } from 'node:child_process';
import { cp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AUDIT_LOG_FILE } from '../../../src/store';
import {
  auditRecords,
  call,
  errorOf,
  isReady,
  signaturesOf,
  targetsDoc,
} from '../../helpers/daemon-api';
import { writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  runDaemonCommand,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { eventually } from '../../helpers/eventually';
import { buildFaultShim, FaultControl } from '../../helpers/fault-shim';
import { runCli } from '../../helpers/run-cli';
import { SOFTHSM_MODULE } from '../../helpers/softhsm';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/e2e/checkpoint';

/** Waits for the daemon's log (written in batches) to show `line`. */
function logged(d: DaemonProcess, line: RegExp): Promise<void> {
  return eventually(`the log shows ${String(line)}`, () => line.test(d.output()));
}

/**
 * Cuts the log in `state` back to just before the record of version `version` (the daemon
 * stopped); returns how many records are left.
 */
async function cutLogBefore(state: string, version: number): Promise<number> {
  const log = join(state, AUDIT_LOG_FILE);
  const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  const keep = lines.findIndex((l) => (JSON.parse(l) as { version?: number }).version === version);
  expect(keep).toBeGreaterThan(0);
  await truncate(log, Buffer.byteLength(lines.slice(0, keep).join('\n') + '\n'));
  return keep;
}

describe('the audit checkpoint in a token', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    // `lost` holds only one checkpoint, whose object file a case tears
    setup = await makeDaemonSetup({ extraTokens: ['ckpt', 'lost'] });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  /** A variant whose state lives in `state` (relative to the setup's directory). */
  function variant(
    name: string,
    state: string,
    edit: (doc: Record<string, unknown>) => void = () => {},
  ) {
    return writeConfigVariant(setup, `${name}.yaml`, (doc) => {
      doc.state_dir = state;
      edit(doc);
    });
  }

  function sign(d: DaemonProcess, version: number, tag = `v${version}`) {
    return call(d.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [tag]) },
    });
  }

  async function exportCheckpoint(
    config: string,
    out: string,
  ): Promise<{ seq: number; hash: string }> {
    const r = await runDaemonCommand(['checkpoint', 'export', '--config', config, '--out', out]);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    return JSON.parse(await readFile(out, 'utf8')) as { seq: number; hash: string };
  }

  /**
   * `config`'s ckpt token behind the fault shim, holding the checkpoint (`checkpoint`:
   * its audit_checkpoint); the shim's control in a new directory.
   */
  async function shimmedCheckpoint(
    name: string,
    state: string,
    checkpoint: Record<string, unknown>,
  ): Promise<{ config: string; control: FaultControl }> {
    const [shim, dir] = await Promise.all([buildFaultShim(), makeTempDir(`${name}-shim-`)]);
    const control = new FaultControl(dir);
    const config = variant(name, state, (doc) => {
      const tokens = doc.tokens as Record<string, unknown>[];
      const ckpt = tokens.find((t) => t.name === 'ckpt') as Record<string, unknown>;
      ckpt.profile = 'generic';
      ckpt.module = shim;
      ckpt.environment = { ...(ckpt.environment as object), ...control.env };
      doc.audit_checkpoint = checkpoint;
    });
    return { config, control };
  }

  /**
   * After versions 1–4 and a log cut back before 3: the daemon must refuse to start. If it
   * started anyway, it is given a different version 3 to sign, so that a failure shows the
   * harm. Returns the refusal.
   */
  async function refusedAfterCut(config: string, state: string): Promise<string> {
    let started: DaemonProcess | undefined;
    let refusal = '';
    try {
      started = await startDaemonProcess(config);
    } catch (err) {
      refusal = (err as Error).message;
    }
    if (started) {
      daemon = started;
      await sign(started, 3, 'v3-again');
      await started.stop();
      daemon = undefined;
    }
    const v3 = (await auditRecords(state)).filter((r) => r.outcome === 'signed' && r.version === 3);
    expect(v3).toHaveLength(0); // the record of the first version 3 was cut; none since
    expect(started).toBeUndefined();
    return refusal;
  }

  /** Starts the daemon on `config` and expects it to refuse; returns what it printed. */
  async function refusesToStart(config: string): Promise<string> {
    const r = await runDaemonCommand(['serve', '--config', config, '--listen', '127.0.0.1:0']);
    expect(r.code).not.toBe(0);
    return r.out + r.err;
  }

  it('records cut off the log: audit verify still passes, the checkpoint does not, and the daemon refuses to start', async () => {
    const config = variant('cut', 'state-cut');
    const state = join(setup.dir, 'state-cut');
    daemon = await startDaemonProcess(config);
    await logged(daemon, /audit checkpoint created/);
    for (const v of [1, 2, 3, 4]) expect(signaturesOf(await sign(daemon, v))).toHaveLength(1);
    await daemon.stop();
    daemon = undefined;

    const file = join(setup.dir, 'cut-checkpoint.json');
    const saved = await exportCheckpoint(config, file);
    const records = await auditRecords(state);
    expect(saved.seq).toBe(records.length);
    expect(saved.hash).toBe(records[records.length - 1]?.hash);
    const good = await runCli(['audit', 'verify', '--state-dir', state, '--checkpoint', file]);
    expect(good.code).toBe(0);
    expect(good.out).toContain(`reaches the checkpoint: seq ${saved.seq}`);

    // cut the records of the last two signatures (and whatever follows them)
    const keep = await cutLogBefore(state, 3);

    // the chain alone cannot tell
    expect((await runCli(['audit', 'verify', '--state-dir', state])).code).toBe(0);
    const checked = await runCli(['audit', 'verify', '--state-dir', state, '--checkpoint', file]);
    expect(checked.errorCode).toBe('AUDIT_BEHIND_CHECKPOINT');
    expect(checked.err).toContain(`ends at seq ${keep}`);

    const said = await refusesToStart(config);
    expect(said).toContain('AUDIT_BEHIND_CHECKPOINT');
    expect(said).toContain(`seq ${saved.seq}, hash ${saved.hash.slice(0, 16)}`);
    expect(said).toContain(`ends at seq ${keep}`);
    expect(said).toContain('token soft');
  });

  it('an older copy of the state directory restored: refused, and the version it forgot is never signed again', async () => {
    const config = variant('restore', 'state-restore');
    const state = join(setup.dir, 'state-restore');
    const old = join(setup.dir, 'state-restore.old');
    const newest = join(setup.dir, 'state-restore.newest');
    daemon = await startDaemonProcess(config);
    expect(signaturesOf(await sign(daemon, 1))).toHaveLength(1);
    await daemon.stop();
    await cp(state, old, { recursive: true });

    daemon = await startDaemonProcess(config);
    expect(signaturesOf(await sign(daemon, 2, 'v2'))).toHaveLength(1);
    await daemon.stop();
    daemon = undefined;
    await cp(state, newest, { recursive: true });

    await rm(state, { recursive: true });
    await cp(old, state, { recursive: true });
    const said = await refusesToStart(config);
    expect(said).toContain('AUDIT_BEHIND_CHECKPOINT');
    expect(said).toMatch(
      /the audit log \S+ ends at seq \d+ \(hash [0-9a-f]{16}…\), behind the audit checkpoint/,
    );

    // the newest copy back: the daemon starts, and version 2 stays signed once
    await rm(state, { recursive: true });
    await cp(newest, state, { recursive: true });
    daemon = await startDaemonProcess(config);
    const again = await sign(daemon, 2, 'v2b');
    expect(again.status).toBe(409);
    expect(errorOf(again).code).toBe('VERSION_ROLLBACK');
    const v2 = (await auditRecords(state)).filter((r) => r.outcome === 'signed' && r.version === 2);
    expect(v2).toHaveLength(1);
  });

  it('a checkpoint token pulled out: nothing is signed, /readyz says so, and signing resumes when it is back', async () => {
    const { config, control } = await shimmedCheckpoint('pulled', 'state-pulled', {
      token: 'ckpt',
    });
    const state = join(setup.dir, 'state-pulled');
    daemon = await startDaemonProcess(config);
    const d = daemon;
    expect(signaturesOf(await sign(d, 1))).toHaveLength(1);

    control.set({ present: 0 });
    const refused = await sign(d, 2);
    expect(refused.status).toBe(503);
    expect(errorOf(refused).code).toBe('AUDIT_UNAVAILABLE');
    expect(refused.text).not.toContain('signatures');
    expect(errorOf(await sign(d, 3)).code).toBe('AUDIT_UNAVAILABLE');
    const ready = await call(d.url, { path: '/readyz' });
    expect(ready.status).toBe(503);
    expect((ready.body as { problems: string[] }).problems).toContainEqual(
      expect.stringMatching(/^audit: cannot write the audit checkpoint to token ckpt/),
    );

    control.set({ present: 1 });
    await eventually('/readyz is 200 again', () => isReady(d.url));
    // version 2 was claimed by the record whose answer never went out; 3 is next
    expect(signaturesOf(await sign(d, 3))).toHaveLength(1);
    await d.stop();
    daemon = undefined;

    const file = join(setup.dir, 'pulled-checkpoint.json');
    const saved = await exportCheckpoint(config, file);
    const records = await auditRecords(state);
    expect(saved).toMatchObject({ seq: records.length, hash: records[records.length - 1]?.hash });
    expect(
      (await runCli(['audit', 'verify', '--state-dir', state, '--checkpoint', file])).code,
    ).toBe(0);
  });

  it('a checkpoint token absent at start: the daemon starts not ready, signs nothing, and is ready once the token is there', async () => {
    const { config, control } = await shimmedCheckpoint('absent', 'state-absent', {
      token: 'ckpt',
      label: 'absent-at-start',
    });
    control.set({ present: 0 });
    daemon = await startDaemonProcess(config);
    const d = daemon;
    const ready = await call(d.url, { path: '/readyz' });
    expect(ready.status).toBe(503);
    expect((ready.body as { problems: string[] }).problems).toContainEqual(
      expect.stringMatching(/^audit: cannot read the audit checkpoint from token ckpt/),
    );
    const refused = await sign(d, 1);
    expect(errorOf(refused).code).toBe('AUDIT_UNAVAILABLE');

    control.set({ present: 1 });
    await eventually('/readyz is 200', () => isReady(d.url));
    await logged(d, /audit checkpoint created/);
    expect(signaturesOf(await sign(d, 1))).toHaveLength(1);
  });

  it("a public data object of the checkpoint's application, made without the PIN, is not taken for the checkpoint", async () => {
    const label = 'public-decoy';
    const application = `notary-hsmd audit checkpoint ${label}`;
    const config = variant('decoy', 'state-decoy', (doc) => {
      doc.audit_checkpoint = { token: 'ckpt', label };
    });
    const state = join(setup.dir, 'state-decoy');
    // pkcs11-tool (OpenSC) without --login: a public session, no PIN
    const tool = (args: string[]) =>
      promisify(execFile)(
        'pkcs11-tool',
        ['--module', SOFTHSM_MODULE, '--token-label', 'ckpt', ...args],
        { env: { ...process.env, SOFTHSM2_CONF: join(setup.dir, 'ckpt', 'softhsm2.conf') } },
      );
    const plant = async (at: { seq: number; hash: string }) => {
      const value = join(setup.dir, 'decoy-value');
      await writeFile(value, 'x');
      const text = JSON.stringify({ format: 'notary-hsmd-audit-checkpoint/1', ...at });
      await tool(
        ['--write-object', value, '--type', 'data', '--application-label', application].concat([
          '--label',
          text,
        ]),
      );
    };
    // before the daemon's first start with this checkpoint, someone without the PIN plants
    // a public object saying "the empty log"
    await plant({ seq: 0, hash: '0'.repeat(64) });

    daemon = await startDaemonProcess(config);
    for (const v of [1, 2, 3, 4]) expect(signaturesOf(await sign(daemon, v))).toHaveLength(1);
    await daemon.stop();
    daemon = undefined;

    // the daemon stopped: records cut back to before version 3 ...
    await cutLogBefore(state, 3);
    const left = await auditRecords(state);
    // ... and, still without the PIN, the public object replaced by one agreeing with the cut
    await tool(['--delete-object', '--type', 'data', '--application-label', application]);
    await plant({ seq: left.length, hash: left[left.length - 1]?.hash ?? '' });

    expect(await refusedAfterCut(config, state)).toContain('AUDIT_BEHIND_CHECKPOINT');
  });

  it('a checkpoint lost from its token (a torn object file) with the log cut back: refused as missing', async () => {
    const config = variant('lost', 'state-lost', (doc) => {
      doc.audit_checkpoint = { token: 'lost' };
    });
    const state = join(setup.dir, 'state-lost');
    daemon = await startDaemonProcess(config);
    for (const v of [1, 2, 3, 4]) expect(signaturesOf(await sign(daemon, v))).toHaveLength(1);
    await daemon.stop();
    daemon = undefined;

    // SoftHSM2's file store rewrites an object's file in place without fsync: a power cut
    // can leave it short, and SoftHSM2 then drops the object without an error. (The lost
    // token holds no key: its only object file besides token.object is the checkpoint.)
    const tokens = join(setup.dir, 'lost', 'tokens');
    const [uuid] = await readdir(tokens);
    const dir = join(tokens, uuid ?? '');
    const objects = (await readdir(dir)).filter(
      (f) => f.endsWith('.object') && f !== 'token.object',
    );
    expect(objects).toHaveLength(1);
    await truncate(join(dir, objects[0] ?? ''), 20);
    await cutLogBefore(state, 3);

    expect(await refusedAfterCut(config, state)).toContain('CHECKPOINT_MISSING');
  });

  it('a log that had no checkpoint gets one at the next start, and is guarded from then on', async () => {
    const off = variant('adopt-off', 'state-adopt', (doc) => (doc.audit_checkpoint = 'off'));
    const on = variant('adopt-on', 'state-adopt');
    daemon = await startDaemonProcess(off);
    await logged(daemon, /audit checkpoint off/);
    expect(signaturesOf(await sign(daemon, 1))).toHaveLength(1);
    await daemon.stop();

    daemon = await startDaemonProcess(on);
    await logged(daemon, /audit checkpoint created for an existing log/);
    expect(signaturesOf(await sign(daemon, 2))).toHaveLength(1);
    await daemon.stop();
    daemon = undefined;
    const records = await auditRecords(join(setup.dir, 'state-adopt'));
    const saved = await exportCheckpoint(on, join(setup.dir, 'adopt-checkpoint.json'));
    expect(saved.seq).toBe(records.length);
  });

  it('a checkpoint moved elsewhere is refused as missing until it is re-anchored on purpose', async () => {
    const first = variant('moved-a', 'state-moved');
    const moved = variant('moved-b', 'state-moved', (doc) => {
      doc.audit_checkpoint = { token: 'ckpt', label: 'moved-elsewhere' };
    });
    daemon = await startDaemonProcess(first);
    expect(signaturesOf(await sign(daemon, 1))).toHaveLength(1);
    await daemon.stop();
    daemon = undefined;

    const said = await refusesToStart(moved);
    expect(said).toContain('CHECKPOINT_MISSING');
    expect(said).toMatch(
      /says at seq 1 "checkpoint kept in token soft .*", but token ckpt .* holds no checkpoint/,
    );

    const reset = await runDaemonCommand(['checkpoint', 'reset', '--config', moved, '--yes']);
    expect({ code: reset.code, err: reset.err }).toEqual({ code: 0, err: '' });
    expect(reset.out).toMatch(/re-anchored at the log's head: seq \d+/);
    daemon = await startDaemonProcess(moved);
    expect(signaturesOf(await sign(daemon, 2))).toHaveLength(1);
    const records = await auditRecords(join(setup.dir, 'state-moved'));
    expect(records.filter((r) => r.outcome === 'checkpointed').map((r) => r.reason)).toEqual([
      expect.stringMatching(/^checkpoint kept in token soft .*\(a new log\)$/),
      expect.stringMatching(
        /^checkpoint kept in token ckpt .*\(re-anchored by notary-hsmd checkpoint reset\)$/,
      ),
    ]);
  });
});
