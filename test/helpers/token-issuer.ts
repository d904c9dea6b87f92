/**
 * A small registry token service for tests, on 127.0.0.1: `GET /token?service=…&scope=…`
 * with HTTP basic auth answers `{token, access_token, expires_in, issued_at}`, the token
 * being a JWT signed ES256 with a key whose self-signed certificate (made with openssl)
 * goes into notary-server's `rootcertbundle` and into the token's `x5c` header — the
 * claims docker/distribution's token auth checks: iss, aud (the service), exp/nbf/iat, jti
 * and `access: [{type: repository, name, actions}]` granted as the scope asks. It records
 * every request it answered, so tests can count how often tokens were fetched.
 *
 * `staleIssuedAt` makes it report tokens as issued an hour ago (the JWT itself stays
 * valid), so a client that honours `issued_at + expires_in` must fetch one per request.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './tmp';

export interface TokenIssuer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file with the signing certificate, for notary-server's `rootcertbundle`. */
  readonly rootCertBundle: string;
  /** Requests answered: whether the credentials were accepted, and the scope asked. */
  readonly requests: { granted: boolean; scope: string; anonymous: boolean }[];
  staleIssuedAt: boolean;
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Grants what `repository:NAME:ACTIONS` scopes ask for (one or more, space-separated). */
function accessFor(scope: string): { type: string; name: string; actions: string[] }[] {
  return scope
    .split(' ')
    .filter((s) => s !== '')
    .map((s) => {
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      return {
        type: s.slice(0, first),
        name: s.slice(first + 1, last),
        actions: s.slice(last + 1).split(','),
      };
    });
}

export async function startTokenIssuer(opts: {
  username: string;
  password: string;
}): Promise<TokenIssuer> {
  const dir = await makeTempDir('token-issuer-');
  const keyFile = join(dir, 'issuer.key');
  const certFile = join(dir, 'issuer.crt');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '30', '-subj', '/CN=notary-hsm test token issuer', '-keyout', keyFile, '-out', certFile,
  ]); // prettier-ignore
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = new X509Certificate(await readFile(certFile)).raw;
  const service = 'notary-hsm-test-registry';
  const issuer = 'notary-hsm-test-issuer';
  const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const requests: TokenIssuer['requests'] = [];

  const state = { staleIssuedAt: false };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scope = url.searchParams.get('scope') ?? '';
    const anonymous = req.headers.authorization === undefined;
    const granted = req.headers.authorization === expected;
    requests.push({ granted, scope, anonymous });
    if (url.pathname !== '/token' || url.searchParams.get('service') !== service || !granted) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: issuer,
      sub: opts.username,
      aud: service,
      exp: now + 600,
      nbf: now - 5,
      iat: now,
      jti: randomUUID(),
      access: accessFor(scope),
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${b64url(sig)}`;
    const issuedAt = new Date((state.staleIssuedAt ? now - 3600 : now) * 1000).toISOString();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: issuedAt }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certFile,
    requests,
    get staleIssuedAt() {
      return state.staleIssuedAt;
    },
    set staleIssuedAt(v: boolean) {
      state.staleIssuedAt = v;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
