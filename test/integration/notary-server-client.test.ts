/**
 * NotaryServerClient against a real notary-server (Debian notary 0.7.0), plain and TLS:
 * the server's keys, its refusals (garbage publish, unknown GUN), a repository published by
 * the stock notary CLI fetched by current / version / sha256 with bytes equal to a raw GET,
 * size bounds, unreachable servers, untrusted TLS, and GUNs with ':' and '/'.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { NotaryServerClient } from '../../src/notary';
import { notaryCli, publishReferenceFlow } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { freePort } from '../helpers/ports';
import { makeTempDir } from '../helpers/tmp';

const GUN = 'example.com:5000/client/app';

/** The raw bytes of a GET, curl-style, without our client. */
function rawGet(url: string, ca?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = url.startsWith('https:') ? https.get(url, { ca }) : http.get(url);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(Buffer.concat(chunks))
          : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
  });
}

function parse(bytes: Buffer): {
  signed: { _type: string; version: number; meta?: Record<string, unknown> };
} {
  return JSON.parse(bytes.toString('utf8')) as ReturnType<typeof parse>;
}

describe.each([{ tls: false }, { tls: true }])('NotaryServerClient (tls: $tls)', ({ tls }) => {
  let server: NotaryServer;
  let ca: Buffer | undefined;
  let client: NotaryServerClient;
  const tuf = (gun: string, file: string): string => `${server.url}/v2/${gun}/_trust/tuf/${file}`;

  beforeAll(async () => {
    server = await startNotaryServer({ tls });
    ca = server.caFile ? await readFile(server.caFile) : undefined;
    client = new NotaryServerClient({ url: server.url, ...(ca ? { ca } : {}) });
    const cli = await notaryCli(server);
    await publishReferenceFlow(cli, GUN, await makeTempDir('client-flow-'), 'delegations');
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('gets a server key', async () => {
    const key = JSON.parse(
      (await client.getServerKey('example.com/keys/app', 'timestamp')).toString(),
    ) as {
      keytype: string;
      keyval: { public: string; private: null };
    };
    expect(key.keytype).toBe('ed25519');
    expect(Buffer.from(key.keyval.public, 'base64')).toHaveLength(32);
    const rotated = await client.rotateServerKey('example.com/keys/app', 'snapshot');
    expect(JSON.parse(rotated.toString())).toMatchObject({ keytype: 'ed25519' });
  });

  it('reports a garbage publish as the server answers it', async () => {
    const garbage = [{ role: 'targets', bytes: Buffer.from('this is not json') }];
    await expect(client.publish('example.com/garbage/app', garbage)).rejects.toMatchObject({
      code: 'SERVER_REJECTED',
      details: { status: 400, serverCode: 'MALFORMED_JSON' },
    });
  });

  it('reports an unknown GUN as SERVER_NOT_FOUND', async () => {
    await expect(client.getCurrent('example.com/never/published', 'root')).rejects.toMatchObject({
      code: 'SERVER_NOT_FOUND',
      details: { status: 404, serverCode: 'METADATA_NOT_FOUND' },
    });
  });

  it('fetches what the notary CLI published by current, version and sha256, byte for byte', async () => {
    for (const role of [
      'root',
      'targets',
      'snapshot',
      'timestamp',
      'targets/releases',
      'targets/ci',
    ]) {
      const current = await client.getCurrent(GUN, role);
      expect(current.equals(await rawGet(tuf(GUN, `${role}.json`), ca))).toBe(true);
      const { version } = parse(current).signed;
      expect((await client.getByVersion(GUN, role, version)).equals(current)).toBe(true);
      const hex = createHash('sha256').update(current).digest('hex');
      expect((await client.getByHash(GUN, role, hex, current.length)).equals(current)).toBe(true);
    }
    expect(parse(await client.getCurrent(GUN, 'targets/releases')).signed._type).toBe('Targets');
  });

  it('refuses a file larger than maxBytes', async () => {
    const root = await client.getCurrent(GUN, 'root');
    const hex = createHash('sha256').update(root).digest('hex');
    await expect(client.getByHash(GUN, 'root', hex, root.length - 1)).rejects.toMatchObject({
      code: 'SERVER_RESPONSE_TOO_LARGE',
    });
    await expect(client.getCurrent(GUN, 'root', 10)).rejects.toMatchObject({
      code: 'SERVER_RESPONSE_TOO_LARGE',
    });
  });

  it('publishes, fetches and deletes a GUN with ":" and "/"', async () => {
    const gun = 'example.com:4443/deep/name/space:x';
    const cli = await notaryCli(server);
    await publishReferenceFlow(cli, gun, await makeTempDir('client-colon-'), 'plain');
    const root = await client.getCurrent(gun, 'root');
    expect(root.equals(await rawGet(tuf(gun, 'root.json'), ca))).toBe(true);
    await client.deleteRepository(gun);
    await expect(client.getCurrent(gun, 'root')).rejects.toMatchObject({
      code: 'SERVER_NOT_FOUND',
    });
  });

  if (tls) {
    it('does not trust the server without its CA', async () => {
      const untrusting = new NotaryServerClient({ url: server.url });
      const err: unknown = await untrusting.getCurrent(GUN, 'root').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SERVER_UNREACHABLE' });
      expect((err as Error).message).toMatch(/CA certificate/);
      untrusting.close();
    });
  }
});

it('reports a port where nothing listens as SERVER_UNREACHABLE', async () => {
  const client = new NotaryServerClient({ url: `http://127.0.0.1:${await freePort()}` });
  await expect(client.getServerKey('example.com/x', 'timestamp')).rejects.toMatchObject({
    code: 'SERVER_UNREACHABLE',
  });
});
