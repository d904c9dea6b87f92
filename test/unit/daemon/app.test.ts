/**
 * The daemon's HTTP layer against a small in-test DaemonServices: every route's happy
 * path, the error format and status table, request IDs, bounded and strict bodies, the
 * Host allowlist, metrics, and what the access log may never hold.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import request from 'supertest';
import winston from 'winston';
import { createApp, type AppDeps } from '../../../daemon/app';
import { isLocalPeer } from '../../../daemon/http/loopback';
import { tokenOperationObserver } from '../../../daemon/metrics';
import { OPENAPI } from '../../../daemon/openapi';
import { NotaryHsmError, type ErrorCode } from '../../../src/errors';
import type {
  Client,
  KeyView,
  RootCertificateResult,
  SignRequest,
  SignResult,
  TokenStatusView,
} from '../../../src/signing/types';

// ---------------------------------------------------------------------------------------
// A minimal, deterministic DaemonServices.

const BEARER = 'nhsm-client-token-7c0ffee15bad';
const AUTH = `Bearer ${BEARER}`;
const PIN = '918273-pin-never-logged';
const CLIENT: Client = { name: 'ci-build', scopes: [{ kind: 'admin' }] };
const TOKEN: TokenStatusView = {
  name: 'softhsm',
  profile: 'softhsm2',
  present: true,
  label: 'dev',
  serial: '1234',
  pinState: 'ok',
};
const KEY: KeyView = {
  name: 'ci',
  role: 'delegation',
  token: 'softhsm',
  keyId: 'a'.repeat(64),
  publicKey: { keytype: 'ecdsa', keyval: { private: null, public: 'AAAA' } },
};
const CERT: RootCertificateResult = {
  gun: 'registry.example.com/acme/api',
  key: 'root1',
  publicKey: { keytype: 'ecdsa-x509', keyval: { private: null, public: 'BBBB' } },
  keyId: 'b'.repeat(64),
  certificatePem: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
};
/** The daemon's own request ID: a fresh UUID, whatever the caller sent. */
const DAEMON_ID: unknown = expect.stringMatching(
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
);
const SIGS: SignResult = { signatures: [{ keyid: 'c'.repeat(64), method: 'ecdsa', sig: 'c2ln' }] };
const SIGNED = {
  _type: 'Targets',
  version: 3,
  expires: '2030-01-01T00:00:00Z',
  targets: { 'v1.4': { hashes: { sha256: 'AAAA' }, length: 1 } },
};

function fakeServices() {
  return {
    authenticate: jest.fn((authorization: string | undefined): Client => {
      if (authorization === AUTH) return CLIENT;
      throw new NotaryHsmError('UNAUTHENTICATED', 'no configured client holds this token');
    }),
    tokens: jest.fn((_c: Client) => Promise.resolve([TOKEN])),
    readiness: jest.fn(() =>
      Promise.resolve<{ ready: boolean; problems: readonly string[] }>({
        ready: true,
        problems: [],
      }),
    ),
    keys: jest.fn((_c: Client, _o: { gun?: string }) => Promise.resolve([KEY])),
    touchKeys: jest.fn((_c: Client) => [
      { name: KEY.name, role: KEY.role, token: KEY.token, touch: true },
    ]),
    generateKey: jest.fn((_c: Client, _r: { token: string; label: string; requestId: string }) =>
      Promise.resolve(KEY),
    ),
    rootCertificate: jest.fn(
      (_c: Client, _r: { gun: string; key: string; pin?: string; requestId: string }) =>
        Promise.resolve(CERT),
    ),
    sign: jest.fn((_c: Client, _r: SignRequest) => Promise.resolve(SIGS)),
    resetRepository: jest.fn((_c: Client, r: { gun: string; requestId: string }) =>
      Promise.resolve({ gun: r.gun, forgotten: 2 }),
    ),
    auditRefusal: jest.fn(() => Promise.resolve()),
    tokenGauges: jest.fn(() =>
      Promise.resolve([
        { token: 'softhsm', queueDepth: 2, pinState: 'ok', present: true },
        { token: 'yubikey', queueDepth: 0, pinState: 'final_try', present: false },
      ]),
    ),
  };
}

/** A logger whose JSON lines land in `lines`. */
function captureLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

function setup(limits?: AppDeps['limits']) {
  const services = fakeServices();
  const { logger, lines } = captureLogger();
  const registry = new Registry();
  const app = createApp({ services, logger, metrics: registry, ...(limits ? { limits } : {}) });
  return { services, lines, app, agent: request(app.callback()) };
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function listening(handler: ReturnType<ReturnType<typeof createApp>['callback']>) {
  const server = createServer((req, res) => void handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface ErrorJson {
  error: { code: string; message: string; requestId: string };
}

function expectError(res: request.Response, status: number, code: string): ErrorJson['error'] {
  expect(res.status).toBe(status);
  const body = res.body as ErrorJson;
  expect(Object.keys(body)).toEqual(['error']);
  const withDetails = code === 'VERSION_ROLLBACK' || code === 'VERSION_JUMP';
  expect(Object.keys(body.error).sort()).toEqual(
    withDetails ? ['code', 'details', 'message', 'requestId'] : ['code', 'message', 'requestId'],
  );
  expect(body.error.code).toBe(code);
  expect(body.error.requestId).toBe(res.headers['x-request-id']);
  return body.error;
}

// ---------------------------------------------------------------------------------------

describe('routes: happy paths', () => {
  test('GET /healthz is 200 {"status":"ok"} and touches no service', async () => {
    const { agent, services } = setup();
    const res = await agent.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    for (const fn of Object.values(services)) expect(fn).not.toHaveBeenCalled();
  });

  test('GET /readyz is 200 when ready and 503 naming the problems when not', async () => {
    const { agent, services } = setup();
    const ok = await agent.get('/readyz');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'ready' });
    services.readiness.mockResolvedValueOnce({ ready: false, problems: ['yubikey: not present'] });
    const bad = await agent.get('/readyz');
    expect(bad.status).toBe(503);
    expect(bad.body).toEqual({ status: 'not_ready', problems: ['yubikey: not present'] });
    services.readiness.mockRejectedValueOnce(new Error('module crashed with secret detail'));
    const failed = await agent.get('/readyz');
    expect(failed.status).toBe(503);
    expect(failed.text).not.toContain('secret detail');
  });

  test('GET /readyz does not hang on a stuck readiness check', async () => {
    const { agent, services } = setup({ readinessTimeoutMs: 50 });
    services.readiness.mockReturnValueOnce(new Promise(() => undefined));
    const res = await agent.get('/readyz');
    expect(res.status).toBe(503);
    expect((res.body as { problems: string[] }).problems[0]).toMatch(/timed out/);
  });

  test('GET /openapi.json is an OpenAPI 3.1 document', async () => {
    const { agent } = setup();
    const res = await agent.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect((res.body as { openapi: string }).openapi).toBe('3.1.0');
  });

  test('GET /v1/tokens', async () => {
    const { agent, services } = setup();
    const res = await agent.get('/v1/tokens').set('Authorization', AUTH);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tokens: [TOKEN] });
    expect(services.authenticate).toHaveBeenCalledWith(AUTH, undefined); // no client certificate over plain HTTP
    expect(services.tokens).toHaveBeenCalledWith(CLIENT);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  test('GET /v1/keys with and without ?gun', async () => {
    const { agent, services } = setup();
    const all = await agent.get('/v1/keys').set('Authorization', AUTH);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ keys: [KEY] });
    expect(services.keys).toHaveBeenLastCalledWith(CLIENT, {});
    const one = await agent
      .get('/v1/keys?gun=registry.example.com%2Facme%2Fapi')
      .set('Authorization', AUTH);
    expect(one.status).toBe(200);
    expect(services.keys).toHaveBeenLastCalledWith(CLIENT, {
      gun: 'registry.example.com/acme/api',
    });
  });

  test('POST /v1/keys is 201 {key}', async () => {
    const { agent, services } = setup();
    const res = await agent
      .post('/v1/keys')
      .set('Authorization', AUTH)
      .set('X-Request-Id', 'gen-1')
      .send({ token: 'softhsm', label: 'ci', id: '0a1b', role: 'delegation' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ key: KEY });
    expect(services.generateKey).toHaveBeenCalledWith(CLIENT, {
      token: 'softhsm',
      label: 'ci',
      id: '0a1b',
      role: 'delegation',
      requestId: DAEMON_ID,
      clientRequestId: 'gen-1',
    });
  });

  test('POST /v1/certificates/root passes the PIN through once', async () => {
    const { agent, services } = setup();
    const res = await agent
      .post('/v1/certificates/root')
      .set('Authorization', AUTH)
      .set('X-Request-Id', 'cert-1')
      .send({ gun: CERT.gun, key: 'root1', pin: PIN });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(CERT);
    expect(services.rootCertificate).toHaveBeenCalledTimes(1);
    const req = services.rootCertificate.mock.calls[0]?.[1];
    expect(req).toEqual({
      gun: CERT.gun,
      key: 'root1',
      pin: PIN,
      requestId: DAEMON_ID,
      clientRequestId: 'cert-1',
    });
  });

  test.each([
    ['/v1/sign/root', { pin: PIN }, { endpoint: 'sign/root', role: 'root', pin: PIN }],
    [
      '/v1/sign/targets',
      { keys: ['t1'] },
      { endpoint: 'sign/targets', role: 'targets', keys: ['t1'] },
    ],
    [
      '/v1/sign/delegation',
      { role: 'targets/ci-build' },
      { endpoint: 'sign/delegation', role: 'targets/ci-build' },
    ],
  ])('POST %s returns {signatures}', async (path, extra, expected) => {
    const { agent, services } = setup();
    const res = await agent
      .post(path)
      .set('Authorization', AUTH)
      .set('X-Request-Id', 'sign-42')
      .send({ gun: 'registry.example.com/acme/api', signed: SIGNED, ...extra });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(SIGS);
    expect(services.sign).toHaveBeenCalledTimes(1);
    expect(services.sign.mock.calls[0]?.[0]).toBe(CLIENT);
    expect(services.sign.mock.calls[0]?.[1]).toEqual({
      gun: 'registry.example.com/acme/api',
      signed: SIGNED,
      requestId: DAEMON_ID,
      clientRequestId: 'sign-42',
      ...expected,
    });
  });
});

describe('request IDs', () => {
  test("every request gets the daemon's own ID; a sane incoming X-Request-Id is kept beside it", async () => {
    const { agent } = setup();
    const kept = await agent.get('/healthz').set('X-Request-Id', 'ci-job_17.run-3');
    expect(kept.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(kept.headers['x-client-request-id']).toBe('ci-job_17.run-3');
    const again = await agent.get('/healthz').set('X-Request-Id', 'ci-job_17.run-3');
    expect(again.headers['x-request-id']).not.toBe(kept.headers['x-request-id']);
    for (const bad of ['a'.repeat(65), 'has space', 'semi;colon', '<script>']) {
      const res = await agent.get('/healthz').set('X-Request-Id', bad);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers['x-client-request-id']).toBeUndefined();
    }
    const none = await agent.get('/healthz');
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('every answer carries one, errors included, and the error body repeats it', async () => {
    const { agent, services } = setup({ bodyBytes: 64 });
    services.sign.mockRejectedValueOnce(new Error('boom'));
    const answers = [
      await agent.get('/nope'),
      await agent.get('/v1/tokens'),
      await agent
        .post('/v1/sign/targets')
        .set('Authorization', AUTH)
        .send({ gun: 'g', signed: {} }),
      await agent
        .post('/v1/sign/targets')
        .set('Authorization', AUTH)
        .send({ gun: 'g'.repeat(100) }),
      await agent.get('/healthz').set('Host', 'evil.example'),
      await agent.delete('/healthz'),
    ];
    expect(answers.map((r) => r.status)).toEqual([404, 401, 500, 413, 421, 405]);
    for (const res of answers) {
      expect(res.headers['x-request-id']).toBeTruthy();
      expect((res.body as ErrorJson).error.requestId).toBe(res.headers['x-request-id']);
    }
  });
});

describe('errors', () => {
  test.each<[ErrorCode, number]>([
    ['PIN_LOCKED', 423],
    ['TOKEN_NOT_PRESENT', 503],
    ['TOKEN_TIMEOUT', 504],
    ['VERSION_ROLLBACK', 409],
    ['FORBIDDEN', 403],
    ['UNAUTHENTICATED', 401],
    ['KEY_NOT_FOUND', 404],
    ['TYPE_MISMATCH', 400],
    ['TOKEN_BUSY', 503],
    ['AUDIT_UNAVAILABLE', 503],
    ['CONFIG_INVALID', 500],
  ])('%s → %i in the one error format', async (code, status) => {
    const { agent, services } = setup();
    const detail = `the ${code} detail for key ci on softhsm`;
    services.sign.mockRejectedValueOnce(new NotaryHsmError(code, detail));
    const res = await agent
      .post('/v1/sign/targets')
      .set('Authorization', AUTH)
      .send({ gun: 'g', signed: SIGNED });
    const e = expectError(res, status, code);
    if (status < 500) expect(e.message).toBe(detail);
    else expect(res.text).not.toContain(detail);
    if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    if (code === 'TOKEN_BUSY') expect(res.headers['retry-after']).toBe('1');
  });

  test('a missing or unknown bearer token is 401 and nothing else runs', async () => {
    const { agent, services } = setup();
    expectError(
      await agent.post('/v1/sign/targets').send({ gun: 'g', signed: {} }),
      401,
      'UNAUTHENTICATED',
    );
    expectError(
      await agent.get('/v1/keys').set('Authorization', 'Bearer wrong'),
      401,
      'UNAUTHENTICATED',
    );
    expect(services.sign).not.toHaveBeenCalled();
    expect(services.keys).not.toHaveBeenCalled();
  });

  test('a plain Error is 500 INTERNAL with a generic message: no text, no stack', async () => {
    const { agent, services, lines } = setup();
    services.sign.mockRejectedValueOnce(
      new TypeError('cannot read x of undefined at /srv/secret.ts'),
    );
    const res = await agent
      .post('/v1/sign/targets')
      .set('Authorization', AUTH)
      .send({ gun: 'g', signed: SIGNED });
    const e = expectError(res, 500, 'INTERNAL');
    expect(res.text).not.toMatch(/undefined|secret\.ts|TypeError|\bat\b.*\.ts/);
    expect(e.message).toMatch(/internal error/);
    // The details are in the log, under the same request ID.
    await waitFor(() => lines.some((l) => l.includes('secret.ts')));
    const logged = lines.find((l) => l.includes('secret.ts')) ?? '';
    expect(logged).toContain(e.requestId);
  });

  test('an unsynchronised throw in authenticate is a 500 too', async () => {
    const { agent, services } = setup();
    services.authenticate.mockImplementationOnce(() => {
      throw new Error('db gone');
    });
    expectError(await agent.get('/v1/tokens').set('Authorization', AUTH), 500, 'INTERNAL');
  });

  test('unknown route → 404 NOT_FOUND; wrong method → 405 with Allow', async () => {
    const { agent } = setup();
    expectError(await agent.get('/v2/anything'), 404, 'NOT_FOUND');
    const res = await agent.put('/v1/keys').set('Authorization', AUTH);
    expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toContain('GET');
    expect(res.headers.allow).toContain('POST');
    const opts = await agent.options('/v1/sign/root');
    expect(opts.status).toBe(204);
    expect(opts.headers.allow).toBe('POST');
  });
});

describe('request bodies', () => {
  const post = (agent: ReturnType<typeof setup>['agent'], path = '/v1/sign/targets') =>
    agent.post(path).set('Authorization', AUTH).set('Content-Type', 'application/json');

  test('a declared length over the limit is 413 before anything is read or called', async () => {
    const { agent, services } = setup({ bodyBytes: 1024 });
    const res = await post(agent).send(
      JSON.stringify({ gun: 'g', signed: { pad: 'x'.repeat(2000) } }),
    );
    expectError(res, 413, 'BODY_TOO_LARGE');
    expect(res.headers.connection).toBe('close');
    expect(services.authenticate).not.toHaveBeenCalled();
    expect(services.sign).not.toHaveBeenCalled();
  });

  test('a chunked body is cut off while it streams, before the client finishes', async () => {
    const { app, services } = setup({ bodyBytes: 1024 });
    const { server, port } = await listening(app.callback());
    try {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/sign/targets',
        headers: {
          authorization: AUTH,
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
        },
      });
      req.on('error', () => undefined);
      const response = once(req, 'response') as Promise<[IncomingMessage]>;
      req.write(`{"gun":"g","signed":{"pad":"${'x'.repeat(700)}`);
      await waitFor(() => services.authenticate.mock.calls.length === 1);
      req.write('x'.repeat(700)); // over the limit; the request is never ended
      const [res] = await response;
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ErrorJson;
      expect(res.statusCode).toBe(413);
      expect(body.error.code).toBe('BODY_TOO_LARGE');
      expect(services.sign).not.toHaveBeenCalled();
      req.destroy();
    } finally {
      await closeServer(server);
    }
  });

  test('a body within the limit is accepted', async () => {
    const { agent, services } = setup({ bodyBytes: 1024 });
    const res = await post(agent).send(
      JSON.stringify({ gun: 'g', signed: { pad: 'x'.repeat(900) } }),
    );
    expect(res.status).toBe(200);
    expect(services.sign).toHaveBeenCalledTimes(1);
  });

  test.each([
    ['duplicate keys', '{"gun":"g","gun":"h","signed":{}}'],
    ['duplicate keys inside signed', '{"gun":"g","signed":{"version":1,"version":2}}'],
    ['not JSON', '{"gun":"g",'],
    ['a number that is not an integer', '{"gun":"g","signed":{"version":2.0}}'],
    ['nesting beyond the bound', `{"gun":"g","signed":${'['.repeat(100)}${']'.repeat(100)}}`],
    ['an empty body', ''],
  ])('%s → 400 BAD_JSON and the service is never called', async (_what, raw) => {
    const { agent, services } = setup();
    const res = await post(agent).send(raw);
    expectError(res, 400, 'BAD_JSON');
    expect(services.sign).not.toHaveBeenCalled();
  });

  test.each([
    ['a fraction', '918273.5'],
    ['an exponent', '9182e73'],
    ['a huge integer', '918273918273918273918273'],
    ['a negative number', '-918273'],
  ])('a PIN sent as %s is refused without repeating it', async (_what, pin) => {
    const { agent, services } = setup();
    const res = await agent
      .post('/v1/sign/root')
      .set('Authorization', AUTH)
      .set('Content-Type', 'application/json')
      .send(`{"gun":"g","signed":{},"pin":${pin}}`);
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('918273');
    expect(res.text).not.toContain('9182e73');
    expect(services.sign).not.toHaveBeenCalled();
  });

  test('a __proto__ member is refused as an unknown field and pollutes nothing', async () => {
    const { agent, services } = setup();
    const res = await post(agent).send('{"__proto__":{"polluted":true},"gun":"g","signed":{}}');
    const e = expectError(res, 400, 'UNKNOWN_FIELD');
    expect(e.message).toContain('"__proto__"');
    expect(services.sign).not.toHaveBeenCalled();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('an unknown field → 400 UNKNOWN_FIELD naming it', async () => {
    const { agent, services } = setup();
    const res = await post(agent).send({ gun: 'g', signed: SIGNED, force: true });
    const e = expectError(res, 400, 'UNKNOWN_FIELD');
    expect(e.message).toContain('"force"');
    expect(services.sign).not.toHaveBeenCalled();
  });

  test.each([
    ['/v1/sign/targets', { gun: 7, signed: {} }, 'gun', 'must be a string'],
    ['/v1/sign/targets', { signed: {} }, 'gun', 'is required'],
    ['/v1/sign/targets', { gun: 'g', signed: [1] }, 'signed', 'JSON object'],
    ['/v1/sign/targets', { gun: 'g', signed: {}, keys: ['a', 2] }, 'keys.1', 'must be a string'],
    ['/v1/sign/delegation', { gun: 'g', signed: {} }, 'role', 'is required'],
    ['/v1/sign/root', { gun: 'g', signed: {}, pin: 918273 }, 'pin', 'must be a string'],
    ['/v1/keys', { token: 't', label: 'l', role: 'snapshot' }, 'role', ''],
    ['/v1/keys', { token: 't', label: 'l', role: 'root', id: 'XYZ' }, 'id', 'hex'],
    ['/v1/certificates/root', { gun: '', key: 'k' }, 'gun', ''],
  ])('%s %j → 400 BAD_REQUEST naming %s', async (path, body, field, problem) => {
    const { agent, services } = setup();
    const res = await post(agent, path).send(body);
    const e = expectError(res, 400, 'BAD_REQUEST');
    expect(e.message).toContain(`"${field}"`);
    expect(e.message).toContain(problem);
    expect(e.message).not.toContain('918273');
    expect(services.sign).not.toHaveBeenCalled();
    expect(services.generateKey).not.toHaveBeenCalled();
    expect(services.rootCertificate).not.toHaveBeenCalled();
  });

  test('a body that is not an object → 400 BAD_REQUEST', async () => {
    const { agent } = setup();
    expectError(await post(agent).send('[1,2]'), 400, 'BAD_REQUEST');
  });

  test('unknown or repeated query parameters are refused', async () => {
    const { agent, services } = setup();
    expectError(
      await agent.get('/v1/keys?owner=me').set('Authorization', AUTH),
      400,
      'UNKNOWN_FIELD',
    );
    expectError(
      await agent.get('/v1/keys?gun=a&gun=b').set('Authorization', AUTH),
      400,
      'BAD_REQUEST',
    );
    expectError(await agent.get('/v1/tokens?x=1').set('Authorization', AUTH), 400, 'UNKNOWN_FIELD');
    expect(services.keys).not.toHaveBeenCalled();
  });

  test.each([
    ['text/plain', {}],
    ['application/x-www-form-urlencoded', {}],
    ['application/json; charset=latin1', {}],
    ['application/json', { 'Content-Encoding': 'gzip' }],
  ])('Content-Type %s %j → 415', async (type, headers) => {
    const { agent, services } = setup();
    const res = await agent
      .post('/v1/sign/targets')
      .set('Authorization', AUTH)
      .set(headers)
      .set('Content-Type', type)
      .send('{"gun":"g","signed":{}}');
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(services.sign).not.toHaveBeenCalled();
  });

  test('application/json; charset=utf-8 is accepted', async () => {
    const { agent } = setup();
    const res = await agent
      .post('/v1/sign/targets')
      .set('Authorization', AUTH)
      .set('Content-Type', 'application/json; charset=UTF-8')
      .send(JSON.stringify({ gun: 'g', signed: SIGNED }));
    expect(res.status).toBe(200);
  });
});

describe('Host allowlist', () => {
  test('a foreign Host is refused with 421 before any route or service runs', async () => {
    const { agent, services } = setup();
    for (const host of ['evil.example', 'evil.example:7468', '127.0.0.1.evil.example', '']) {
      const res = await agent
        .post('/v1/sign/targets')
        .set('Host', host)
        .set('Authorization', AUTH)
        .send({
          gun: 'g',
          signed: SIGNED,
        });
      expectError(res, 421, 'HOST_NOT_ALLOWED');
    }
    expect(services.authenticate).not.toHaveBeenCalled();
    expect(services.sign).not.toHaveBeenCalled();
  });

  test('loopback names pass by default; a configured list replaces them', async () => {
    const { agent } = setup();
    for (const host of ['127.0.0.1:7468', 'localhost:7468', '[::1]:7468', 'LOCALHOST']) {
      expect((await agent.get('/healthz').set('Host', host)).status).toBe(200);
    }
    const pinned = setup({ allowedHosts: ['127.0.0.1:7468', 'notary-hsm.internal:7468'] }).agent;
    expect((await pinned.get('/healthz').set('Host', 'notary-hsm.internal:7468')).status).toBe(200);
    expect((await pinned.get('/healthz').set('Host', '127.0.0.1:7468')).status).toBe(200);
    expect((await pinned.get('/healthz').set('Host', '127.0.0.1:8080')).status).toBe(421);
    expect((await pinned.get('/healthz').set('Host', 'localhost:7468')).status).toBe(421);
  });

  test('a malformed allowlist entry is a configuration error', () => {
    expect(() =>
      createApp({ services: fakeServices(), limits: { allowedHosts: ['http://x/'] } }),
    ).toThrowWithCode('CONFIG_INVALID');
    expect(() => createApp({ services: fakeServices(), limits: { bodyBytes: 0 } })).toThrowWithCode(
      'CONFIG_INVALID',
    );
  });
});

describe('liveness while a token is stuck', () => {
  test('/healthz answers while a sign call never resolves', async () => {
    const { app, services } = setup();
    let release: ((r: SignResult) => void) | undefined;
    services.sign.mockImplementationOnce(
      () => new Promise<SignResult>((resolve) => (release = resolve)),
    );
    const { server } = await listening(app.callback());
    try {
      const stuck = request(server)
        .post('/v1/sign/delegation')
        .set('Authorization', AUTH)
        .send({ gun: 'g', role: 'targets/ci', signed: SIGNED })
        .then((r) => r);
      await waitFor(() => release !== undefined);
      const started = Date.now();
      const health = await request(server).get('/healthz');
      expect(health.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
      release?.(SIGS);
      expect((await stuck).status).toBe(200);
    } finally {
      await closeServer(server);
    }
  });
});

describe('/metrics', () => {
  test('counts requests by route and status and shows token gauges', async () => {
    const { agent } = setup();
    await agent.get('/healthz');
    await agent.get('/healthz');
    await agent.get('/v1/tokens');
    await agent.get('/no/such/path/12345');
    const res = await agent.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toMatch(
      /notary_hsmd_http_requests_total\{method="GET",route="\/healthz",status="200"\} 2/,
    );
    expect(text).toMatch(
      /notary_hsmd_http_requests_total\{method="GET",route="\/v1\/tokens",status="401"\} 1/,
    );
    expect(text).toMatch(
      /notary_hsmd_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/,
    );
    expect(text).not.toContain('12345');
    expect(text).toMatch(
      /notary_hsmd_http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/healthz"\}/,
    );
    expect(text).toMatch(/notary_hsmd_token_queue_depth\{token="softhsm"\} 2/);
    expect(text).toMatch(/notary_hsmd_token_pin_state\{token="yubikey",state="final_try"\} 1/);
    expect(text).toMatch(/notary_hsmd_token_pin_state\{token="yubikey",state="ok"\} 0/);
    expect(text).toMatch(/notary_hsmd_token_present\{token="yubikey"\} 0/);
  });

  test('the token operation hook feeds a latency histogram', async () => {
    const services = fakeServices();
    const registry = new Registry();
    const app = createApp({ services, logger: captureLogger().logger, metrics: registry });
    const observe = tokenOperationObserver(registry);
    observe({ token: 'softhsm', operation: 'sign', outcome: 'ok', seconds: 0.002 });
    tokenOperationObserver(registry)({
      token: 'softhsm',
      operation: 'sign',
      outcome: 'TOKEN_TIMEOUT',
      seconds: 30,
    });
    const text = (await request(app.callback()).get('/metrics')).text;
    expect(text).toMatch(
      /notary_hsmd_token_operation_duration_seconds_count\{token="softhsm",operation="sign",outcome="ok"\} 1/,
    );
    expect(text).toMatch(/outcome="TOKEN_TIMEOUT"\} 1/);
  });

  test('loopback peers', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', undefined]) {
      expect(isLocalPeer(a)).toBe(true);
    }
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '::', '0.0.0.0', '128.0.0.1', 'fe80::1']) {
      expect(isLocalPeer(a)).toBe(false);
    }
  });

  test('is refused to a peer that is not on loopback', async () => {
    const { app } = setup();
    const handler = app.callback();
    const server = createServer((req, res) => void handler(req, res));
    server.on('connection', (socket) => {
      Object.defineProperty(socket, 'remoteAddress', { value: '203.0.113.9' });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await request(server).get('/metrics');
      expectError(res, 403, 'FORBIDDEN');
      expect((await request(server).get('/healthz')).status).toBe(200);
    } finally {
      await closeServer(server);
    }
  });
});

describe('access log', () => {
  test('one JSON line per request, without the bearer token, PIN or body', async () => {
    const { agent, lines } = setup();
    const marker = 'BODY-MARKER-6d1f';
    await agent
      .post('/v1/sign/root')
      .set('Authorization', AUTH)
      .set('X-Request-Id', 'log-1')
      .send({ gun: 'g', signed: { ...SIGNED, marker }, pin: PIN });
    await agent
      .post('/v1/certificates/root')
      .set('Authorization', AUTH)
      .send({ gun: 'g', key: 'root1', pin: PIN, extra: marker });
    await agent.get('/v1/tokens').set('Authorization', `Bearer ${BEARER}-wrong`);
    await waitFor(() => lines.filter((l) => l.includes('"http_request"')).length === 3);
    const all = lines.join('\n');
    expect(all).not.toContain(BEARER);
    expect(all).not.toContain(PIN);
    expect(all).not.toContain(marker);
    expect(all).not.toContain('Targets');
    const first = JSON.parse(lines.find((l) => l.includes('"log-1"')) ?? '{}') as Record<
      string,
      unknown
    >;
    expect(first).toMatchObject({
      method: 'POST',
      path: '/v1/sign/root',
      status: 200,
      requestId: DAEMON_ID,
      clientRequestId: 'log-1',
      client: 'ci-build',
    });
    expect(typeof first.ms).toBe('number');
  });
});

describe('OpenAPI document', () => {
  const routes: [string, string][] = [
    ['get', '/healthz'],
    ['get', '/readyz'],
    ['get', '/metrics'],
    ['get', '/openapi.json'],
    ['get', '/v1/tokens'],
    ['get', '/v1/keys'],
    ['get', '/v1/keys/touch'],
    ['post', '/v1/keys'],
    ['post', '/v1/certificates/root'],
    ['post', '/v1/sign/root'],
    ['post', '/v1/sign/targets'],
    ['post', '/v1/sign/delegation'],
    ['post', '/v1/repositories/reset'],
  ];

  test('describes every route, and only those', async () => {
    const paths = OPENAPI.paths as Record<string, Record<string, unknown>>;
    const described = Object.entries(paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(described.sort()).toEqual(routes.map(([m, p]) => `${m} ${p}`).sort());
    // …and every described route exists (no 404/405 for it).
    const { agent } = setup();
    for (const [m, p] of routes) {
      const res = await (m === 'get' ? agent.get(p) : agent.post(p));
      expect([404, 405]).not.toContain(res.status);
    }
  });

  test('request schemas list exactly the fields the validators accept', async () => {
    const schemas = OPENAPI.components.schemas;
    const bodies: [string, keyof typeof schemas, Record<string, unknown>][] = [
      ['/v1/keys', 'GenerateKeyRequest', { token: 't', label: 'l', id: '01', role: 'root' }],
      ['/v1/certificates/root', 'RootCertificateRequest', { gun: 'g', key: 'k', pin: '1' }],
      ['/v1/sign/root', 'SignRootRequest', { gun: 'g', signed: {}, keys: ['k'], pin: '1' }],
      ['/v1/sign/targets', 'SignTargetsRequest', { gun: 'g', signed: {}, keys: ['k'] }],
      [
        '/v1/sign/delegation',
        'SignDelegationRequest',
        { gun: 'g', role: 'targets/x', signed: {}, keys: ['k'] },
      ],
      ['/v1/repositories/reset', 'ResetRepositoryRequest', { gun: 'g' }],
    ];
    const { agent } = setup();
    for (const [path, name, full] of bodies) {
      const schema = schemas[name] as { properties: object; required: readonly string[] };
      expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(full).sort());
      const res = await agent.post(path).set('Authorization', AUTH).send(full);
      expect(res.status).toBeLessThan(300);
      for (const field of schema.required) {
        const missing = Object.fromEntries(Object.entries(full).filter(([k]) => k !== field));
        const refused = await agent.post(path).set('Authorization', AUTH).send(missing);
        expect(refused.status).toBe(400);
      }
    }
  });
});
