/** PKCS#11 URIs (RFC 7512): the attributes we use, percent-decoding, and what we refuse. */
import { keyRefFromUri, parsePkcs11Uri } from '../../../src/pkcs11/uri';

describe('parsePkcs11Uri', () => {
  it('reads token, serial, object, id (as hex) and type', () => {
    expect(
      parsePkcs11Uri('pkcs11:token=ci%20token;serial=4e0d;object=deleg;id=%01%a0;type=private'),
    ).toEqual({
      token: 'ci token',
      serial: '4e0d',
      object: 'deleg',
      id: '01a0',
      type: 'private',
    });
  });

  it('decodes UTF-8 escapes and keeps module-path from the query', () => {
    expect(parsePkcs11Uri('pkcs11:object=cl%C3%A9?module-path=/usr/lib/x.so')).toEqual({
      object: 'clé',
      modulePath: '/usr/lib/x.so',
    });
  });

  it.each([
    ['not a pkcs11 URI', 'https:object=x'],
    ['an unknown attribute', 'pkcs11:colour=red'],
    ['an attribute twice', 'pkcs11:object=a;object=b'],
    ['a malformed escape', 'pkcs11:id=%0g'],
    ['an attribute without value', 'pkcs11:object'],
    ['an unknown type', 'pkcs11:object=a;type=key'],
    ['an unsupported query attribute', 'pkcs11:object=a?foo=bar'],
  ])('refuses %s', (_what, uri) => {
    expect(() => parsePkcs11Uri(uri)).toThrowWithCode('URI_INVALID');
  });

  it('refuses an inline PIN without echoing it', () => {
    let message = '';
    try {
      parsePkcs11Uri('pkcs11:object=a?pin-value=987123');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/never given in a URI/);
    expect(message).not.toContain('987123');
  });
});

describe('keyRefFromUri', () => {
  it('gives the key reference and the token selector', () => {
    expect(keyRefFromUri('pkcs11:token=ci;object=deleg;id=%02;type=private')).toEqual({
      key: { label: 'deleg', id: '02' },
      token: { label: 'ci' },
    });
  });

  it('needs an object or id, and a private key type', () => {
    expect(() => keyRefFromUri('pkcs11:token=ci')).toThrowWithCode('URI_INVALID');
    expect(() => keyRefFromUri('pkcs11:object=a;type=public')).toThrowWithCode('URI_INVALID');
  });
});
