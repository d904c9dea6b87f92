/**
 * `notary-hsm verify` and `root show` against repositories the stock notary CLI wrote
 * (plain, with delegations and a server-held snapshot key, and after `notary key rotate
 * GUN root`), on a real notary-server. Pins come from `root show` (certificate and
 * canonical key IDs, the PEM), from the stock CLI's own trust dir (the certificate ID
 * root.json lists) and from `notary key list` (the canonical ID). Without a pin, or with
 * a wrong one, verification is refused; through the trust cache a rotated root is
 * followed from the old pin; `list --pin-root` trusts the root the same way.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  notaryCli,
  parseNotaryList,
  publishReferenceFlow,
  type FlowTarget,
  type NotaryCli,
} from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { runCli, type CliResult } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/tmp';

interface ShownRoot {
  repositories: {
    gun: string;
    version: number;
    threshold: number;
    keys: {
      certificateKeyId: string;
      canonicalKeyId: string;
      subjectCn: string;
      pem?: string;
    }[];
  }[];
  groups: { canonicalKeyIds: string[]; guns: string[] }[];
  note: string;
}

const OTHER_KEY = 'ab'.repeat(32);

describe('verify with pinned roots, on repositories the stock notary CLI wrote', () => {
  let server: NotaryServer;
  let cli: NotaryCli;
  let work: string;
  const plain = 'localhost:5000/pinned/plain';
  const deleg = 'localhost:5000/pinned/delegations';
  const rotated = 'localhost:5000/pinned/rotated';
  const published = new Map<string, FlowTarget[]>();

  beforeAll(async () => {
    server = await startNotaryServer();
    cli = await notaryCli(server);
    work = await makeTempDir('verify-pinned-');
    published.set(plain, await publishReferenceFlow(cli, plain, work, 'plain'));
    published.set(deleg, await publishReferenceFlow(cli, deleg, work, 'snapshot-rotated'));
    published.set(rotated, await publishReferenceFlow(cli, rotated, work, 'delegations'));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const verify = async (args: string[], trustDir?: string): Promise<CliResult> =>
    runCli([
      'verify',
      ...args,
      '--server',
      server.url,
      '--trust-dir',
      trustDir ?? (await makeTempDir('trust-')),
    ]);

  async function shown(...guns: string[]): Promise<ShownRoot> {
    const r = await runCli(['root', 'show', ...guns, '--server', server.url, '--json', '--pem']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.out) as ShownRoot;
  }

  async function notaryList(gun: string): Promise<ReturnType<typeof parseNotaryList>> {
    const fresh = await notaryCli(server);
    return parseNotaryList((await fresh.run(['list', gun])).stdout);
  }

  it('root show prints the certificate and canonical key IDs, CN, threshold, and says it is the trust-on-first-use step', async () => {
    const human = await runCli(['root', 'show', plain, '--server', server.url]);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/one trust-on-first-use step/);
    expect(human.out).toMatch(/compare them|Compare them/);
    const json = await shown(plain);
    const repo = json.repositories[0]!;
    expect(repo).toMatchObject({ gun: plain, version: 1, threshold: 1 });
    expect(repo.keys).toHaveLength(1);
    expect(repo.keys[0]!.subjectCn).toBe(plain);
    expect(repo.keys[0]!.certificateKeyId).toMatch(/^[0-9a-f]{64}$/);
    expect(repo.keys[0]!.canonicalKeyId).not.toBe(repo.keys[0]!.certificateKeyId);
    expect(repo.keys[0]!.pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    // The stock CLI's trust dir lists the same certificate ID in its cached root.json.
    const cached = JSON.parse(
      await readFile(join(cli.trustDir, 'tuf', plain, 'metadata', 'root.json'), 'utf8'),
    ) as { signed: { roles: { root: { keyids: string[] } } } };
    expect(cached.signed.roles.root.keyids).toEqual([repo.keys[0]!.certificateKeyId]);
  });

  it('without a pin verification is refused, and the message says how to get one', async () => {
    const r = await verify([`${plain}:v1.0`]);
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('ROOT_NOT_PINNED');
    expect(r.err).toContain(`notary-hsm root show ${plain}`);
    expect(r.out).toBe('');
  });

  it('a wrong pin is refused', async () => {
    const r = await verify([`${plain}:v1.0`, '--pin-root', OTHER_KEY]);
    expect(r.code).toBe(1);
    expect(r.errorCode).toBe('ROOT_PIN_MISMATCH');
    expect(r.out).toBe('');
    const json = await verify([`${plain}:v1.0`, '--pin-root', OTHER_KEY, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      trusted: false,
      gun: plain,
      name: 'v1.0',
      code: 'ROOT_PIN_MISMATCH',
      details: { pins: [OTHER_KEY] },
    });
  });

  it('pinned by the certificate ID from the stock CLI trust dir, it prints exactly the digest notary lists', async () => {
    const cached = JSON.parse(
      await readFile(join(cli.trustDir, 'tuf', plain, 'metadata', 'root.json'), 'utf8'),
    ) as { signed: { roles: { root: { keyids: string[] } } } };
    const certId = cached.signed.roles.root.keyids[0]!;
    const r = await verify([`${plain}:v1.0`, '--pin-root', certId]);
    expect(r.err).toMatch(/pinned root key/);
    expect(r.code).toBe(0);
    const listed = (await notaryList(plain)).find((t) => t.name === 'v1.0')!;
    expect(r.out).toBe(`sha256:${listed.digest} ${listed.size} targets`);
  });

  it('pinned by the canonical ID `notary key list` shows, and by the PEM file root show prints', async () => {
    const { stdout } = await cli.run(['key', 'list']);
    const json = await shown(plain);
    const canonical = json.repositories[0]!.keys[0]!.canonicalKeyId;
    expect(stdout).toContain(canonical);
    const byCanonical = await verify([`${plain}:v1.0`, '--pin-root', canonical, '--json']);
    expect(byCanonical.code).toBe(0);
    expect(JSON.parse(byCanonical.out)).toMatchObject({
      trusted: true,
      gun: plain,
      name: 'v1.0',
      role: 'targets',
    });
    const pemFile = join(work, 'plain-root.pem');
    await writeFile(pemFile, json.repositories[0]!.keys[0]!.pem!);
    const byPem = await verify([`${plain}:v1.0`, '--pin-root', pemFile]);
    expect(byPem.code).toBe(0);
  });

  it('a whole repository with delegations verifies: the count of trusted targets is what notary lists', async () => {
    const pin = (await shown(deleg)).repositories[0]!.keys[0]!.certificateKeyId;
    const theirs = await notaryList(deleg);
    const r = await verify([deleg, '--pin-root', pin]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${theirs.length} trusted target(s) in ${deleg}`);
    const json = await verify([deleg, '--pin-root', pin, '--json']);
    const parsed = JSON.parse(json.out) as { count: number; targets: { name: string }[] };
    expect(parsed.count).toBe(theirs.length);
    expect(parsed.targets.map((t) => t.name)).toEqual(theirs.map((t) => t.name));
  });

  it('each tag of the delegated repository resolves to the role and digest notary lists', async () => {
    const pin = (await shown(deleg)).repositories[0]!.keys[0]!.certificateKeyId;
    const trustDir = await makeTempDir('trust-');
    for (const t of await notaryList(deleg)) {
      const r = await verify([`${deleg}:${t.name}`, '--pin-root', pin], trustDir);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`sha256:${t.digest} ${t.size} ${t.role}`);
    }
  });

  it('--require-role: a role that does not list the tag refuses it, naming the roles', async () => {
    const pin = (await shown(deleg)).repositories[0]!.keys[0]!.certificateKeyId;
    const one = await verify([
      `${deleg}:v1.1`,
      '--pin-root',
      pin,
      '--require-role',
      'targets/releases',
    ]);
    expect(one.code).toBe(0);
    expect(one.out).toMatch(/^sha256:[0-9a-f]{64} \d+ targets\/releases$/);
    const both = await verify([
      `${deleg}:v1.1`,
      '--pin-root',
      pin,
      '--require-role',
      'targets/releases',
      'targets/ci',
    ]);
    expect(both.code).toBe(1);
    expect(both.errorCode).toBe('TARGET_NOT_FOUND');
    expect(both.err).toMatch(/targets\/releases: sha256:[0-9a-f]{64}/);
    expect(both.err).toMatch(/targets\/ci: does not list it/);
  });

  it('after `notary key rotate GUN root` the trust cache follows the chain from the old pin; a fresh cache with the old pin is refused', async () => {
    const before = (await shown(rotated)).repositories[0]!.keys[0]!;
    const trustDir = await makeTempDir('trust-rotation-');
    expect(
      (await verify([`${rotated}:v1.1`, '--pin-root', before.certificateKeyId], trustDir)).code,
    ).toBe(0);

    await cli.run(['key', 'rotate', rotated, 'root'], { input: 'yes\n' });
    const after = (await shown(rotated)).repositories[0]!;
    expect(after.version).toBe(2);
    expect(after.keys[0]!.canonicalKeyId).not.toBe(before.canonicalKeyId);

    const chained = await verify(
      [`${rotated}:v1.1`, '--pin-root', before.certificateKeyId],
      trustDir,
    );
    expect(chained.code).toBe(0);
    expect(chained.err).toMatch(/root versions 2 follow from the cached root version 1/);
    // The cache alone carries the trust on.
    const cacheOnly = await verify([`${rotated}:v1.1`], trustDir);
    expect(cacheOnly.code).toBe(0);

    const fresh = await verify([`${rotated}:v1.1`, '--pin-root', before.certificateKeyId]);
    expect(fresh.code).toBe(1);
    expect(fresh.errorCode).toBe('ROOT_PIN_MISMATCH');
    const repinned = await verify([`${rotated}:v1.1`, '--pin-root', after.keys[0]!.canonicalKeyId]);
    expect(repinned.code).toBe(0);
    expect(repinned.out).toBe(chained.out);
    // The stock CLI agrees on the digest after the rotation.
    const listed = (await notaryList(rotated)).find((t) => t.name === 'v1.1')!;
    expect(chained.out).toBe(`sha256:${listed.digest} ${listed.size} targets/releases`);
  });

  it('a trust file pins by GUN prefix; the longest matching prefix wins', async () => {
    const pin = (await shown(plain)).repositories[0]!.keys[0]!.certificateKeyId;
    const good = join(work, 'trust-good.yaml');
    await writeFile(
      good,
      `pins:\n  "localhost:5000/*": ["${OTHER_KEY}"]\n  "localhost:5000/pinned/*": ["${pin}"]\n`,
    );
    const r = await verify([`${plain}:v1.0`, '--trust-file', good]);
    expect(r.code).toBe(0);
    expect(r.err).toContain('localhost:5000/pinned/*');
    const bad = join(work, 'trust-bad.json');
    await writeFile(
      bad,
      JSON.stringify({
        pins: { 'localhost:5000/*': [pin], 'localhost:5000/pinned/*': [OTHER_KEY] },
      }),
    );
    const refused = await verify([`${plain}:v1.0`, '--trust-file', bad]);
    expect(refused.errorCode).toBe('ROOT_PIN_MISMATCH');
    const none = join(work, 'trust-none.json');
    await writeFile(none, JSON.stringify({ pins: { 'other.example/*': [pin] } }));
    expect((await verify([`${plain}:v1.0`, '--trust-file', none])).errorCode).toBe(
      'ROOT_NOT_PINNED',
    );
  });

  it('list --pin-root lists after the same root trust, and refuses a wrong pin', async () => {
    const pin = (await shown(deleg)).repositories[0]!.keys[0]!.canonicalKeyId;
    const trustDir = await makeTempDir('trust-list-');
    const ok = await runCli([
      'list',
      deleg,
      '--server',
      server.url,
      '--pin-root',
      pin,
      '--trust-dir',
      trustDir,
      '--json',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.err).not.toMatch(/read-only view/);
    const theirs = await notaryList(deleg);
    expect((JSON.parse(ok.out) as { targets: unknown[] }).targets).toEqual(
      theirs.map((t) => ({ ...t, digest: `sha256:${t.digest}` })),
    );
    const wrong = await runCli([
      'list',
      deleg,
      '--server',
      server.url,
      '--pin-root',
      OTHER_KEY,
      '--trust-dir',
      await makeTempDir('trust-'),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.errorCode).toBe('ROOT_PIN_MISMATCH');
  });

  it('root show across GUNs says whether they share a root key (the stock CLI reuses one root key)', async () => {
    const json = await shown(plain, deleg);
    expect(json.groups).toHaveLength(1);
    expect(json.groups[0]!.guns).toEqual([plain, deleg]);
    const human = await runCli(['root', 'show', plain, deleg, '--server', server.url]);
    expect(human.out).toMatch(/All 2 repositories share the same root key/);
    const missing = await runCli([
      'root',
      'show',
      plain,
      'localhost:5000/pinned/none',
      '--server',
      server.url,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.errorCode).toBe('SERVER_NOT_FOUND');
  });
});
