/**
 * Proves the integration-test harness against the real components: notary-server starts on
 * 127.0.0.1, answers its health check (over TLS only with its CA) and is gone after stop();
 * the stock notary CLI publishes and lists a GUN and parseNotaryList reads its table; and
 * SoftHSM2 tokens are created in private, independent directories.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { notaryCli, parseNotaryList } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { createSoftHsmToken, SOFTHSM_MODULE } from '../helpers/softhsm';
import { makeTempDir } from '../helpers/tmp';

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = url.startsWith('https:') ? https.get(url, ca ? { ca } : {}) : http.get(url);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function slotLabels(env: NodeJS.ProcessEnv): Promise<string[]> {
  const { stdout } = await promisify(execFile)('softhsm2-util', ['--show-slots'], { env });
  return [...stdout.matchAll(/^\s*Label:\s*(.*?)\s*$/gm)]
    .map((m) => m[1] ?? '')
    .filter((l) => l !== '');
}

describe('notary-server harness', () => {
  it('starts on 127.0.0.1, answers health, and is gone after stop', async () => {
    const server = await startNotaryServer();
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      await expect(get(`${server.url}/_notary_server/health`)).resolves.toEqual({
        status: 200,
        body: '{}',
      });
    } finally {
      await server.stop();
    }
    expect(await refuses(server.port)).toBe(true);
    await server.stop(); // idempotent
  });

  it('serves TLS that verifies with its CA and fails without it', async () => {
    const server = await startNotaryServer({ tls: true });
    try {
      expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
      const ca = await readFile(server.caFile ?? '');
      await expect(get(`${server.url}/_notary_server/health`, ca)).resolves.toMatchObject({
        status: 200,
      });
      await expect(get(`${server.url}/_notary_server/health`)).rejects.toThrow(
        /self[- ]signed|certificate/i,
      );
    } finally {
      await server.stop();
    }
  });
});

describe('notary CLI harness', () => {
  let server: NotaryServer;
  beforeAll(async () => {
    server = await startNotaryServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('publishes and lists a GUN; parseNotaryList reads digest and size', async () => {
    const cli = await notaryCli(server);
    const gun = 'example.com:5000/harness/app';
    const work = await makeTempDir('harness-');
    const targets = [
      { name: 'v 1.0 spaced', content: Buffer.from('harness target one\n') },
      { name: '日本語🙂 x', content: Buffer.from('harness target two, a little longer\n') },
    ];
    await cli.run(['init', gun]);
    for (const [i, t] of targets.entries()) {
      const file = join(work, `target-${i}`);
      await writeFile(file, t.content);
      await cli.run(['add', gun, t.name, file]);
    }
    await cli.run(['publish', gun]);
    const { stdout } = await cli.run(['list', gun]);
    const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : 1);
    expect(parseNotaryList(stdout).sort(byName)).toEqual(
      targets
        .map((t) => ({
          name: t.name,
          digest: createHash('sha256').update(t.content).digest('hex'),
          size: t.content.length,
          role: 'targets',
        }))
        .sort(byName),
    );
  });

  it('fails loudly on a failed command unless allowFailure', async () => {
    const cli = await notaryCli(server);
    await expect(cli.run(['list', 'example.com/none'])).rejects.toThrow(/does not have trust data/);
    const res = await cli.run(['list', 'example.com/none'], { allowFailure: true });
    expect(res.code).not.toBe(0);
  });

  it('parses wide and non-ASCII names by column offsets', () => {
    const d = 'a'.repeat(64);
    const out = [
      'NAME             DIGEST                                                              SIZE (BYTES)    ROLE',
      '----             ------                                                              ------------    ----',
      `日本語🙂x            ${d}    12              targets/ci`,
      `two  spaces      ${d}    3               targets`,
      '',
    ].join('\n');
    expect(parseNotaryList(out)).toEqual([
      { name: '日本語🙂x', digest: d, size: 12, role: 'targets/ci' },
      { name: 'two  spaces', digest: d, size: 3, role: 'targets' },
    ]);
    expect(parseNotaryList('\nNo targets present in this repository.\n')).toEqual([]);
  });
});

describe('SoftHSM2 harness', () => {
  it('creates a token in a private directory, visible with its env', async () => {
    const token = await createSoftHsmToken({
      label: 'harness-a',
      pin: '123456',
      soPin: '12345678',
    });
    expect(token.module).toBe(SOFTHSM_MODULE);
    expect(token.env.SOFTHSM2_CONF).toBe(token.conf);
    expect(await slotLabels(token.env)).toEqual(['harness-a']);
  });

  it('keeps tokens in two directories independent', async () => {
    const a = await createSoftHsmToken({ label: 'indep-a', pin: '123456', soPin: '12345678' });
    const b = await createSoftHsmToken({ label: 'indep-b', pin: '654321', soPin: '87654321' });
    expect(a.dir).not.toBe(b.dir);
    expect(await slotLabels(a.env)).toEqual(['indep-a']);
    expect(await slotLabels(b.env)).toEqual(['indep-b']);
  });
});
