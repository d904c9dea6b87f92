/**
 * The daemon under a storm of writers to one role: 240 requests, 32 in flight, for the same
 * GUN and role, racing for the same handful of versions, while another GUN signs its own
 * versions in between. Each version of the stormed role is signed exactly once and the
 * others get VERSION_ROLLBACK with the details a client acts on (the last version handed
 * out, how long ago, the daemon's publish lease); the other GUN is never refused; and the
 * audit log holds no (GUN, role, version) twice.
 */
import {
  auditRecords,
  call,
  errorOf,
  pool,
  signaturesOf,
  targetsDoc,
} from '../../helpers/daemon-api';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';

const RUN = Date.now().toString(36);
const HOT = `localhost:5000/e2e/hot-${RUN}`;
const CALM = `localhost:5000/e2e/calm-${RUN}`;

describe('a storm of writers to one role', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    setup = await makeDaemonSetup({ ciPaths: ['**'] });
    daemon = await startDaemonProcess(setup.config);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('each stormed version is signed once, the other GUN is never refused, and the log agrees', async () => {
    const sign = (gun: string, version: number, tag: string) =>
      call(daemon.url, {
        path: '/v1/sign/delegation',
        token: setup.ciToken,
        json: { gun, role: 'targets/ci', signed: targetsDoc(version, [tag]) },
      });
    // 240 requests for versions 1..8 of HOT (30 each, 32 in flight), while one agent signs
    // CALM's versions 1..40 one after another.
    const jobs = Array.from({ length: 240 }, (_, i) => ({ version: 1 + (i % 8), tag: `hot-${i}` }));
    const storm = pool(jobs, 32, async (j) => ({ ...j, res: await sign(HOT, j.version, j.tag) }));
    const calm: { version: number; status: number; text: string }[] = [];
    for (let v = 1; v <= 40; v++) {
      const res = await sign(CALM, v, `calm-${v}`);
      calm.push({ version: v, status: res.status, text: res.text.slice(0, 200) });
    }
    const answers = await storm;
    expect(calm.filter((c) => c.status !== 200)).toEqual([]);

    const hot = answers;
    const hotSigned = hot.filter((a) => a.res.status === 200);
    for (const a of hotSigned) expect(signaturesOf(a.res)).toHaveLength(1);
    const versions = hotSigned.map((a) => a.version).sort((x, y) => x - y);
    expect(new Set(versions).size).toBe(versions.length); // never one version twice
    for (const a of hot.filter((x) => x.res.status !== 200)) {
      const e = errorOf(a.res);
      expect(e.code).toBe('VERSION_ROLLBACK');
      expect(e.details).toMatchObject({ role: 'targets/ci', version: a.version });
      expect(typeof e.details?.lastVersion).toBe('number');
      expect(typeof e.details?.lastSignedAgeMs).toBe('number');
      expect(e.details?.leaseMs).toBe(30_000);
    }

    const signed = (await auditRecords(setup.stateDir)).filter((r) => r.outcome === 'signed');
    const keys = signed.map((r) => `${r.gun} ${r.role} ${r.version}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(signed.filter((r) => r.gun === HOT).length).toBe(hotSigned.length);
    expect(signed.filter((r) => r.gun === CALM).length).toBe(40);
  });
});
