/**
 * The attacks on update systems, played by a static trust server of the test's own:
 * a repository is published to a real notary-server with the library (a targets/ci
 * delegation restricted to `ci/`), its files are fetched, and the static server offers
 * them re-signed (root version 2 hands the snapshot and timestamp keys to test keys, as
 * a compromised server would hold them) and mutated per attack. The untouched state
 * verifies; every attack is refused by `notary-hsm verify` with its own error code, and
 * none prints a digest. The rollback case runs the built binary twice over one trust
 * cache, as two separate processes.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { initRepository } from '../../src/client/publish';
import { localSigning, tufKeyOf } from '../../src/client/signing';
import { updateTargets } from '../../src/client/targets-update';
import { createRootCertificate } from '../../src/metadata/certificate';
import type { TufKey } from '../../src/metadata/keys';
import type { Root } from '../../src/metadata/root';
import { parseMetadata, type SignedMetadata } from '../../src/metadata/signed';
import { GoTime } from '../../src/metadata/time';
import { NotaryServerClient } from '../../src/notary';
import {
  byHash,
  rekey,
  resignTargets,
  serveState,
  signRoot,
  snapshotOf,
  targetFor,
  timestampOf,
  type RepoState,
} from '../helpers/forged-repo';
import { MemorySigner } from '../helpers/memory-signer';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { runCli, type CliResult } from '../helpers/run-cli';
import { startStaticTrustServer, type StaticTrustServer } from '../helpers/static-trust-server';
import { makeTempDir } from '../helpers/tmp';

const GUN = 'localhost:5000/attack/app';
const BIN = join(__dirname, '..', '..', 'bin', 'notary-hsm');
const BUILT = existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'notary-hsm.js'));

describe('verify refuses every attack on update systems, each with its own code', () => {
  let notary: NotaryServer;
  let mirror: StaticTrustServer;
  const rootSigner = new MemorySigner();
  const targetsSigner = new MemorySigner();
  const ciSigner = new MemorySigner();
  const timestampSigner = new MemorySigner('ed25519');
  const snapshotSigner = new MemorySigner();
  const attacker = new MemorySigner();
  let certKey: TufKey;
  let pin: string;
  let roots: SignedMetadata<Root>[];
  let realTargets: Buffer;
  let realCi: Buffer;
  let base: RepoState;
  let targetsVersion: number;

  /** Snapshot and timestamp at `version` over `parts`, signed by the keys root lists. */
  async function stateOf(
    parts: Pick<RepoState, 'roots' | 'targets' | 'delegations'>,
    version: number,
    expiry: { snapshot?: GoTime; timestamp?: GoTime } = {},
  ): Promise<RepoState> {
    const snapshot = await snapshotOf(parts, {
      version,
      signer: snapshotSigner,
      ...(expiry.snapshot ? { expires: expiry.snapshot } : {}),
    });
    const timestamp = await timestampOf(snapshot.bytes, {
      version,
      signer: timestampSigner,
      ...(expiry.timestamp ? { expires: expiry.timestamp } : {}),
    });
    return { ...parts, snapshot, timestamp };
  }

  const ciOnly = (): Map<string, Buffer> => new Map([['targets/ci', realCi]]);

  beforeAll(async () => {
    notary = await startNotaryServer();
    mirror = await startStaticTrustServer();
    const client = new NotaryServerClient({ url: notary.url });
    const ciKey = tufKeyOf(ciSigner);
    await initRepository({
      server: client,
      gun: GUN,
      signing: localSigning({ rootSigner, targetsSigner }),
      delegations: [{ name: 'targets/ci', keyIds: [ciKey.id], threshold: 1, paths: ['ci/'] }],
      delegationKeys: [ciKey],
    });
    await updateTargets({
      server: client,
      gun: GUN,
      signing: localSigning({ signers: [targetsSigner] }),
      changes: { add: new Map([['v1', targetFor('manifest v1')]]) },
    });
    await updateTargets({
      server: client,
      gun: GUN,
      role: 'targets/ci',
      signing: localSigning({ signers: [ciSigner] }),
      changes: { add: new Map([['ci/build-1', targetFor('manifest ci/build-1')]]) },
    });
    const root1 = parseMetadata('root', await client.getCurrent(GUN, 'root'));
    realTargets = await client.getCurrent(GUN, 'targets');
    realCi = await client.getCurrent(GUN, 'targets/ci');
    client.close();
    targetsVersion = parseMetadata('targets', realTargets).signed.version;
    certKey = root1.signed.roleKeys('root')[0]!;
    pin = certKey.id;
    const root2 = await signRoot(
      rekey(root1.signed, 2, {
        timestamp: { keys: [tufKeyOf(timestampSigner)] },
        snapshot: { keys: [tufKeyOf(snapshotSigner)] },
      }),
      [rootSigner],
      [certKey],
    );
    roots = [root1, root2];
    base = await stateOf({ roots, targets: realTargets, delegations: ciOnly() }, 10);
  });
  afterAll(async () => {
    await mirror?.close();
    await notary?.stop();
  });

  async function verify(args: string[], trustDir?: string): Promise<CliResult> {
    return runCli([
      'verify',
      ...args,
      '--server',
      mirror.url,
      '--trust-dir',
      trustDir ?? (await makeTempDir('trust-')),
      '--timeout',
      '1.5',
    ]);
  }

  function refused(r: CliResult, code: string): void {
    if (process.env.SHOW_REFUSALS) process.stdout.write(`${code}: ${r.err}\n`);
    expect({ code: r.code, errorCode: r.errorCode, out: r.out }).toEqual({
      code: 1,
      errorCode: code,
      out: '',
    });
  }

  /** A trust dir that has seen `state`. */
  async function seeded(state: RepoState): Promise<string> {
    const dir = await makeTempDir('trust-seeded-');
    serveState(mirror, state);
    const r = await verify([GUN, '--pin-root', pin], dir);
    expect(r.err).toMatch(/trusted/);
    expect(r.code).toBe(0);
    return dir;
  }

  it('the re-signed repository itself verifies (the control case)', async () => {
    serveState(mirror, base);
    const r = await verify([`${GUN}:v1`, '--pin-root', pin]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `sha256:${targetFor('manifest v1').sha256Digest!.toString('hex')} 11 targets`,
    );
    const all = await verify([GUN, '--pin-root', pin]);
    expect(all.out).toBe(`2 trusted target(s) in ${GUN}`);
  });

  it('rollback: older timestamp, snapshot and targets than a previous run saw (two processes, one trust cache)', async () => {
    if (!BUILT) throw new Error('dist/ is missing: run npm run build');
    const newer = await stateOf(
      {
        roots,
        targets: await resignTargets('targets', realTargets, [targetsSigner], (t) =>
          t.with({
            version: targetsVersion + 1,
            targets: new Map([...t.targets, ['v2', targetFor('manifest v2')]]),
          }),
        ),
        delegations: ciOnly(),
      },
      11,
    );
    const dir = await makeTempDir('trust-rollback-');
    const run = async (): Promise<{ code: number; out: string; err: string }> => {
      const args = ['verify', `${GUN}:v1`, '--pin-root', pin, '--server', mirror.url];
      try {
        const { stdout, stderr } = await promisify(execFile)(BIN, args, {
          env: { ...process.env, NOTARY_HSM_TRUST_DIR: dir },
        });
        return { code: 0, out: stdout, err: stderr };
      } catch (e) {
        const f = e as { code: number; stdout: string; stderr: string };
        return { code: f.code, out: f.stdout, err: f.stderr };
      }
    };
    serveState(mirror, newer);
    expect((await run()).code).toBe(0);
    serveState(mirror, base);
    const second = await run();
    expect(second.code).toBe(1);
    expect(second.out).toBe('');
    expect(second.err).toMatch(/\[ROLLBACK_DETECTED\]\n?$/);
    expect(second.err).toMatch(/timestamp version 10 < 11/);
    expect(second.err).toMatch(
      new RegExp(`targets version ${targetsVersion} < ${targetsVersion + 1}`),
    );

    // Only targets rolled back, under a fresh snapshot and timestamp (a compromised
    // server holds those keys): still refused, naming targets.
    const replayed = await stateOf({ roots, targets: realTargets, delegations: ciOnly() }, 12);
    serveState(mirror, replayed);
    const r = await verify([`${GUN}:v1`, '--pin-root', pin], dir);
    refused(r, 'ROLLBACK_DETECTED');
    expect(r.err).toMatch(new RegExp(`targets version ${targetsVersion} < ${targetsVersion + 1}`));
    expect(r.err).not.toMatch(/timestamp version/);
  });

  it('freeze: an expired timestamp, or an expired snapshot, is refused', async () => {
    const past = GoTime.fromDate(new Date(Date.now() - 86_400_000));
    serveState(
      mirror,
      await stateOf({ roots, targets: realTargets, delegations: ciOnly() }, 11, {
        timestamp: past,
      }),
    );
    refused(await verify([`${GUN}:v1`, '--pin-root', pin]), 'METADATA_EXPIRED');
    serveState(
      mirror,
      await stateOf({ roots, targets: realTargets, delegations: ciOnly() }, 11, { snapshot: past }),
    );
    refused(await verify([`${GUN}:v1`, '--pin-root', pin]), 'METADATA_EXPIRED');
  });

  it('arbitrary target: a target added after signing (the signature no longer verifies)', async () => {
    const doc = JSON.parse(realTargets.toString('utf8')) as {
      signed: { targets: Record<string, unknown> };
    };
    doc.signed.targets.evil = targetFor('evil manifest').toJson();
    const forged = Buffer.from(JSON.stringify(doc), 'utf8');
    serveState(mirror, await stateOf({ roots, targets: forged, delegations: ciOnly() }, 11));
    refused(await verify([`${GUN}:evil`, '--pin-root', pin]), 'SIGNATURE_INVALID');
  });

  it('a key not in root: targets signed by a key root does not list', async () => {
    const forged = await resignTargets('targets', realTargets, [attacker], (t) =>
      t.with({
        version: targetsVersion + 1,
        targets: new Map([...t.targets, ['evil', targetFor('evil manifest')]]),
      }),
    );
    serveState(mirror, await stateOf({ roots, targets: forged, delegations: ciOnly() }, 11));
    const r = await verify([`${GUN}:evil`, '--pin-root', pin]);
    refused(r, 'KEY_NOT_TRUSTED');
    expect(r.err).toContain(tufKeyOf(attacker).id);
  });

  it('threshold not met: root asks two targets keys, one signed', async () => {
    const second = new MemorySigner();
    const root3 = await signRoot(
      rekey(roots[1]!.signed, 3, {
        targets: { keys: [tufKeyOf(targetsSigner), tufKeyOf(second)], threshold: 2 },
      }),
      [rootSigner],
      [certKey],
    );
    const targets = await resignTargets('targets', realTargets, [targetsSigner], (t) =>
      t.with({ version: targetsVersion + 1 }),
    );
    serveState(
      mirror,
      await stateOf({ roots: [...roots, root3], targets, delegations: ciOnly() }, 11),
    );
    const r = await verify([`${GUN}:v1`, '--pin-root', pin]);
    refused(r, 'THRESHOLD_NOT_MET');
    expect(r.err).toMatch(/targets: 1 valid signature\(s\), 2 required/);
  });

  it('mix-and-match: the snapshot pins one targets file, the server serves another of the same length', async () => {
    const variant = (content: string, version: number): Promise<Buffer> =>
      resignTargets('targets', realTargets, [targetsSigner], (t) =>
        t.with({ version, targets: new Map([...t.targets, ['v2', targetFor(content)]]) }),
      );
    const pinned = await variant('a', targetsVersion + 2);
    const other = await variant('b', targetsVersion + 1);
    expect(other.length).toBe(pinned.length);
    const state = await stateOf({ roots, targets: pinned, delegations: ciOnly() }, 11);
    serveState(mirror, state);
    mirror.files.set(byHash('targets', pinned), other);
    refused(await verify([`${GUN}:v2`, '--pin-root', pin]), 'HASH_MISMATCH');
  });

  it('an oversized response: a timestamp beyond 1 MiB, a snapshot beyond its pinned length', async () => {
    serveState(mirror, base);
    mirror.files.set('timestamp.json', { oversized: 2 << 20, declared: true });
    refused(await verify([`${GUN}:v1`, '--pin-root', pin]), 'SERVER_RESPONSE_TOO_LARGE');
    serveState(mirror, base);
    mirror.files.set(byHash('snapshot', base.snapshot.bytes), {
      oversized: 64 << 10,
      declared: false,
    });
    refused(await verify([`${GUN}:v1`, '--pin-root', pin]), 'SERVER_RESPONSE_TOO_LARGE');
  });

  it('an endless response: a timestamp that drips without end is cut at the deadline', async () => {
    serveState(mirror, base);
    mirror.files.set('timestamp.json', { drip: { everyMs: 50 } });
    const started = Date.now();
    const r = await verify([`${GUN}:v1`, '--pin-root', pin]);
    refused(r, 'SERVER_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('delegation path escape: targets/ci (paths ci/) lists v9; it is never trusted', async () => {
    const escaped = await resignTargets('targets/ci', realCi, [ciSigner], (t) =>
      t.with({
        version: t.version + 1,
        targets: new Map([...t.targets, ['v9', targetFor('escaped manifest')]]),
      }),
    );
    serveState(
      mirror,
      await stateOf(
        { roots, targets: realTargets, delegations: new Map([['targets/ci', escaped]]) },
        11,
      ),
    );
    const r = await verify([`${GUN}:v9`, '--pin-root', pin]);
    refused(r, 'TARGET_OUTSIDE_PATHS');
    expect(r.err).toMatch(
      /targets\/ci: sha256:[0-9a-f]{64} \(16 bytes\) outside its paths \["ci\/"\]/,
    );
    expect((await verify([GUN, '--pin-root', pin])).out).toBe(`2 trusted target(s) in ${GUN}`);
  });

  describe('a root swapped for one signed by another key', () => {
    async function swapped(version: number): Promise<RepoState> {
      const cert = await createRootCertificate({ gun: GUN, signer: attacker });
      const evilRoot = await signRoot(
        rekey(roots[1]!.signed, version, {
          root: { keys: [cert] },
          targets: { keys: [tufKeyOf(attacker)] },
        }),
        [attacker],
        [cert],
      );
      const targets = await resignTargets('targets', realTargets, [attacker], (t) =>
        t.with({
          version: targetsVersion + 1,
          targets: new Map([...t.targets, ['v1', targetFor('evil manifest')]]),
        }),
      );
      const rootsSeen = version > 2 ? [...roots, evilRoot] : [roots[0]!, evilRoot];
      return stateOf({ roots: rootsSeen, targets, delegations: ciOnly() }, 11);
    }

    it('on a first run, the pinned key did not sign it', async () => {
      serveState(mirror, await swapped(3));
      refused(await verify([`${GUN}:v1`, '--pin-root', pin]), 'ROOT_PIN_MISMATCH');
    });

    it('with a trust cache, the next root version does not follow from the trusted one', async () => {
      const dir = await seeded(base);
      serveState(mirror, await swapped(3));
      refused(await verify([`${GUN}:v1`, '--pin-root', pin], dir), 'ROOT_CHAIN_INVALID');
      refused(await verify([`${GUN}:v1`], dir), 'ROOT_CHAIN_INVALID');
    });

    it('with a trust cache, the same root version with other bytes is refused', async () => {
      const dir = await seeded(base);
      serveState(mirror, await swapped(2));
      refused(await verify([`${GUN}:v1`], dir), 'ROOT_CHAIN_INVALID');
    });
  });
});
