/**
 * How NotaryServerClient reads answers, against a local HTTP server playing notary-server:
 * the server's error bodies (notary-v1.md §2.3) become the right SERVER_* codes with the
 * server's words in message and details; non-JSON and oversized error bodies are handled;
 * success bodies are bounded by Content-Length and by streamed bytes; timeouts, refused
 * connections and connections cut mid-body are SERVER_UNREACHABLE.
 */
import type { ServerResponse } from 'node:http';
import { isNotaryHsmError, type NotaryHsmError } from '../../../src/errors';
import { NotaryServerClient } from '../../../src/notary';
import { freePort } from '../../helpers/ports';
import { json, startRecorder, type Handler, type Recorder } from './recorder';

const GUN = 'example.com/ns/app';

let rec: Recorder;
let client: NotaryServerClient;
beforeAll(async () => {
  rec = await startRecorder();
  client = new NotaryServerClient({ url: rec.url, timeoutMs: 2000 });
});
afterAll(async () => {
  client.close();
  await rec.close();
});

async function failure(call: Promise<unknown>): Promise<NotaryHsmError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isNotaryHsmError(err)) throw new Error(`expected a NotaryHsmError, got ${String(err)}`);
  return err;
}

const errors = (code: string, message: string, detail?: unknown): unknown => ({
  errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }],
});

describe('server errors', () => {
  it.each<[string, Handler, string]>([
    [
      '404 METADATA_NOT_FOUND',
      json(404, errors('METADATA_NOT_FOUND', 'does not exist', {})),
      'SERVER_NOT_FOUND',
    ],
    ['404 without body', (_q, res) => res.writeHead(404).end(), 'SERVER_NOT_FOUND'],
    [
      '400 VERSION',
      json(400, errors('VERSION', 'A newer version of metadata is already available.', {})),
      'SERVER_VERSION_CONFLICT',
    ],
    [
      '400 MALFORMED_JSON',
      json(400, errors('MALFORMED_JSON', 'could not be parsed')),
      'SERVER_REJECTED',
    ],
    [
      '400 INVALID_ROLE',
      json(400, errors('INVALID_ROLE', 'invalid role', 'foo')),
      'SERVER_REJECTED',
    ],
    ['400 text', (_q, res) => res.writeHead(400).end('bad request'), 'SERVER_REJECTED'],
    [
      '401 UNAUTHORIZED',
      json(401, errors('UNAUTHORIZED', 'authentication required', [])),
      'SERVER_UNAUTHORIZED',
    ],
    ['403 text', (_q, res) => res.writeHead(403).end('forbidden'), 'SERVER_UNAUTHORIZED'],
    ['500 UNKNOWN', json(500, errors('UNKNOWN', 'unknown error')), 'SERVER_ERROR'],
    [
      '502 HTML',
      (_q, res) => res.writeHead(502).end('<html>\n<b>Bad Gateway</b></html>'),
      'SERVER_ERROR',
    ],
    [
      '302 redirect',
      (_q, res) => res.writeHead(302, { location: '/elsewhere' }).end(),
      'SERVER_BAD_RESPONSE',
    ],
  ])('%s → %s', async (_name, handler, code) => {
    rec.handler = handler;
    const err = await failure(client.getCurrent(GUN, 'root'));
    expect(err.code).toBe(code);
    expect(err.details.status).toBeGreaterThanOrEqual(300);
    expect(err.message).toContain(GUN);
  });

  it('INVALID_UPDATE carries the validator name and message', async () => {
    const msg =
      'no snapshot was included in update and server does not hold current snapshot key for repository';
    rec.handler = json(
      400,
      errors('INVALID_UPDATE', 'Update sent by the client is invalid.', {
        Name: 'ErrBadHierarchy',
        Error: { Msg: msg },
      }),
    );
    const err = await failure(client.publish(GUN, [{ role: 'targets', bytes: Buffer.from('{}') }]));
    expect(err.code).toBe('SERVER_INVALID_UPDATE');
    expect(err.message).toContain(`ErrBadHierarchy: ${msg}`);
    expect(err.details).toMatchObject({
      serverCode: 'INVALID_UPDATE',
      name: 'ErrBadHierarchy',
      reason: msg,
    });
  });

  it('quotes a non-JSON body on one line and keeps the server code in details', async () => {
    rec.handler = (_q, res) => res.writeHead(502).end('<html>\n<b>Bad Gateway</b></html>');
    expect((await failure(client.getCurrent(GUN, 'root'))).message).toContain(
      '"<html> <b>Bad Gateway</b></html>"',
    );
    rec.handler = json(
      400,
      errors('INVALID_GUN', 'invalid gun', 'Require GUNs with prefix: [allowed/]'),
    );
    expect((await failure(client.getCurrent(GUN, 'root'))).message).toContain(
      'INVALID_GUN: invalid gun (Require GUNs with prefix: [allowed/])',
    );
    rec.handler = json(400, errors('MALFORMED_JSON', 'could not be parsed'));
    expect((await failure(client.getCurrent(GUN, 'root'))).details.serverCode).toBe(
      'MALFORMED_JSON',
    );
  });

  it('reads at most 64 KiB of an error body', async () => {
    rec.handler = (_q, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('x'.repeat(4 << 20));
    };
    const err = await failure(client.getCurrent(GUN, 'root'));
    expect(err.code).toBe('SERVER_ERROR');
    expect(err.message.length).toBeLessThan(1000);
  });
});

describe('response bounds', () => {
  const body =
    (n: number): Handler =>
    (_q, res) =>
      res.end(Buffer.alloc(n, 0x61));
  const chunked =
    (n: number): Handler =>
    (_q, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // no Content-Length: chunked
      for (let i = 0; i < n; i += 1000) res.write(Buffer.alloc(Math.min(1000, n - i), 0x61));
      res.end();
    };

  it('accepts a body of exactly maxBytes', async () => {
    rec.handler = body(100);
    expect((await client.getCurrent(GUN, 'root', 100)).length).toBe(100);
  });

  it('refuses a Content-Length above maxBytes before reading the body', async () => {
    rec.handler = (_q, res) => {
      res.writeHead(200, { 'content-length': String(100 << 20) });
      res.write('only the start'); // and never the rest: reading on would end in a timeout
    };
    await expect(client.getCurrent(GUN, 'root', 100)).rejects.toMatchObject({
      code: 'SERVER_RESPONSE_TOO_LARGE',
      details: { seen: 100 << 20 },
    });
  });

  it('refuses a streamed body once it passes maxBytes', async () => {
    rec.handler = chunked(50_000);
    await expect(client.getByHash(GUN, 'targets', 'a'.repeat(64), 20_000)).rejects.toMatchObject({
      code: 'SERVER_RESPONSE_TOO_LARGE',
    });
  });

  it('bounds timestamp at 1 MiB and keys at 256 KiB by default', async () => {
    rec.handler = body((1 << 20) + 1);
    await expect(client.getCurrent(GUN, 'timestamp')).rejects.toMatchObject({
      code: 'SERVER_RESPONSE_TOO_LARGE',
    });
    expect((await client.getCurrent(GUN, 'snapshot')).length).toBe((1 << 20) + 1);
    rec.handler = chunked((256 << 10) + 1);
    await expect(client.getServerKey(GUN, 'timestamp')).rejects.toMatchObject({
      code: 'SERVER_RESPONSE_TOO_LARGE',
    });
  });
});

describe('unreachable', () => {
  it('times out a server that never answers', async () => {
    rec.handler = () => undefined;
    const slow = new NotaryServerClient({ url: rec.url, timeoutMs: 200 });
    await expect(slow.getCurrent(GUN, 'root')).rejects.toMatchObject({
      code: 'SERVER_TIMEOUT',
    });
    slow.close();
  });

  it('reports a refused connection', async () => {
    const closed = new NotaryServerClient({ url: `http://127.0.0.1:${await freePort()}` });
    const err = await failure(closed.getCurrent(GUN, 'root'));
    expect(err.code).toBe('SERVER_UNREACHABLE');
    expect(err.details.errorCode).toBe('ECONNREFUSED');
  });

  it('reports a connection cut in the middle of the body', async () => {
    rec.handler = (_q, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    await expect(client.getCurrent(GUN, 'root')).rejects.toMatchObject({
      code: 'SERVER_UNREACHABLE',
    });
  });
});
