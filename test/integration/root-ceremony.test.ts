/**
 * The offline root ceremony on real components: root keys on SoftHSM2 tokens behind two
 * separate notary-hsmd daemons (stand-ins for two air-gapped hosts with a YubiKey each), a
 * real notary-server, and the stock notary CLI with a fresh trust directory and with one
 * that trusted the repository before each change (it must follow).
 *
 * Only `root import` is given the Notary server: `root cert`, `root export --current` and
 * `root sign` run with NOTARY_HSM_SERVER pointing at a closed port, so any attempt to
 * reach a server would fail them.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMetadata } from '../../src/metadata/signed';
import { verifySignature } from '../../src/metadata/verify';
import { NotaryServerClient } from '../../src/notary';
import { writeConfigVariant } from '../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { notaryCli, parseNotaryList, type NotaryCli } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { startFaultProxy } from '../helpers/fault-proxy';
import { runCli, type CliResult } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/tmp';

const GUN = `localhost:5000/e2e/ceremony-${Date.now().toString(36)}`;
const GUNS = ['localhost:5000/e2e/*'];
/** Nothing listens here: a command that tried to reach a Notary server would fail. */
const NO_SERVER = 'http://127.0.0.1:1';
const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

interface Host {
  setup: DaemonSetup;
  daemon: DaemonProcess;
}

describe('the offline root ceremony across two daemons', () => {
  let server: NotaryServer;
  let a: Host;
  let b: Host;
  let trusting: NotaryCli;
  let work: string;
  /** The trust cache of a verifier that trusted the repository from the start. */
  let trustDir: string;
  const rootIds: Record<string, string> = {};

  async function host(extraRoot: boolean): Promise<Host> {
    const setup = await makeDaemonSetup({
      ciPaths: ['**'],
      extraKeys: extraRoot ? [{ name: 'root-2', id: '21', role: 'root', guns: GUNS }] : [],
    });
    const config = writeConfigVariant(setup, 'ceremony.yaml', (doc) => {
      const admin = doc.clients.find((c) => c.name === 'admin');
      admin!.sign = [
        { kind: 'root', keys: extraRoot ? ['root', 'root-2'] : ['root'], guns: GUNS },
        { kind: 'targets', keys: ['targets'], guns: GUNS },
      ];
    });
    return { setup, daemon: await startDaemonProcess(config) };
  }

  beforeAll(async () => {
    server = await startNotaryServer();
    a = await host(true);
    b = await host(false);
    trusting = await notaryCli(server);
    work = await makeTempDir('ceremony-');
  });
  afterAll(async () => {
    await a?.daemon.stop();
    await b?.daemon.stop();
    await server?.stop();
  });

  /** The CLI against `h`'s daemon, with no Notary server unless `online`. */
  const on = (h: Host, args: string[], online = false): Promise<CliResult> =>
    runCli(args, {
      NOTARY_HSM_SIGNER: h.daemon.url,
      NOTARY_HSM_TOKEN: h.setup.adminToken,
      NOTARY_HSM_SERVER: online ? server.url : NO_SERVER,
    });
  /** The CLI with a Notary server and no daemon at all. */
  const offDaemon = (args: string[]): Promise<CliResult> =>
    runCli(args, { NOTARY_HSM_SERVER: server.url, NOTARY_HSM_SIGNER: NO_SERVER });
  async function ok(p: Promise<CliResult>): Promise<CliResult> {
    const r = await p;
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    return r;
  }
  async function serverRoot() {
    const c = new NotaryServerClient({ url: server.url });
    try {
      return parseMetadata('root', await c.getCurrent(GUN, 'root'));
    } finally {
      c.close();
    }
  }
  async function bothList(): Promise<string[][]> {
    const fresh = await notaryCli(server);
    const lists = [];
    for (const cli of [fresh, trusting]) {
      lists.push(
        parseNotaryList((await cli.run(['list', GUN])).stdout)
          .map((t) => `${t.name} ${t.digest}`)
          .sort(),
      );
    }
    return lists;
  }
  const signTag = (tag: string) =>
    ok(
      runCli(
        [
          'sign',
          `${GUN}:${tag}`,
          '--digest',
          `sha256:${digestOf(tag)}`,
          '--size',
          '1',
          '--role',
          'targets/ci',
        ],
        {
          NOTARY_HSM_SIGNER: a.daemon.url,
          NOTARY_HSM_TOKEN: a.setup.ciToken,
          NOTARY_HSM_SERVER: server.url,
        },
      ),
    );

  it('starts from a repository rooted in one key on host A', async () => {
    const r = await ok(on(a, ['init', GUN, '--root-key', 'root', '--json'], true));
    rootIds.a1 = (JSON.parse(r.out) as { rootKeyIds: string[] }).rootKeyIds[0] as string;
    await ok(on(a, ['delegation', 'add', GUN, 'targets/ci', '--key', 'ci', '--all-paths'], true));
    await signTag('v1');
    trustDir = await makeTempDir('trust-');
    const first = await offDaemon([
      'verify',
      `${GUN}:v1`,
      '--pin-root',
      rootIds.a1,
      '--trust-dir',
      trustDir,
    ]);
    expect(first.code).toBe(0);
    expect(await bothList()).toEqual([[`v1 ${digestOf('v1')}`], [`v1 ${digestOf('v1')}`]]);
  });

  it("adds host B's key with a threshold of 2: export offline, sign on A and on B, import", async () => {
    // Host B makes the certificate of its key for the GUN (daemon only).
    const bPem = join(work, 'b.pem');
    const cert = await ok(on(b, ['root', 'cert', GUN, '--key', 'root', '--out', bPem]));
    rootIds.b = /certificate key ID ([0-9a-f]{64})/.exec(cert.out)?.[1] as string;
    expect(rootIds.b).toMatch(/^[0-9a-f]{64}$/);

    // The current root, copied to the offline host as a file.
    const current = join(work, 'root-v1.json');
    writeFileSync(current, (await serverRoot()).bytes);
    const change = join(work, 'change-1.json');
    const exported = await ok(
      runCli(
        ['root', 'export', GUN, '--current', current, '--add-cert', bPem,
          '--root-threshold', '2', '--out', change], // prettier-ignore
        { NOTARY_HSM_SERVER: NO_SERVER, NOTARY_HSM_SIGNER: NO_SERVER },
      ),
    );
    expect(exported.out).toContain(`root of ${GUN}: version 1 -> 2`);
    expect(exported.out).toContain('root: threshold 1 -> 2 of 2 key(s) (was 1)');
    expect(exported.out).toContain(`+ ${rootIds.b}`);
    expect(exported.out).toContain(`= ${rootIds.a1}`);
    expect(exported.out).toContain('targets: unchanged');

    // Each signer gets a copy; neither talks to the server.
    const forA = join(work, 'change-1-a.json');
    const forB = join(work, 'change-1-b.json');
    copyFileSync(change, forA);
    copyFileSync(change, forB);
    const signedA = await ok(on(a, ['root', 'sign', forA]));
    expect(signedA.out).toContain(`+ ${rootIds.b}`); // the signer is shown the change
    expect(signedA.out).toContain('proposed root keys: 1 of 2 needed have signed');
    await ok(on(b, ['root', 'sign', forB]));

    // A's copy alone does not meet the new threshold: nothing is published.
    const early = await offDaemon(['root', 'import', forA]);
    expect(early.code).toBe(1);
    expect(early.errorCode).toBe('THRESHOLD_NOT_MET');
    expect((await serverRoot()).signed.version).toBe(1);

    const imported = await ok(offDaemon(['root', 'import', forA, forB, '--json']));
    expect(JSON.parse(imported.out)).toMatchObject({ gun: GUN, version: 2 });

    const root = await serverRoot();
    expect(root.signed.version).toBe(2);
    expect(root.signed.role('root')).toEqual({ keyIds: [rootIds.a1, rootIds.b], threshold: 2 });
    const valid = root.signatures.filter((s) => {
      const key = root.signed.keys.get(s.keyid);
      return key && verifySignature(key, s.method, root.message, s.sig);
    });
    expect(valid.map((s) => s.keyid).sort()).toEqual([rootIds.a1, rootIds.b].sort());

    // Importing again changes nothing and says so.
    const again = await ok(offDaemon(['root', 'import', forA, forB]));
    expect(again.out).toContain('was already published');

    // Stock clients, fresh and trusting the old root, follow; signing goes on.
    await signTag('v2');
    const want = [`v1 ${digestOf('v1')}`, `v2 ${digestOf('v2')}`];
    expect(await bothList()).toEqual([want, want]);
  });

  it("replaces A's first key by a second one: the old root's 2 and the new root's 2 sign", async () => {
    const change = join(work, 'change-2.json');
    // Online export: the current root from the server, the new certificate from daemon A.
    const exported = await ok(
      on(a, ['root', 'export', GUN, '--add-key', 'root-2', '--remove-key',
        rootIds.a1!.slice(0, 12), '--out', change], true), // prettier-ignore
    );
    expect(exported.out).toContain(`- ${rootIds.a1}`);
    expect(exported.out).toContain('root: threshold 2 of 2 key(s) (was 2)');
    const forB = join(work, 'change-2-b.json');
    copyFileSync(change, forB);

    // A holds the leaving key and the new one: both sign in one request.
    const signedA = await ok(on(a, ['root', 'sign', change, '--json']));
    const a2 = JSON.parse(signedA.out) as {
      signedBy: string[];
      status: { current: { signed: string[] }; proposed: { signed: string[]; keyIds: string[] } };
    };
    expect(a2.signedBy).toHaveLength(2);
    expect(a2.status.current.signed).toEqual([rootIds.a1]);
    rootIds.a2 = a2.status.proposed.keyIds.find((id) => id !== rootIds.b) as string;
    expect(a2.status.proposed.signed).toEqual([rootIds.a2]);

    // Signing twice with nothing left for this daemon is refused before it is asked.
    const twice = await on(a, ['root', 'sign', change]);
    expect(twice.errorCode).toBe('KEY_NOT_HELD');

    await ok(on(b, ['root', 'sign', forB]));
    await ok(offDaemon(['root', 'import', change, forB]));

    const root = await serverRoot();
    expect(root.signed.version).toBe(3);
    expect(root.signed.role('root').keyIds).toEqual([rootIds.b, rootIds.a2]);
    await signTag('v3');
    const want = ['v1', 'v2', 'v3'].map((t) => `${t} ${digestOf(t)}`);
    expect(await bothList()).toEqual([want, want]);

    // A verifier that trusted the first root (pinned to A's first key) follows the chain
    // to version 3; a new verifier pins a key of the current root.
    for (const [pin, dir] of [
      [rootIds.a1, trustDir],
      [rootIds.b, await makeTempDir('trust-')],
    ] as const) {
      const verified = await offDaemon([
        'verify',
        `${GUN}:v3`,
        '--pin-root',
        pin!,
        '--trust-dir',
        dir,
      ]);
      expect(verified.code).toBe(0);
      expect(verified.out).toContain(digestOf('v3'));
      if (dir === trustDir)
        expect(verified.err).toContain('root versions 2, 3 follow from the cached root version 1');
    }
  });

  it('refuses a change file that was edited, or signed by a key it does not name', async () => {
    const change = join(work, 'change-3.json');
    await ok(on(a, ['root', 'export', GUN, '--expires-days', '400', '--out', change], true));
    const doc = JSON.parse(readFileSync(change, 'utf8')) as {
      proposed: { roles: { root: { threshold: number } } };
      summary: string[];
      signatures: unknown[];
    };

    // The proposal changed behind its summary.
    const edited = structuredClone(doc);
    edited.proposed.roles.root.threshold = 1;
    const e1 = join(work, 'edited-proposal.json');
    writeFileSync(e1, JSON.stringify(edited));
    expect((await on(a, ['root', 'sign', e1])).errorCode).toBe('CEREMONY_FILE_INVALID');

    // The summary changed to hide what is signed.
    const hidden = structuredClone(doc);
    hidden.summary = hidden.summary.filter((l) => !l.startsWith('expires'));
    const e2 = join(work, 'edited-summary.json');
    writeFileSync(e2, JSON.stringify(hidden));
    expect((await on(a, ['root', 'sign', e2])).errorCode).toBe('CEREMONY_FILE_INVALID');

    // A signature that does not verify over the proposal.
    const forged = structuredClone(doc);
    forged.signatures = [
      { keyid: rootIds.b, method: 'ecdsa', sig: Buffer.alloc(64, 7).toString('base64') },
    ];
    const e3 = join(work, 'forged-signature.json');
    writeFileSync(e3, JSON.stringify(forged));
    expect((await offDaemon(['root', 'import', e3])).errorCode).toBe('SIGNATURE_INVALID');

    // Copies of two different changes are not merged.
    const other = join(work, 'change-3-other.json');
    await ok(on(a, ['root', 'export', GUN, '--expires-days', '300', '--out', other], true));
    expect((await offDaemon(['root', 'import', change, other])).errorCode).toBe(
      'CEREMONY_FILE_INVALID',
    );
    expect((await serverRoot()).signed.version).toBe(3);
  });

  it('refuses to publish a change made over a root that has since changed', async () => {
    const stale = join(work, 'stale.json');
    await ok(on(a, ['root', 'export', GUN, '--expires-days', '500', '--out', stale], true));
    const fresh = join(work, 'fresh.json');
    await ok(on(a, ['root', 'export', GUN, '--expires-days', '600', '--out', fresh], true));
    const freshB = join(work, 'fresh-b.json');
    copyFileSync(fresh, freshB);
    await ok(on(a, ['root', 'sign', fresh]));
    await ok(on(b, ['root', 'sign', freshB]));
    await ok(offDaemon(['root', 'import', fresh, freshB]));
    expect((await serverRoot()).signed.version).toBe(4);

    // The stale change is over version 3: the daemon will not sign a second version 4,
    // and import says the root moved on.
    const signStale = await on(b, ['root', 'sign', stale]);
    expect(signStale.errorCode).toBe('VERSION_ROLLBACK');
    const importStale = await offDaemon(['root', 'import', stale]);
    expect(importStale.errorCode).toBe('ROOT_CHANGED');
    expect((await serverRoot()).signed.version).toBe(4);
  });

  it('keeps a root that rotate signed but could not publish, for root import to publish later', async () => {
    const gun = `${GUN}-kept`;
    await ok(on(a, ['init', gun, '--root-key', 'root'], true));
    const proxy = await startFaultProxy(server.url);
    try {
      proxy.onPublish = () => '503';
      const saved = join(work, 'kept.json');
      const failed = await runCli(
        ['rotate', gun, 'root', '--root-key', 'root-2', '--timeout', '2', '--save-change', saved],
        {
          NOTARY_HSM_SIGNER: a.daemon.url,
          NOTARY_HSM_TOKEN: a.setup.adminToken,
          NOTARY_HSM_SERVER: proxy.url,
        },
      );
      expect(failed.code).toBe(1);
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(failed.err).toContain(`root version 2 of ${gun} was signed but not published`);
      expect(failed.err).toContain(`notary-hsm root import ${saved}`);

      // The daemon will not sign version 2 again; the kept file is what gets it published.
      const status = await ok(on(a, ['root', 'sign', saved, '--dry-run']));
      expect(status.out).toContain('Both thresholds are met');
      proxy.onPublish = () => 'forward';
      await ok(runCli(['root', 'import', saved], { NOTARY_HSM_SERVER: proxy.url }));
    } finally {
      await proxy.close();
    }
    const c = new NotaryServerClient({ url: server.url });
    const root = parseMetadata('root', await c.getCurrent(gun, 'root'));
    c.close();
    expect(root.signed.version).toBe(2);
    const fresh = await notaryCli(server);
    expect((await fresh.run(['list', gun])).code).toBe(0);
  });
});
