/**
 * Group commit under load: 64 concurrent appenders (each awaiting its append before the
 * next, as 64 in-flight requests would) on a real file with real fdatasync, for a fixed
 * time. Prints appends/s and records per fdatasync; asserts only what does not depend on
 * the machine's speed: that batches form (many records per fdatasync) and that every
 * acknowledged record is in the log, in a chain that verifies. The daemon's numbers are
 * measured in bench/.
 */
import { openStore, verifyAuditLog } from '../../../src/store';
import { logPath, refusal, signing, stateDir } from '../../unit/store/fixtures';

const APPENDERS = 64;
const SECONDS = 2;

interface Run {
  perSecond: number;
  records: number;
  syncs: number;
  perSync: number;
}

async function run(kind: 'append' | 'reserve'): Promise<Run> {
  const dir = await stateDir('throughput-');
  const store = await openStore(dir);
  const deadline = Date.now() + SECONDS * 1000;
  let acked = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: APPENDERS }, async (_, a) => {
      for (let i = 1; Date.now() < deadline; i++) {
        if (kind === 'append') await store.audit.append(refusal(i, { client: `ci-${a}` }));
        else await store.state.reserve(signing(i, `targets/ci-${a}`));
        acked++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stats = store.audit.stats();
  await store.close();
  const verified = await verifyAuditLog(logPath(dir));
  expect(verified).toMatchObject({ ok: true, records: acked });
  return {
    perSecond: Math.round(acked / seconds),
    records: stats.records,
    syncs: stats.syncs,
    perSync: Math.round((stats.records / stats.syncs) * 10) / 10,
  };
}

describe('audit log throughput with group commit', () => {
  it.each(['append', 'reserve'] as const)('%s: 64 concurrent callers batch', async (kind) => {
    const r = await run(kind);
    console.log(
      `audit ${kind}: ${r.perSecond}/s with ${APPENDERS} concurrent callers, ` +
        `${r.records} records in ${r.syncs} fdatasyncs (${r.perSync} per fdatasync)`,
    );
    expect(r.syncs).toBeGreaterThan(0);
    expect(r.perSync).toBeGreaterThanOrEqual(APPENDERS / 2);
  });
});
