/**
 * Interoperability with the stock notary CLI and a real notary-server:
 *
 * - a repository where the stock CLI removed the last delegation (`"roles":null`) or a
 *   delegation's last key (`"keyids":null`) is listed by notary-hsm, and publishing into
 *   `targets` keeps those nulls, so the stock CLI still reads it and shows the new tag;
 * - tags are published exactly as given (`add` with inner spaces, from arguments and
 *   --from-file), and names Go cannot write are refused by `sign` and `add` alike;
 * - a tag outside a delegation's paths is refused before anything is signed: the
 *   daemon's audit log has no record of it, and the stock CLI lists nothing new.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  X509Certificate,
} from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { updateTargets } from '../../src/client/targets-update';
import { localSigning } from '../../src/client/signing';
import { FileMeta } from '../../src/metadata/file-meta';
import { TufKey } from '../../src/metadata/keys';
import { NotaryServerClient } from '../../src/notary';
import type { Signer } from '../../src/signer/signer';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import {
  makeDelegationKey,
  notaryCli,
  parseNotaryList,
  type NotaryCli,
} from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { makeTempDir } from '../helpers/tmp';

/** The stock CLI's targets passphrase in test/helpers/notary-cli.ts (a throwaway value). */
const TARGETS_PASSPHRASE = 'test-targets-pass-0001';

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env },
    out,
    err,
  };
}

function digestOf(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

async function notaryListFresh(server: NotaryServer, gun: string) {
  const cli = await notaryCli(server); // a fresh trust dir: nothing cached
  return parseNotaryList((await cli.run(['list', gun])).stdout);
}

/** A Signer over the stock CLI's own targets key (its encrypted PKCS#8 file). */
function cliTargetsSigner(cli: NotaryCli, gun: string): Signer & { count: number } {
  const dir = join(cli.trustDir, 'private');
  const file = readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .find((pem) => /^role: targets$/m.test(pem) && pem.includes(`gun: ${gun}\n`));
  if (!file) throw new Error(`no targets key for ${gun} in ${dir}`);
  // Notary writes `gun:`/`role:` headers inside the PEM block; the key itself is PKCS#8.
  const pem = file
    .split('\n')
    .filter((l) => l !== '' && !/^[a-z]+: /.test(l))
    .join('\n');
  const key = createPrivateKey({ key: pem, format: 'pem', passphrase: TARGETS_PASSPHRASE });
  const signer = {
    scheme: 'ecdsa-p256' as const,
    publicKeySpki: createPublicKey(key).export({ format: 'der', type: 'spki' }),
    count: 0,
    sign(message: Uint8Array): Promise<Uint8Array> {
      signer.count++;
      return Promise.resolve(nodeSign('sha256', message, { key, dsaEncoding: 'ieee-p1363' }));
    },
  };
  return signer;
}

describe('a repository where the stock CLI removed delegations (null in targets.json)', () => {
  const GUN = 'localhost:5000/interop/nulls';
  let server: NotaryServer;
  let client: NotaryServerClient;
  let cli: NotaryCli;
  let work: string;

  beforeAll(async () => {
    server = await startNotaryServer();
    client = new NotaryServerClient({ url: server.url });
    cli = await notaryCli(server);
    work = await makeTempDir('interop-nulls-');
    const file = join(work, 'v1.0');
    writeFileSync(file, 'app 1.0\n');
    await cli.run(['init', GUN]);
    await cli.run(['add', GUN, 'v1.0', file]);
    await cli.run(['publish', GUN]);
    await cli.run(['key', 'rotate', GUN, 'snapshot', '-r']); // the Docker layout
  });
  afterAll(async () => {
    await server?.stop();
  });

  const targetsText = async (): Promise<string> =>
    (await client.getCurrent(GUN, 'targets')).toString('utf8');

  async function ourList(): Promise<unknown[]> {
    const c = capture();
    const code = await main(['list', GUN, '--server', server.url, '--json'], c.io);
    expect([code, c.err.join('')]).toEqual([0, expect.not.stringMatching(/\[[A-Z_]+\]/)]);
    return (JSON.parse(c.out.join('')) as { targets: unknown[] }).targets;
  }

  async function publishIntoTargets(tag: string): Promise<void> {
    const signer = cliTargetsSigner(cli, GUN);
    const bytes = Buffer.from(`manifest ${tag}`);
    await updateTargets({
      server: client,
      gun: GUN,
      signing: localSigning({ signers: [signer] }),
      changes: {
        add: new Map([[tag, FileMeta.sha256(createHash('sha256').update(bytes).digest(), 12)]]),
      },
    });
    expect(signer.count).toBe(1);
  }

  it('"roles":null after `notary delegation remove`: listed, and a publish keeps the null', async () => {
    const { certFile } = await makeDelegationKey(work, 'releases');
    await cli.run(['delegation', 'add', GUN, 'targets/releases', certFile, '--all-paths', '-p']);
    await cli.run(['delegation', 'remove', GUN, 'targets/releases', '-y', '-p']);
    const before = await targetsText();
    expect(before).toContain('"delegations":{"keys":{},"roles":null}');

    const theirs = await notaryListFresh(server, GUN);
    expect(theirs.map((t) => t.name)).toEqual(['v1.0']);
    expect(await ourList()).toEqual(theirs.map((t) => ({ ...t, digest: `sha256:${t.digest}` })));

    await publishIntoTargets('v2.0');
    expect(await targetsText()).toContain('"delegations":{"keys":{},"roles":null}');
    expect((await notaryListFresh(server, GUN)).map((t) => [t.name, t.role])).toEqual([
      ['v1.0', 'targets'],
      ['v2.0', 'targets'],
    ]);
    // The stock CLI with its cached (older) trust data follows the update too.
    expect(parseNotaryList((await cli.run(['list', GUN])).stdout).map((t) => t.name)).toEqual([
      'v1.0',
      'v2.0',
    ]);
  });

  it('"keyids":null after removing a delegation\'s last key: listed, and a publish keeps it', async () => {
    const { certFile } = await makeDelegationKey(work, 'ci');
    await cli.run(['delegation', 'add', GUN, 'targets/ci', certFile, '--paths', 'ci/', '-p']);
    // The CLI removes keys by their canonical ID (of the bare public key).
    const spki = new X509Certificate(readFileSync(certFile)).publicKey.export({
      format: 'der',
      type: 'spki',
    });
    const canonicalId = TufKey.ecdsa(spki).id;
    await cli.run(['delegation', 'remove', GUN, 'targets/ci', canonicalId, '-y', '-p']);
    expect(await targetsText()).toMatch(
      /"roles":\[\{"keyids":null,"name":"targets\/ci","paths":\["ci\/"\],"threshold":1\}\]/,
    );

    expect((await ourList()).map((t) => (t as { name: string }).name)).toEqual(['v1.0', 'v2.0']);
    await publishIntoTargets('v3.0');
    expect(await targetsText()).toContain('{"keyids":null,"name":"targets/ci"');
    expect((await notaryListFresh(server, GUN)).map((t) => t.name)).toEqual([
      'v1.0',
      'v2.0',
      'v3.0',
    ]);
  });
});

describe('notary-hsm sign/add through notary-hsmd: exact tags and delegation paths', () => {
  const GUN = 'localhost:5000/interop/app';
  let server: NotaryServer;
  let client: NotaryServerClient;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  let work: string;

  beforeAll(async () => {
    server = await startNotaryServer();
    client = new NotaryServerClient({ url: server.url });
    // The CI client's policy allows every tag: the repository's paths are what refuses.
    setup = await makeDaemonSetup({ guns: ['localhost:5000/interop/*'], ciPaths: ['**'] });
    daemon = await startDaemonProcess(setup.config);
    work = await makeTempDir('interop-daemon-');
    const c = capture(env(setup.adminToken));
    const code = await main(
      [
        'init',
        GUN,
        '--root-key',
        'root',
        '--delegation',
        'targets/ci',
        '--delegation-key',
        'ci',
        '--delegation-paths',
        'ci/',
      ],
      c.io,
    );
    expect([code, c.err.join('')]).toEqual([0, '']);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  function env(token: string): NodeJS.ProcessEnv {
    return {
      NOTARY_HSM_SIGNER: daemon.url,
      NOTARY_HSM_SERVER: server.url,
      NOTARY_HSM_TOKEN: token,
    };
  }

  async function run(token: string, argv: string[]): Promise<{ code: number; err: string }> {
    const c = capture(env(token));
    const code = await main(argv, c.io);
    return { code, err: c.err.join('') };
  }

  async function auditRecords(): Promise<{ outcome: string; code?: string }[]> {
    const c = capture();
    expect(await main(['audit', 'show', '--state-dir', setup.stateDir, '--json'], c.io)).toBe(0);
    return c.out
      .join('\n')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { outcome: string; code?: string });
  }

  const spec = (tag: string, content: string): string =>
    `${tag}=sha256:${digestOf(content)}:${Buffer.byteLength(content)}`;

  it('`add` publishes tags with spaces exactly, from arguments and --from-file', async () => {
    const file = join(work, 'tags.txt');
    writeFileSync(
      file,
      `# release tags\r\n\r\n${spec('from file', 'f')}\r\n${spec('nb\u00a0sp', 'n')}\n`,
    );
    const r = await run(setup.adminToken, ['add', GUN, spec('x y', 'xy'), '--from-file', file]);
    expect(r).toEqual({ code: 0, err: '' });
    const listed = await notaryListFresh(server, GUN);
    expect(listed).toEqual([
      { name: 'from file', digest: digestOf('f'), size: 1, role: 'targets' },
      { name: 'nb\u00a0sp', digest: digestOf('n'), size: 1, role: 'targets' },
      { name: 'x y', digest: digestOf('xy'), size: 2, role: 'targets' },
    ]);
    expect((await client.getCurrent(GUN, 'targets')).toString('utf8')).toContain('"x y":{');
  });

  it('`sign` keeps the space too, and `remove` takes the tag exactly', async () => {
    expect(
      await run(setup.adminToken, [
        'sign',
        `${GUN}:a b`,
        '--digest',
        `sha256:${digestOf('ab')}`,
        '--size',
        '2',
      ]),
    ).toEqual({ code: 0, err: '' });
    expect(await run(setup.adminToken, ['remove', GUN, 'from file'])).toEqual({ code: 0, err: '' });
    expect((await notaryListFresh(server, GUN)).map((t) => t.name)).toEqual([
      'a b',
      'nb\u00a0sp',
      'x y',
    ]);
  });

  it('`sign` and `add` refuse a name Go cannot write the same way, and publish nothing', async () => {
    const before = await client.getCurrent(GUN, 'targets');
    const audited = (await auditRecords()).length;
    for (const tag of ['a\tb', 'a\u0000b']) {
      const signed = await run(setup.adminToken, [
        'sign',
        `${GUN}:${tag}`,
        '--digest',
        `sha256:${digestOf('x')}`,
        '--size',
        '1',
      ]);
      const added = await run(setup.adminToken, ['add', GUN, spec(tag, 'x')]);
      for (const r of [signed, added]) {
        expect(r.code).toBe(2);
        expect(r.err).toMatch(/cannot hold the control character U\+00(09|00).*\[USAGE\]$/);
      }
    }
    expect((await client.getCurrent(GUN, 'targets')).equals(before)).toBe(true);
    expect(await auditRecords()).toHaveLength(audited);
  });

  it("a tag outside the delegation's paths is refused by `sign` and `add` before signing", async () => {
    const audited = await auditRecords();
    const refusals = [
      await run(setup.ciToken, [
        'sign',
        `${GUN}:v9`,
        '--digest',
        `sha256:${digestOf('v9')}`,
        '--size',
        '2',
        '--role',
        'targets/ci',
      ]),
      await run(setup.ciToken, ['add', GUN, spec('v9', 'v9'), '--role', 'targets/ci']),
      await run(setup.ciToken, [
        'add',
        GUN,
        spec('ci/ok', 'ok'),
        spec('cix', 'cix'),
        '--role',
        'targets/ci',
      ]),
    ];
    expect(refusals.map((r) => r.code)).toEqual([1, 1, 1]);
    expect(refusals[0]!.err).toMatch(
      /"v9" lies outside the paths of targets\/ci \("ci\/"\) \[TARGET_OUTSIDE_PATHS\]/,
    );
    expect(refusals[1]!.err).toMatch(/"v9" lies outside .*\[TARGET_OUTSIDE_PATHS\]/);
    expect(refusals[2]!.err).toMatch(/"cix" lies outside .*\[TARGET_OUTSIDE_PATHS\]/);
    // Nothing reached the daemon: not even a refusal was audited.
    expect(await auditRecords()).toEqual(audited);
    expect((await notaryListFresh(server, GUN)).filter((t) => t.role === 'targets/ci')).toEqual([]);
  });

  it('a tag inside the paths is signed by the daemon and listed by the stock CLI', async () => {
    const audited = (await auditRecords()).length;
    expect(
      await run(setup.ciToken, ['add', GUN, spec('ci/build-1', 'b1'), '--role', 'targets/ci']),
    ).toEqual({ code: 0, err: '' });
    const records = await auditRecords();
    expect(records.slice(audited).map((r) => r.outcome)).toEqual(['signed']);
    expect((await notaryListFresh(server, GUN)).filter((t) => t.role === 'targets/ci')).toEqual([
      { name: 'ci/build-1', digest: digestOf('b1'), size: 2, role: 'targets/ci' },
    ]);
  });
});
