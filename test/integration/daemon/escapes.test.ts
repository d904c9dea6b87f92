/**
 * The signing escapes, tried as an attacker would on real components (notary-hsmd on
 * SoftHSM2, a real notary-server, the stock notary CLI):
 *
 * - A client allowed root signing for one GUN hand-makes a certificate that carries the
 *   token key's public key with the CN of another GUN (self-signed by an unrelated key,
 *   valid 100 years), puts it in a root and asks for a signature: refused, and the stock
 *   `notary list` of the victim GUN never shows the attacker's target.
 * - The same client puts the victim's own (daemon-issued) certificate in a new root for
 *   the victim, pointing its targets role at the attacker's key: refused, and the victim's
 *   targets stay what they were.
 * - A configuration where a client may use a key whose GUN patterns or roles reach beyond
 *   its scope does not start, and says which client and key.
 * - A version far above the last one (2^53 − 1) is refused; the role moves on.
 * - A delegation document that adds delegation keys only is refused.
 * - The audit log identifies each request by the daemon's own ID and keeps the caller's.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../../src/cli/main';
import { canonicalBytes } from '../../../src/metadata/canonical';
import { createRootCertificate } from '../../../src/metadata/certificate';
import { parseJson } from '../../../src/metadata/json';
import { TufKey } from '../../../src/metadata/keys';
import { Root } from '../../../src/metadata/root';
import { BASE_ROLES, type BaseRole } from '../../../src/metadata/roles';
import { serialize } from '../../../src/metadata/signed';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import { NotaryServerClient } from '../../../src/notary';
import type { Signer } from '../../../src/signer/signer';
import {
  auditRecords,
  call,
  daemonKeys,
  errorOf,
  signaturesOf,
  tagMeta,
  targetsDoc,
} from '../../helpers/daemon-api';
import { newClient, writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { MemorySigner } from '../../helpers/memory-signer';
import { notaryCli, parseNotaryList } from '../../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';

const RUN = Date.now().toString(36);
const MINE = `localhost:5000/e2e/mine-${RUN}`;
const VICTIM = `localhost:5000/e2e/victim-${RUN}`;
const FRESH_VICTIM = `localhost:5000/e2e/ubuntu-${RUN}`;

function cli(env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env },
    out,
    err,
  };
}

/** A signer that claims `publicOf`'s public key but signs with `signWith`: a forger's tool. */
function forger(publicOf: Uint8Array, signWith: Signer): Signer {
  return { scheme: 'ecdsa-p256', publicKeySpki: publicOf, sign: (m) => signWith.sign(m) };
}

describe('signing escapes', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  let notary: NotaryServerClient;
  let attackerToken: string;
  const attacker = new MemorySigner();
  const attackerKey = TufKey.ecdsa(attacker.publicKeySpki);

  beforeAll(async () => {
    server = await startNotaryServer();
    notary = new NotaryServerClient({ url: server.url });
    // First the key root-mine serves two repositories, MINE and VICTIM, for the admin, who
    // creates VICTIM with it.
    setup = await makeDaemonSetup({
      extraKeys: [{ name: 'root-mine', id: '04', role: 'root', guns: [MINE, VICTIM] }],
    });
    const shared = writeConfigVariant(setup, 'shared.yaml', (doc) => {
      const admin = doc.clients.find((c) => c.name === 'admin');
      (admin?.sign?.[0] as { keys: string[] }).keys.push('root-mine');
    });
    const first = await startDaemonProcess(shared);
    const c = cli({
      NOTARY_HSM_SIGNER: first.url,
      NOTARY_HSM_SERVER: server.url,
      NOTARY_HSM_TOKEN: setup.adminToken,
    });
    expect(await main(['init', VICTIM, '--root-key', 'root-mine'], c.io)).toBe(0);
    expect(await main(['add', VICTIM, `v1=sha256:${'ab'.repeat(32)}:10`], c.io)).toBe(0);
    await first.stop();
    // Later the key is narrowed to MINE, and given to a client scoped to MINE alone. The
    // victim's root still lists the key's certificate for VICTIM.
    const narrow = newClient('narrow', [{ kind: 'root', keys: ['root-mine'], guns: [MINE] }]);
    attackerToken = narrow.token;
    const config = writeConfigVariant(setup, 'escapes.yaml', (doc) => {
      const key = doc.keys.find((k) => k.name === 'root-mine');
      if (key) key.guns = [MINE];
      doc.clients.push(narrow.entry);
    });
    daemon = await startDaemonProcess(config);
  });
  afterAll(async () => {
    await daemon?.stop();
    notary?.close();
    await server?.stop();
  });

  async function stockList(gun: string): Promise<string> {
    const n = await notaryCli(server);
    const r = await n.run(['list', gun], { allowFailure: true });
    return r.stdout + r.stderr;
  }

  /** Root and targets files for `gun` with `rootCert` as root key and the attacker's targets. */
  async function attackerFiles(
    gun: string,
    rootCert: TufKey,
    version: number,
    extraKeys: TufKey[] = [],
  ): Promise<{ root: Root; targets: Targets }> {
    const server = async (role: 'snapshot' | 'timestamp') =>
      TufKey.fromJson(parseJson(await notary.getServerKey(gun, role)), `/${role}.key`);
    const byRole: Record<BaseRole, TufKey> = {
      root: rootCert,
      targets: attackerKey,
      snapshot: await server('snapshot'),
      timestamp: await server('timestamp'),
    };
    const keys = new Map(BASE_ROLES.map((r) => [byRole[r].id, byRole[r]]));
    for (const k of extraKeys) keys.set(k.id, k);
    const root = new Root({
      expires: GoTime.daysFromNow(365),
      version,
      keys,
      roles: new Map(BASE_ROLES.map((r) => [r, { keyIds: [byRole[r].id], threshold: 1 }])),
    });
    const targets = new Targets({
      expires: GoTime.daysFromNow(365),
      version: version + 5,
      targets: new Map([['evil', tagMeta(`evil ${RUN}`)]]),
    });
    return { root, targets };
  }

  /** Asks the daemon for a root signature as the narrow client; publishes what it gets. */
  async function attack(gun: string, files: { root: Root; targets: Targets }) {
    const res = await call(daemon.url, {
      path: '/v1/sign/root',
      token: attackerToken,
      json: { gun: MINE, signed: files.root.toJson() },
      requestId: `attack-${RUN}`,
    });
    const sigs = res.status === 200 ? signaturesOf(res) : [];
    const rootBytes = serialize(
      files.root,
      sigs.map((s) => ({ keyid: s.keyid, method: s.method, sig: Buffer.from(s.sig, 'base64') })),
    );
    const tsig = await attacker.sign(canonicalBytes(files.targets.toJson()));
    const targetsBytes = serialize(files.targets, [
      { keyid: attackerKey.id, method: 'ecdsa', sig: Buffer.from(tsig) },
    ]);
    const published = await notary
      .publish(gun, [
        { role: 'root', bytes: rootBytes },
        { role: 'targets', bytes: targetsBytes },
      ])
      .then(
        () => 'published',
        (err: Error) => `refused by the server: ${err.message}`,
      );
    return { res, published };
  }

  it("a forged certificate of the token key for another GUN: refused, and notary never lists the attacker's target", async () => {
    const keys = await daemonKeys(daemon.url, setup.adminToken);
    const tokenKey = keys.get('root-mine') as TufKey;
    const forged = await createRootCertificate({
      gun: FRESH_VICTIM,
      signer: forger(tokenKey.public, new MemorySigner()),
      days: 36500,
    });
    expect(forged.canonicalId).toBe(tokenKey.id);
    const { res, published } = await attack(
      FRESH_VICTIM,
      await attackerFiles(FRESH_VICTIM, forged, 1),
    );
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('CERTIFICATE_INVALID');
    expect(published).toMatch(/refused by the server/);
    expect(await stockList(FRESH_VICTIM)).not.toContain('evil');
  });

  it("the victim's own certificate in a new root for the victim, asked under the client's GUN: refused; the victim keeps its targets", async () => {
    const keys = await daemonKeys(daemon.url, setup.adminToken);
    // The victim's current root certificate (issued by the daemon for VICTIM with key `root`).
    const current = Root.fromJson(
      (parseJson(await notary.getCurrent(VICTIM, 'root')) as { signed: never }).signed,
    );
    const victimCert = [...current.keys.values()].find(
      (k) => k.isX509 && k.canonicalId === (keys.get('root-mine') as TufKey).id,
    ) as TufKey;
    expect(victimCert).toBeDefined();
    // The certificate the daemon issued for VICTIM does not lend the key to MINE's client...
    const files = await attackerFiles(VICTIM, victimCert, current.version + 1);
    const { res, published } = await attack(VICTIM, files);
    expect([res.status, errorOf(res).code]).toEqual([400, 'CERTIFICATE_INVALID']);
    expect(published).toMatch(/refused by the server/);
    // ...nor does a certificate for VICTIM that the client made itself for the same key.
    const mine = keys.get('root-mine') as TufKey;
    const forged = await createRootCertificate({
      gun: VICTIM,
      signer: forger(mine.public, new MemorySigner()),
    });
    const second = await attack(
      VICTIM,
      await attackerFiles(VICTIM, victimCert, current.version + 1, [forged]),
    );
    expect(second.res.status).toBe(400);
    const listed = parseNotaryList(await stockList(VICTIM));
    expect(listed.map((t) => t.name)).toEqual(['v1']);
  });

  it('the daemon signs a root for the client with the certificate it issued for that GUN', async () => {
    const cert = await call(daemon.url, {
      path: '/v1/certificates/root',
      token: attackerToken,
      json: { gun: MINE, key: 'root-mine' },
    });
    expect(cert.status).toBe(200);
    const issued = TufKey.fromJson((parseJson(cert.text) as { publicKey: never }).publicKey, '/');
    const { root } = await attackerFiles(MINE, issued, 1);
    const res = await call(daemon.url, {
      path: '/v1/sign/root',
      token: attackerToken,
      json: { gun: MINE, signed: root.toJson() },
    });
    expect(signaturesOf(res).map((s) => s.keyid)).toEqual([issued.id]);
  });
});

describe('configuration, versions and delegation documents', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  const GUN = `localhost:5000/e2e/app-${RUN}`;

  beforeAll(async () => {
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('a client whose key reaches beyond its GUNs or roles: the daemon does not start, and says which', () => {
    const cases: [
      string,
      (doc: Parameters<Parameters<typeof writeConfigVariant>[2]>[0]) => void,
      RegExp,
    ][] = [
      [
        'narrow-gun.yaml',
        (doc) =>
          doc.clients.push(
            newClient('only-a', [
              {
                kind: 'delegation',
                keys: ['ci'],
                guns: ['localhost:5000/e2e/a'],
                roles: ['targets/ci'],
                paths: ['**'],
              },
            ]).entry,
          ),
        /only-a.*key ci may sign for GUNs "localhost:5000\/e2e\/\*"/s,
      ],
      [
        'narrow-role.yaml',
        (doc) => {
          const ci = doc.keys.find((k) => k.name === 'ci');
          if (ci) ci.delegation = { roles: ['targets/ci', 'targets/releases'], paths: ['**'] };
        },
        /\(ci\).*key ci may sign roles "targets\/releases"/s,
      ],
    ];
    for (const [name, edit, message] of cases) {
      const config = writeConfigVariant(setup, name, edit);
      const r = spawnSync(
        process.execPath,
        [
          join(__dirname, '..', '..', '..', 'bin', 'notary-hsmd'),
          'serve',
          '--config',
          config,
          '--listen',
          '127.0.0.1:0',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/CONFIG_INVALID/);
      expect(r.stdout + r.stderr).toMatch(message);
    }
  });

  it('a version 2^53 − 1 is refused as VERSION_JUMP; the role then moves on as usual', async () => {
    const sign = (version: number) =>
      call(daemon.url, {
        path: '/v1/sign/delegation',
        token: setup.ciToken,
        json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [`v${version}`]) },
      });
    expect(signaturesOf(await sign(3))).toHaveLength(1);
    for (const v of [Number.MAX_SAFE_INTEGER, 3 + 1001]) {
      const res = await sign(v);
      expect([res.status, errorOf(res).code]).toEqual([409, 'VERSION_JUMP']);
    }
    expect(signaturesOf(await sign(3 + 1000))).toHaveLength(1);
    const first = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: `${GUN}-new`, role: 'targets/ci', signed: targetsDoc(1_000_001, ['v1']) },
    });
    expect(errorOf(first).code).toBe('VERSION_JUMP');
  });

  it('a delegation document that lists delegation keys (and no role) is refused', async () => {
    const signed = targetsDoc(5000, ['v1']);
    const key = TufKey.ecdsa(new MemorySigner().publicKeySpki);
    (signed.delegations as { keys: unknown }).keys = { [key.id]: key.toJson() };
    const res = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed },
    });
    expect([res.status, errorOf(res).code]).toEqual([403, 'FORBIDDEN']);
  });

  it("the audit log names each request by the daemon's own ID and keeps the caller's beside it", async () => {
    const res = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(1, ['v1']) },
      requestId: 'chosen-by-caller',
    });
    const e = errorOf(res); // version 1 is below what this GUN already signed
    expect(res.headers['x-request-id']).toBe(e.requestId);
    const records = (await auditRecords(setup.stateDir)).filter(
      (r) => r.clientRequestId === 'chosen-by-caller',
    );
    expect(records.map((r) => r.requestId)).toEqual([e.requestId]);
    expect(e.requestId).not.toBe('chosen-by-caller');
  });
});
