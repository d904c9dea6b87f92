/**
 * Client authentication: a bearer token authenticates exactly the client whose
 * configured digest it hashes to; every digest is compared with timingSafeEqual on every
 * attempt, whichever client matches; missing, malformed and unknown tokens all fail
 * with UNAUTHENTICATED saying only "missing" or "invalid", never echoing the token. The
 * registry refuses bad client entries, listing every problem at once.
 */
import crypto from 'node:crypto';
import { httpStatusFor, isNotaryHsmError, type NotaryHsmError } from '../../../src/errors';
import {
  CLIENT_TOKEN_PREFIX,
  ClientRegistry,
  clientEntryFromConfig,
  hashToken,
  newClientToken,
} from '../../../src/policy/clients';

const tokens = {
  admin: newClientToken(),
  ci: newClientToken(),
  release: newClientToken(),
};

function registry(): ClientRegistry {
  return new ClientRegistry({
    clients: [
      { name: 'admin', token_sha256: hashToken(tokens.admin), scopes: [{ kind: 'admin' }] },
      {
        name: 'ci',
        token_sha256: hashToken(tokens.ci),
        scopes: [
          {
            kind: 'delegation',
            keys: ['ci-key'],
            guns: ['acme/*'],
            roles: ['targets/ci-build'],
            paths: ['v*'],
          },
        ],
      },
      {
        name: 'release',
        token_sha256: hashToken(tokens.release),
        scopes: [{ kind: 'targets', keys: ['targets-key'], guns: ['acme/api'] }],
      },
    ],
  });
}

function failure(fn: () => unknown): NotaryHsmError {
  try {
    fn();
  } catch (err) {
    if (isNotaryHsmError(err)) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('client tokens', () => {
  it('are the prefix and 32 random bytes in base64url', () => {
    const t = newClientToken();
    expect(t.startsWith(CLIENT_TOKEN_PREFIX)).toBe(true);
    const body = t.slice(CLIENT_TOKEN_PREFIX.length);
    expect(body).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(body, 'base64url')).toHaveLength(32);
    expect(new Set(Array.from({ length: 100 }, newClientToken)).size).toBe(100);
  });

  it('hash to the hex SHA-256 of their UTF-8 bytes', () => {
    expect(hashToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('ClientRegistry.authenticate', () => {
  const reg = registry();

  it('authenticates each client by its own token', () => {
    expect(reg.size).toBe(3);
    expect(reg.authenticate(`Bearer ${tokens.admin}`).name).toBe('admin');
    expect(reg.authenticate(`Bearer ${tokens.ci}`).name).toBe('ci');
    expect(reg.authenticate(`Bearer ${tokens.release}`).name).toBe('release');
    expect(reg.authenticate(`bearer ${tokens.ci}`).name).toBe('ci');
    expect(reg.authenticate(`BEARER ${tokens.ci}`).name).toBe('ci');
  });

  it('returns the configured scopes, frozen', () => {
    const ci = reg.authenticate(`Bearer ${tokens.ci}`);
    expect(ci.scopes).toEqual([
      {
        kind: 'delegation',
        keys: ['ci-key'],
        guns: ['acme/*'],
        roles: ['targets/ci-build'],
        paths: ['v*'],
      },
    ]);
    expect(Object.isFrozen(ci)).toBe(true);
    expect(Object.isFrozen(ci.scopes)).toBe(true);
    expect(Object.isFrozen(ci.scopes[0])).toBe(true);
  });

  it('says "missing" without a header', () => {
    for (const header of [undefined, '', '   ']) {
      const err = failure(() => reg.authenticate(header));
      expect(err.code).toBe('UNAUTHENTICATED');
      expect(err.message).toBe('missing bearer token');
      expect(httpStatusFor(err.code)).toBe(401);
    }
  });

  const secret = tokens.ci;
  const invalid: readonly [string, string][] = [
    ['wrong token', `Bearer ${newClientToken()}`],
    [
      'token with one character changed',
      `Bearer ${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`,
    ],
    ['token prefix only', `Bearer ${secret.slice(0, 20)}`],
    ['token plus a character', `Bearer ${secret}x`],
    ['Basic scheme', `Basic ${Buffer.from(`ci:${secret}`).toString('base64')}`],
    ['Basic scheme with the token', `Basic ${secret}`],
    ['token without scheme', secret],
    ['empty bearer', 'Bearer '],
    ['bearer alone', 'Bearer'],
    ['two spaces', `Bearer  ${secret}`],
    ['tab', `Bearer\t${secret}`],
    ['trailing space', `Bearer ${secret} `],
    ['leading space', ` Bearer ${secret}`],
    ['two tokens', `Bearer ${secret} ${secret}`],
    ['comma list', `Bearer ${secret}, Bearer ${secret}`],
    ['quoted token', `Bearer "${secret}"`],
    ['newline', `Bearer ${secret}\n`],
    ['NUL', `Bearer ${secret}\u0000`],
    ['unicode token', `Bearer ${secret}\u00e9`],
    ['fullwidth letter', `Bearer ${secret.replace(/[a-z]/, '\uff41')}`],
    ["another client's token hashed", `Bearer ${hashToken(secret)}`],
    ['the hash of the admin token', `Bearer ${hashToken(tokens.admin)}`],
    ['the hash, upper case', `Bearer ${hashToken(secret).toUpperCase()}`],
    ['a huge header', `Bearer ${'A'.repeat(100_000)}`],
    ['Bearer in another word', `Bearerx ${secret}`],
    ['Token scheme', `Token ${secret}`],
  ];

  it.each(invalid)('says "invalid" for %s, without echoing it', (_what, header) => {
    const err = failure(() => reg.authenticate(header));
    expect(err.code).toBe('UNAUTHENTICATED');
    expect(err.message).toBe('invalid bearer token');
    expect(err.details).toEqual({ reason: 'invalid' });
    const told = `${err.message} ${JSON.stringify(err.details)} ${err.stack ?? ''}`;
    expect(told).not.toContain(secret);
    expect(told).not.toContain(secret.slice(CLIENT_TOKEN_PREFIX.length, 20));
    expect(told).not.toContain(hashToken(secret));
  });

  it('compares the digest with every client, whichever matches, with timingSafeEqual', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      for (const header of [
        `Bearer ${tokens.admin}`, // first client
        `Bearer ${tokens.ci}`,
        `Bearer ${tokens.release}`, // last client
        `Bearer ${newClientToken()}`, // nobody's
      ]) {
        spy.mockClear();
        try {
          reg.authenticate(header);
        } catch {
          // the unknown token fails; the count below is what matters
        }
        expect(spy).toHaveBeenCalledTimes(3);
        for (const call of spy.mock.calls) {
          expect(call[0]).toHaveLength(32);
          expect(call[1]).toHaveLength(32);
        }
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('works with no clients at all (everyone is refused)', () => {
    const empty = new ClientRegistry({ clients: [] });
    expect(() => empty.authenticate(`Bearer ${tokens.ci}`)).toThrowWithCode('UNAUTHENTICATED');
  });

  it('accepts tokens that are not its own format when a digest matches', () => {
    const reg2 = new ClientRegistry({
      clients: [{ name: 'legacy', token_sha256: hashToken('abc.DEF-123_~+/=='), scopes: [] }],
    });
    expect(reg2.authenticate('Bearer abc.DEF-123_~+/==').name).toBe('legacy');
  });
});

describe('ClientRegistry configuration', () => {
  function problems(clients: unknown[]): string[] {
    const err = failure(() => new ClientRegistry({ clients }));
    expect(err.code).toBe('CONFIG_INVALID');
    return (err.details as { problems: string[] }).problems;
  }
  const h = hashToken('x');

  it('refuses every problem at once', () => {
    const found = problems([
      { name: 'ci', token_sha256: 'ABC', scopes: [] },
      { name: 'Bad Name', token_sha256: h, scopes: [] },
      {
        name: 'ci2',
        token_sha256: h,
        scopes: [
          { kind: 'root', keys: ['k'], guns: ['Acme/*'] },
          { kind: 'targets', keys: ['k'], guns: ['acme/**'] },
          {
            kind: 'delegation',
            keys: ['k'],
            guns: ['acme/*'],
            roles: ['targets/CI', 'targets'],
            paths: ['***', ''],
          },
          { kind: 'superuser' },
          { kind: 'admin', keys: [] },
        ],
        token: 'plaintext',
      },
    ]);
    expect(found.length).toBeGreaterThanOrEqual(10);
    const text = found.join('\n');
    for (const part of [
      'token_sha256',
      'name',
      'GUN pattern',
      'role',
      'target pattern',
      'scopes.3',
      'scopes.4',
      'token',
    ]) {
      expect(text).toContain(part);
    }
  });

  it('refuses duplicate names and shared tokens', () => {
    const found = problems([
      { name: 'a', token_sha256: h, scopes: [] },
      { name: 'a', token_sha256: hashToken('y'), scopes: [] },
      { name: 'b', token_sha256: h, scopes: [] },
    ]);
    expect(found).toEqual(['clients: a is defined twice', 'clients: a, b share one token']);
  });

  it('turns a configuration-file entry (admin, sign) into scopes', () => {
    const entry = clientEntryFromConfig({
      name: 'ops',
      token_sha256: h,
      admin: true,
      sign: [{ kind: 'root', keys: ['root-key'], guns: ['acme/*'] }],
    });
    expect(entry.scopes).toEqual([
      { kind: 'admin' },
      { kind: 'root', keys: ['root-key'], guns: ['acme/*'] },
    ]);
    const reg = new ClientRegistry({ clients: [entry] });
    expect(reg.authenticate('Bearer x').scopes).toHaveLength(2);
    expect(clientEntryFromConfig({ name: 'none', token_sha256: h }).scopes).toEqual([]);
  });
});
