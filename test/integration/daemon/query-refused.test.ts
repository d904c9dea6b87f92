/**
 * Found by the API fuzzer (test/integration/fuzz-api.test.ts): POST endpoints ignored any
 * query string, so `POST /v1/sign/targets?debug=1` was signed while GET endpoints refuse
 * parameters they do not define. Every POST endpoint now refuses a query string with
 * UNKNOWN_FIELD, and nothing is signed.
 */
import { randomBytes } from 'node:crypto';
import { auditRecords, call, errorOf, targetsDoc } from '../../helpers/daemon-api';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';

const RUN = randomBytes(4).toString('hex');

describe('notary-hsmd: query strings on POST endpoints', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  beforeAll(async () => {
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it.each([
    ['/v1/sign/targets?debug=1', { gun: 'localhost:5000/e2e/q1', signed: targetsDoc(1) }],
    [
      '/v1/sign/targets?gun=localhost:5000/e2e/q2',
      { gun: 'localhost:5000/e2e/q2', signed: targetsDoc(1) },
    ],
    ['/v1/certificates/root?key=targets', { gun: 'localhost:5000/e2e/q3', key: 'root' }],
  ])('%s is refused with UNKNOWN_FIELD and not signed', async (path, json) => {
    const id = `query-${RUN}-${path}`;
    const res = await call(daemon.url, { path, token: setup.adminToken, json, requestId: id });
    expect(`${res.status} ${errorOf(res).code}`).toBe('400 UNKNOWN_FIELD');
    const mine = (await auditRecords(setup.stateDir)).filter((r) => r.clientRequestId === id);
    expect(mine.map((r) => r.outcome)).not.toContain('signed');
    // The same request without the query string is signed: the refusal is the query's.
    const ok = await call(daemon.url, {
      path: path.split('?')[0] as string,
      token: setup.adminToken,
      json,
    });
    expect(ok.status).toBe(200);
  });
});
