/**
 * Authorisation through the real daemon, as a matrix: client (admin, ci, an extra
 * `release` client scoped to one exact GUN and role, an `other` client allowed
 * the same kinds of signature under another prefix only) ×
 * endpoint (sign/root, sign/targets, sign/delegation, certificates/root) × GUN (the
 * allowed ones and near misses: sibling prefixes, case, a trailing slash, a dot segment,
 * a Cyrillic look-alike, the pattern's own prefix) × delegation role (targets/ci,
 * targets/ci2, targets/CI, targets/c), every request with valid metadata and a version
 * never used before, so that a rollback can never stand in for an authorisation answer.
 *
 * Exactly the allowed combinations get signatures, which verify with the keys GET
 * /v1/keys lists (certificates: a self-signed certificate of the root key for that GUN);
 * every other combination is a 4xx with the code the policy gives (GUN_INVALID for a
 * malformed GUN, FORBIDDEN otherwise); and the audit log holds one matching record for
 * each request.
 */
import { X509Certificate } from 'node:crypto';
import { certificateCommonName } from '../../../src/metadata/certificate';
import type { JsonObject } from '../../../src/metadata/json';
import { TufKey } from '../../../src/metadata/keys';
import { isValidGun } from '../../../src/policy/patterns';
import type { AuditEntry } from '../../../src/signing/types';
import {
  auditRecords,
  call,
  daemonKeys,
  errorOf,
  okBody,
  payloadDigest,
  pool,
  rootCertificate,
  rootDoc,
  signaturesOf,
  signatureVerifies,
  targetsDoc,
  type ApiResponse,
} from '../../helpers/daemon-api';
import { newClient, writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';

const APP = 'localhost:5000/e2e/app';
const APP2 = 'localhost:5000/e2e/app2';
const GUNS = [
  APP,
  APP2,
  'localhost:5000/e2e-evil/x',
  'localhost:5000/e2ex/y',
  'localhost:5000/E2E/app',
  'localhost:5000/e2e/app/',
  'localhost:5000/e2e/../x',
  'localhost:5000/\u04352\u0435/app', // Cyrillic е
  'localhost:5000/e2e',
] as const;
const ROLES = ['targets/ci', 'targets/ci2', 'targets/CI', 'targets/c'] as const;

type Client = 'admin' | 'ci' | 'release' | 'other';
type Endpoint = 'root' | 'targets' | 'delegation' | 'certificates';
const CLIENTS: readonly Client[] = ['admin', 'ci', 'release', 'other'];
const ENDPOINTS: readonly Endpoint[] = ['root', 'targets', 'delegation', 'certificates'];
const PATHS: Readonly<Record<Endpoint, string>> = {
  root: '/v1/sign/root',
  targets: '/v1/sign/targets',
  delegation: '/v1/sign/delegation',
  certificates: '/v1/certificates/root',
};
const AUDIT_ENDPOINT: Readonly<Record<Endpoint, string>> = {
  root: 'sign/root',
  targets: 'sign/targets',
  delegation: 'sign/delegation',
  certificates: 'certificates/root',
};

/** What the configuration below allows, written out independently of the daemon's code. */
function allowed(client: Client, endpoint: Endpoint, gun: string, role: string): boolean {
  const underE2e = gun === APP || gun === APP2;
  switch (client) {
    case 'admin':
      return endpoint !== 'delegation' && underE2e;
    case 'ci':
      return endpoint === 'delegation' && underE2e && role === 'targets/ci';
    case 'release':
      return (
        gun === APP &&
        ((endpoint === 'delegation' && role === 'targets/ci2') || endpoint === 'targets')
      );
    case 'other':
      return false;
  }
}

interface Cell {
  readonly client: Client;
  readonly endpoint: Endpoint;
  readonly gun: string;
  /** For delegations; `root` / `targets` otherwise. */
  readonly role: string;
}

interface Result extends Cell {
  readonly id: string;
  readonly allowed: boolean;
  readonly signed?: JsonObject;
  readonly res: ApiResponse;
}

describe('notary-hsmd authorisation matrix', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  const tokens = new Map<Client, string>();
  let keys: Map<string, TufKey>;
  const certs = new Map<string, TufKey>();
  let version = 10;
  const results: Result[] = [];
  const RUN = Date.now().toString(36);

  beforeAll(async () => {
    // Every client has keys of its own: a key's reach (the GUNs and roles it may sign for)
    // must lie inside the scope of each client that uses it, or the daemon does not start.
    setup = await makeDaemonSetup({
      extraKeys: [
        { name: 'targets-app', id: '04', role: 'targets', guns: [APP] },
        {
          name: 'ci2',
          id: '05',
          role: 'delegation',
          guns: [APP],
          // The key may sign only v* and release-*: the client's x-* is refused by the key.
          delegation: { roles: ['targets/ci2'], paths: ['v*', 'release-*'] },
        },
        { name: 'targets-other', id: '06', role: 'targets', guns: ['localhost:5000/other/*'] },
        {
          name: 'ci-other',
          id: '07',
          role: 'delegation',
          guns: ['localhost:5000/other/*'],
          delegation: { roles: ['targets/ci'], paths: ['**'] },
        },
      ],
    });
    const release = newClient('release', [
      {
        kind: 'delegation',
        keys: ['ci2'],
        guns: [APP],
        roles: ['targets/ci2'],
        paths: ['release-*', 'x-*'],
      },
      { kind: 'targets', keys: ['targets-app'], guns: [APP] },
    ]);
    // Allowed the same kinds of signature, but only under another prefix.
    const other = newClient('other', [
      { kind: 'targets', keys: ['targets-other'], guns: ['localhost:5000/other/*'] },
      {
        kind: 'delegation',
        keys: ['ci-other'],
        guns: ['localhost:5000/other/*'],
        roles: ['targets/ci'],
        paths: ['**'],
      },
    ]);
    const config = writeConfigVariant(setup, 'matrix.yaml', (doc) => {
      doc.clients.push(release.entry, other.entry);
    });
    tokens.set('admin', setup.adminToken);
    tokens.set('ci', setup.ciToken);
    tokens.set('release', release.token);
    tokens.set('other', other.token);
    daemon = await startDaemonProcess(config);
    keys = await daemonKeys(daemon.url, setup.adminToken);
    for (const gun of [APP, APP2]) {
      certs.set(
        gun,
        await rootCertificate(
          daemon.url,
          setup.adminToken,
          gun,
          'root',
          `cert-${gun.slice(-4)}-${RUN}`,
        ),
      );
    }
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  function cells(): Cell[] {
    const out: Cell[] = [];
    for (const client of CLIENTS) {
      for (const endpoint of ENDPOINTS) {
        for (const gun of GUNS) {
          const roles =
            endpoint === 'delegation' ? ROLES : [endpoint === 'targets' ? 'targets' : 'root'];
          for (const role of roles) out.push({ client, endpoint, gun, role });
        }
      }
    }
    return out;
  }

  function body(cell: Cell, v: number): { json: JsonObject; signed?: JsonObject } {
    const { endpoint, gun, role, client } = cell;
    const key = (name: string): TufKey => keys.get(name) as TufKey;
    switch (endpoint) {
      case 'certificates':
        return { json: { gun, key: 'root' } };
      case 'root': {
        const signed = rootDoc(v, certs.get(gun) ?? (certs.get(APP) as TufKey), key('targets'));
        return { json: { gun, signed }, signed };
      }
      case 'targets': {
        const signed = targetsDoc(v, [`v${v}`, 'latest']);
        return { json: { gun, signed }, signed };
      }
      case 'delegation': {
        const signed = targetsDoc(v, [client === 'release' ? `release-${v}` : `v${v}`]);
        return { json: { gun, role, signed }, signed };
      }
    }
  }

  it('signs exactly the allowed combinations, and the signatures verify with the listed keys', async () => {
    const all = cells();
    expect(all.length).toBe(CLIENTS.length * (3 * GUNS.length + ROLES.length * GUNS.length));
    // Requests for one GUN and role go one after the other, each with a higher version
    // than any before it: no answer can be a rollback refusal standing in for another.
    const groups = new Map<string, Cell[]>();
    for (const cell of all) {
      const k = `${cell.gun}\u0000${cell.role}`;
      groups.set(k, [...(groups.get(k) ?? []), cell]);
    }
    await pool([...groups.values()], 6, async (group) => {
      for (const cell of group) {
        const v = ++version;
        const { json, signed } = body(cell, v);
        const id = `m${v}-${RUN}`;
        const res = await call(daemon.url, {
          path: PATHS[cell.endpoint],
          token: tokens.get(cell.client),
          json,
          requestId: id,
        });
        results.push({
          ...cell,
          id,
          allowed: allowed(cell.client, cell.endpoint, cell.gun, cell.role),
          ...(signed ? { signed } : {}),
          res,
        });
      }
    });
    expect(results.length).toBe(all.length);

    const problems: string[] = [];
    for (const r of results) {
      const what = `${r.client} ${r.endpoint} ${JSON.stringify(r.gun)} ${r.role}`;
      if (!r.allowed) {
        const want = isValidGun(r.gun) ? 'FORBIDDEN' : 'GUN_INVALID';
        const wantStatus = want === 'FORBIDDEN' ? 403 : 400;
        let seen = `${r.res.status} ${r.res.text.slice(0, 100)}`;
        try {
          seen = `${r.res.status} ${errorOf(r.res).code}`;
        } catch {
          // the status and text are the report
        }
        if (seen !== `${wantStatus} ${want}`)
          problems.push(`${what}: want ${wantStatus} ${want}, got ${seen}`);
        continue;
      }
      if (r.res.status !== 200) {
        problems.push(`${what}: want a signature, got ${r.res.status} ${r.res.text.slice(0, 200)}`);
        continue;
      }
      if (r.endpoint === 'certificates') {
        const b = okBody(r.res);
        const cert = TufKey.fromJson(b.publicKey, '/publicKey');
        const pem = typeof b.certificatePem === 'string' ? b.certificatePem : '';
        const x509 = new X509Certificate(pem);
        const rootKey = keys.get('root') as TufKey;
        const ok =
          b.gun === r.gun &&
          b.keyId === cert.id &&
          cert.keytype === 'ecdsa-x509' &&
          certificateCommonName(cert) === r.gun &&
          cert.canonicalId === rootKey.id &&
          x509.verify(rootKey.publicKey());
        if (!ok) problems.push(`${what}: certificate does not belong to the root key and GUN`);
        continue;
      }
      const sigs = signaturesOf(r.res);
      const own: Record<string, string> = {
        'admin targets': 'targets',
        'release targets': 'targets-app',
        'ci delegation': 'ci',
        'release delegation': 'ci2',
      };
      const key =
        r.endpoint === 'root'
          ? (certs.get(r.gun) as TufKey)
          : (keys.get(own[`${r.client} ${r.endpoint}`] ?? '') as TufKey);
      const good =
        sigs.length === 1 &&
        sigs[0] !== undefined &&
        sigs[0].keyid === key.id &&
        sigs[0].method === 'ecdsa' &&
        r.signed !== undefined &&
        signatureVerifies(key, r.signed, sigs[0]);
      if (!good) problems.push(`${what}: signatures ${r.res.text.slice(0, 300)} do not verify`);
    }
    expect(problems).toEqual([]);
    // Each allowed cell of the matrix was exercised, and the denials far outnumber them.
    expect(results.filter((r) => r.allowed).length).toBe(10);
    expect(results.filter((r) => !r.allowed).length).toBe(all.length - 10);
  });

  it("a delegation target the client's scope allows but the key's own paths do not is refused, with a bounded message", async () => {
    const cases: [string, string][] = [
      ['x-1', 'x-1'],
      ['a 500 KB name', `x-${'y'.repeat(500 * 1024)}`],
    ];
    const seen: Record<string, string> = {};
    for (const [what, name] of cases) {
      const v = ++version;
      const res = await call(daemon.url, {
        path: PATHS.delegation,
        token: tokens.get('release'),
        json: { gun: APP, role: 'targets/ci2', signed: targetsDoc(v, [name]) },
        requestId: `keypaths-${v}-${RUN}`,
      });
      const e = errorOf(res);
      seen[what] =
        `${res.status} ${e.code} ${e.message.length <= 2048 ? 'bounded' : `${e.message.length} characters`}`;
    }
    expect(seen).toEqual({
      'x-1': '403 TARGET_OUTSIDE_PATHS bounded',
      'a 500 KB name': '403 TARGET_OUTSIDE_PATHS bounded',
    });
  });

  it('the audit log holds one matching record per matrix request', async () => {
    expect(results.length).toBeGreaterThan(0);
    expect(await daemon.stop()).toBe(0);
    const byId = new Map<string, AuditEntry[]>();
    for (const r of await auditRecords(setup.stateDir)) {
      const id = r.clientRequestId;
      if (id !== undefined) byId.set(id, [...(byId.get(id) ?? []), r]);
    }
    const problems: string[] = [];
    for (const r of results) {
      const what = `${r.client} ${r.endpoint} ${JSON.stringify(r.gun)} ${r.role}`;
      const recs = byId.get(r.id) ?? [];
      const rec = recs[0];
      if (recs.length !== 1 || rec === undefined) {
        problems.push(`${what}: ${recs.length} records`);
        continue;
      }
      const common =
        rec.client === r.client && rec.endpoint === AUDIT_ENDPOINT[r.endpoint] && rec.gun === r.gun;
      if (!common) problems.push(`${what}: record ${JSON.stringify(rec)}`);
      if (!r.allowed) {
        const code = errorOf(r.res).code;
        if (rec.outcome !== 'refused' || rec.code !== code) {
          problems.push(`${what}: ${rec.outcome} ${rec.code ?? ''}, client saw ${code}`);
        }
        continue;
      }
      if (rec.outcome !== 'signed') problems.push(`${what}: outcome ${rec.outcome}`);
      if (r.endpoint === 'certificates' || r.signed === undefined) continue;
      const sigs = signaturesOf(r.res);
      const matches =
        rec.role === r.role &&
        rec.version === r.signed.version &&
        rec.payloadDigest === payloadDigest(r.signed) &&
        JSON.stringify(rec.keyIds) === JSON.stringify(sigs.map((s) => s.keyid));
      if (!matches) problems.push(`${what}: record ${JSON.stringify(rec)} does not match`);
    }
    expect(problems).toEqual([]);
  });
});
