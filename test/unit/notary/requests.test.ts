/**
 * What NotaryServerClient puts on the wire, recorded by a local HTTP server: the method and
 * path of every call (GUN segments percent-encoded with ':' kept, roles, versions, hashes,
 * a base path prefix), the publish body byte for byte as Go's multipart writer makes it,
 * keep-alive reuse, and the argument checks that refuse to send anything at all.
 */
import { NotaryServerClient } from '../../../src/notary';
import { multipartBody } from '../../../src/notary/multipart';
import { startRecorder, type Recorder } from './recorder';

const GUN = 'example.com:5000/ns/app';
const HEX = 'AB'.repeat(32);

let rec: Recorder;
let client: NotaryServerClient;
beforeAll(async () => {
  rec = await startRecorder();
  client = new NotaryServerClient({ url: rec.url });
});
afterAll(async () => {
  client.close();
  await rec.close();
});
beforeEach(() => {
  rec.requests.length = 0;
  rec.handler = (_req, res) => res.end('{}');
});

function last(): { method: string; path: string } {
  const r = rec.requests.at(-1);
  return { method: r?.method ?? '', path: r?.path ?? '' };
}

describe('request lines', () => {
  const tuf = `/v2/${GUN}/_trust/tuf`;
  it.each<[string, () => Promise<unknown>, string, string]>([
    ['getCurrent', () => client.getCurrent(GUN, 'root'), 'GET', `${tuf}/root.json`],
    [
      'getCurrent delegation',
      () => client.getCurrent(GUN, 'targets/releases'),
      'GET',
      `${tuf}/targets/releases.json`,
    ],
    [
      'getByVersion',
      () => client.getByVersion(GUN, 'targets/ci', 3),
      'GET',
      `${tuf}/3.targets/ci.json`,
    ],
    [
      'getByHash',
      () => client.getByHash(GUN, 'snapshot', HEX, 10),
      'GET',
      `${tuf}/snapshot.${HEX.toLowerCase()}.json`,
    ],
    ['getServerKey', () => client.getServerKey(GUN, 'timestamp'), 'GET', `${tuf}/timestamp.key`],
    [
      'rotateServerKey',
      () => client.rotateServerKey(GUN, 'snapshot'),
      'POST',
      `${tuf}/snapshot.key`,
    ],
    ['deleteRepository', () => client.deleteRepository(GUN), 'DELETE', `${tuf}/`],
  ])('%s', async (_name, call, method, path) => {
    await call();
    expect(last()).toEqual({ method, path });
  });

  it('percent-encodes each GUN segment but keeps ":" and "/"', async () => {
    await client.getCurrent('example.com:443/a b/ü@x+y', 'root');
    expect(last().path).toBe('/v2/example.com:443/a%20b/%C3%BC%40x%2By/_trust/tuf/root.json');
  });

  it('keeps a path prefix of the base URL and drops its query', async () => {
    const prefixed = new NotaryServerClient({ url: `${rec.url}/notary/?x=1` });
    await prefixed.getCurrent('a/b', 'timestamp');
    prefixed.close();
    expect(last().path).toBe('/notary/v2/a/b/_trust/tuf/timestamp.json');
  });

  it('reuses one keep-alive connection', async () => {
    await client.getCurrent(GUN, 'root');
    await client.getCurrent(GUN, 'targets');
    const [a, b] = rec.requests;
    expect(a?.remotePort).toBe(b?.remotePort);
  });
});

describe('argument checks (nothing is sent)', () => {
  afterEach(() => expect(rec.requests).toHaveLength(0));

  it.each(['', '/a', 'a/', 'a//b', 'a/../b', './a', 'a*b', 'a\nb', 'a\u0000b'])(
    'GUN %j → USAGE',
    async (gun) => {
      await expect(client.getCurrent(gun, 'root')).rejects.toMatchObject({ code: 'USAGE' });
    },
  );

  it.each([
    '',
    'foo',
    'Root',
    'targets/',
    'targets//x',
    'targets/a b',
    'targets/..',
    'timestamp/x',
  ])('role %j → ROLE_NAME_INVALID', async (role) => {
    await expect(client.getCurrent(GUN, role)).rejects.toMatchObject({ code: 'ROLE_NAME_INVALID' });
  });

  it('refuses bad versions, digests, bounds, key roles and publishes', async () => {
    await expect(client.getByVersion(GUN, 'root', 0)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(client.getByVersion(GUN, 'root', 1.5)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(client.getByHash(GUN, 'root', 'abc', 10)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(client.getByHash(GUN, 'root', HEX, -1)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(client.getServerKey(GUN, 'root' as 'timestamp')).rejects.toMatchObject({
      code: 'ROLE_NAME_INVALID',
    });
    await expect(client.publish(GUN, [])).rejects.toMatchObject({ code: 'USAGE' });
    const twice = [
      { role: 'targets', bytes: Buffer.from('{}') },
      { role: 'targets', bytes: Buffer.from('{}') },
    ];
    await expect(client.publish(GUN, twice)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(
      client.publish(GUN, [{ role: 'nope', bytes: Buffer.from('{}') }]),
    ).rejects.toMatchObject({ code: 'ROLE_NAME_INVALID' });
  });

  it.each(['ftp://127.0.0.1/', 'not a url', '127.0.0.1:4443'])('server URL %j → USAGE', (url) => {
    expect(() => new NotaryServerClient({ url })).toThrowWithCode('USAGE');
  });
});

describe('publish body', () => {
  const files = [
    { role: 'root', bytes: Buffer.from('{"signed":{"_type":"Root"},"signatures":[]}') },
    { role: 'targets/releases', bytes: new Uint8Array([0x7b, 0x0d, 0x0a, 0x7d, 0x00, 0xff]) },
  ];

  it('is Go multipart: parts named "files", filename = role, octet-stream, bytes verbatim', async () => {
    await client.publish(GUN, files);
    const req = rec.requests[0];
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe(`/v2/${GUN}/_trust/tuf/`);
    const type = String(req?.headers['content-type']);
    const boundary = /^multipart\/form-data; boundary=([0-9a-f]{60})$/.exec(type)?.[1] ?? '';
    expect(boundary).not.toBe('');
    expect(req?.headers['content-length']).toBe(String(req?.body.length));
    const part = (role: string): string =>
      `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${role}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n';
    const expected = Buffer.concat([
      Buffer.from(part('root')),
      files[0]?.bytes ?? Buffer.alloc(0),
      Buffer.from('\r\n' + part('targets/releases')),
      files[1]?.bytes ?? Buffer.alloc(0),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    expect(req?.body.equals(expected)).toBe(true);
  });

  it('parses back with a standard multipart parser', async () => {
    const { contentType, parts: sent } = multipartBody(files);
    const body = Buffer.concat(sent);
    const form = await new Response(new Uint8Array(body), {
      headers: { 'content-type': contentType },
    }).formData();
    const parts = form.getAll('files') as File[];
    expect(parts.map((p) => p.name)).toEqual(['root', 'targets/releases']);
    const bytes = await Promise.all(parts.map(async (p) => Buffer.from(await p.arrayBuffer())));
    expect(bytes).toEqual(files.map((f) => Buffer.from(f.bytes)));
  });

  it('sends each file from its own memory, not a copy', () => {
    const { parts } = multipartBody(files);
    expect(parts[1]?.buffer).toBe(files[0]?.bytes.buffer);
    expect(parts[3]?.buffer).toBe(files[1]?.bytes.buffer);
  });

  it('never uses a boundary that occurs in a part', () => {
    const b = 'f'.repeat(60);
    expect(() => multipartBody([{ role: 'root', bytes: Buffer.from(`x--${b}x`) }], b)).toThrow(
      /boundary/,
    );
    expect(Buffer.concat(multipartBody([], b).parts).toString()).toBe(`--${b}--\r\n`);
  });
});
