/**
 * The audit checkpoint lost from its token while the log goes back. SoftHSM2's file store
 * rewrites an object's file in place (truncate, then write) and never calls fsync, so a
 * power cut during a checkpoint write can leave the object's file short; SoftHSM2 then
 * drops the object without an error, and the daemon reads "no checkpoint". The log says
 * that it has been checkpointed (a `checkpointed` record naming the token and the label,
 * written when the checkpoint is made), so a checkpoint gone missing is refused
 * (CHECKPOINT_MISSING) instead of being taken for a first start, and a log cut back at
 * the same time is not signed on.
 */
import { readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_LOG_FILE } from '../../../src/store';
import { auditRecords, call, signaturesOf, targetsDoc } from '../../helpers/daemon-api';
import { writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';

const GUN = 'localhost:5000/e2e/checkpoint-lost';

describe('an audit checkpoint lost from its token', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    setup = await makeDaemonSetup({ extraTokens: ['ckpt'] });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  function sign(d: DaemonProcess, version: number, tag = `v${version}`) {
    return call(d.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [tag]) },
    });
  }

  it('with the log cut back: the daemon does not start, and no version is signed twice', async () => {
    const config = writeConfigVariant(setup, 'lost.yaml', (doc) => {
      doc.state_dir = 'state-lost';
      doc.audit_checkpoint = { token: 'ckpt' };
    });
    const state = join(setup.dir, 'state-lost');
    daemon = await startDaemonProcess(config);
    for (const v of [1, 2, 3, 4]) expect(signaturesOf(await sign(daemon, v))).toHaveLength(1);
    await daemon.stop();
    daemon = undefined;

    // the checkpoint's object file left short, as a write cut by a power loss leaves it
    // (the ckpt token holds no key: its only object file besides token.object is ours)
    const tokens = join(setup.dir, 'ckpt', 'tokens');
    const [uuid] = await readdir(tokens);
    const dir = join(tokens, uuid ?? '');
    const objects = (await readdir(dir)).filter(
      (f) => f.endsWith('.object') && f !== 'token.object',
    );
    expect(objects).toHaveLength(1);
    await truncate(join(dir, objects[0] ?? ''), 20);

    // and the log cut back to before version 3
    const log = join(state, AUDIT_LOG_FILE);
    const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    const keep = lines.findIndex((l) => (JSON.parse(l) as { version?: number }).version === 3);
    expect(keep).toBeGreaterThan(0);
    await truncate(log, Buffer.byteLength(lines.slice(0, keep).join('\n') + '\n'));

    let started: DaemonProcess | undefined;
    let refusal = '';
    try {
      started = await startDaemonProcess(config);
    } catch (err) {
      refusal = (err as Error).message;
    }
    if (started) {
      daemon = started;
      await sign(started, 3, 'v3-again'); // a different document at version 3
      await started.stop();
      daemon = undefined;
    }
    const v3 = (await auditRecords(state)).filter((r) => r.outcome === 'signed' && r.version === 3);
    expect(v3).toHaveLength(0); // the first version 3's record was cut; none since
    expect(started).toBeUndefined();
    expect(refusal).toMatch(/checkpoint/);
  });
});
