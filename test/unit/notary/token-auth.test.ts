/**
 * The pieces of registry token auth that need no server: reading NOTARY_AUTH (and never
 * quoting it when it is malformed), parsing `WWW-Authenticate: Bearer …` challenges as
 * registries write them, and refusing to send basic credentials in clear to a realm off
 * loopback — before any connection is made.
 */
import { HttpTransport } from '../../../src/notary/http';
import {
  credentialsFromNotaryAuth,
  parseBearerChallenge,
  RegistryTokenAuth,
} from '../../../src/notary/token-auth';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('NOTARY_AUTH', () => {
  it('is base64 of user:password; the password may hold colons', () => {
    expect(credentialsFromNotaryAuth(b64('robot:pa:ss'))).toEqual({
      username: 'robot',
      password: 'pa:ss',
    });
    expect(credentialsFromNotaryAuth(undefined)).toBeUndefined();
    expect(credentialsFromNotaryAuth('  ')).toBeUndefined();
  });

  it.each([['not base64!'], [b64('no-colon')], [b64(':no-user')]])(
    '%s is a usage error that does not quote the value',
    (value) => {
      let message = '';
      try {
        credentialsFromNotaryAuth(value);
      } catch (err) {
        expect(err).toMatchObject({ code: 'USAGE' });
        message = (err as Error).message;
      }
      expect(message).toMatch(/NOTARY_AUTH/);
      expect(message).not.toContain(value);
    },
  );
});

describe('Bearer challenges', () => {
  it('reads realm, service and scope, quoted or not, with commas inside quotes', () => {
    expect(
      parseBearerChallenge(
        'Bearer realm="https://auth.test/token",service="registry",scope="repository:a/b:pull,push"',
      ),
    ).toEqual({
      realm: 'https://auth.test/token',
      service: 'registry',
      scope: 'repository:a/b:pull,push',
    });
    expect(parseBearerChallenge('bearer realm=http://127.0.0.1:1/t, service=s')).toEqual({
      realm: 'http://127.0.0.1:1/t',
      service: 's',
    });
  });

  it('ignores Basic challenges and Bearer challenges without a realm', () => {
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseBearerChallenge('Bearer service="x"')).toBeUndefined();
    expect(parseBearerChallenge(undefined)).toBeUndefined();
    expect(parseBearerChallenge(['Basic realm="x"', 'Bearer realm="https://a.test/t"'])).toEqual({
      realm: 'https://a.test/t',
    });
  });
});

describe('where credentials go', () => {
  it('never in clear to a realm off loopback: SERVER_AUTH before any connection', async () => {
    const transport = new HttpTransport({ timeoutMs: 1000 });
    const request = jest.spyOn(transport, 'request');
    const auth = new RegistryTokenAuth(transport, {
      credentials: { username: 'u', password: 'secret-pw' },
    });
    // 192.0.2.0/24 is TEST-NET-1; nothing is sent there
    const answer = auth.answer('k', 'Bearer realm="http://192.0.2.1/token",service="s"', undefined);
    await expect(answer).rejects.toMatchObject({ code: 'SERVER_AUTH' });
    await expect(answer).rejects.toThrow(/only over https/);
    expect(request).not.toHaveBeenCalled();
    transport.close();
  });
});
