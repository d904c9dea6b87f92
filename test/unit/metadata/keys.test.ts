/**
 * Key types and their signature methods: IDs for ecdsa, ed25519 and rsa keys, and
 * verification for every method Notary reads (ecdsa raw r‖s, eddsa, rsapss with a
 * 32-byte salt, rsapkcs1v15), with the mismatches Notary refuses (wrong method for the
 * key type, wrong signature length, RSA under 2048 bits, unknown key types).
 */
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { canonicalJson } from '../../../src/metadata/canonical';
import { sha256Hex, TufKey } from '../../../src/metadata/keys';
import { verifySignature } from '../../../src/metadata/verify';

const message = Buffer.from('{"_type":"Targets"}');

function spki(k: { publicKey: { export(o: { format: 'der'; type: 'spki' }): Buffer } }): Buffer {
  return k.publicKey.export({ format: 'der', type: 'spki' });
}

describe('TufKey', () => {
  it('an ecdsa key ID is the SHA-256 of its canonical JSON with private null', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = TufKey.ecdsa(spki(pair));
    const expected = sha256Hex(
      `{"keytype":"ecdsa","keyval":{"private":null,"public":"${spki(pair).toString('base64')}"}}`,
    );
    expect(key.id).toBe(expected);
    expect(canonicalJson(key.toJson())).toContain('"private":null,"public"');
  });

  it('an ed25519 key stores the raw 32 bytes and verifies eddsa signatures', () => {
    const pair = generateKeyPairSync('ed25519');
    const key = TufKey.ed25519(spki(pair));
    expect(key.public).toHaveLength(32);
    const sig = sign(null, message, pair.privateKey);
    expect(verifySignature(key, 'eddsa', message, sig)).toBe(true);
    expect(verifySignature(key, 'ecdsa', message, sig)).toBe(false);
    expect(verifySignature(key, 'eddsa', Buffer.from('other'), sig)).toBe(false);
  });

  it('ecdsa verifies raw r‖s only, of exactly 64 bytes for P-256', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = TufKey.ecdsa(spki(pair));
    const raw = sign('sha256', message, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
    const der = sign('sha256', message, pair.privateKey);
    expect(verifySignature(key, 'ecdsa', message, raw)).toBe(true);
    expect(verifySignature(key, 'ecdsa', message, der)).toBe(false);
    expect(verifySignature(key, 'ecdsa', message, raw.subarray(0, 63))).toBe(false);
    expect(verifySignature(key, 'eddsa', message, raw)).toBe(false);
  });

  it('rsa keys are read and verify rsapss (salt 32) and rsapkcs1v15 signatures', () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = new TufKey('rsa', spki(pair));
    expect(key.id).toMatch(/^[0-9a-f]{64}$/);
    const pss = sign('sha256', message, {
      key: pair.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
    const v15 = sign('sha256', message, pair.privateKey);
    expect(verifySignature(key, 'rsapss', message, pss)).toBe(true);
    expect(verifySignature(key, 'rsapkcs1v15', message, v15)).toBe(true);
    expect(verifySignature(key, 'rsapss', message, v15)).toBe(false);
  });

  it('RSA keys under 2048 bits never verify', () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const key = new TufKey('rsa', spki(pair));
    const v15 = sign('sha256', message, pair.privateKey);
    expect(verifySignature(key, 'rsapkcs1v15', message, v15)).toBe(false);
  });

  it('an unknown key type parses, has an ID, and verifies nothing', () => {
    const key = new TufKey('dsa', Buffer.from('abc'));
    expect(key.id).toMatch(/^[0-9a-f]{64}$/);
    expect(() => key.publicKey()).toThrowWithCode('KEY_UNSUPPORTED');
    expect(verifySignature(key, 'ecdsa', message, Buffer.alloc(64))).toBe(false);
  });

  it('key bytes that do not decode as their type are KEY_INVALID', () => {
    expect(() => TufKey.ecdsa(Buffer.from('not der')).publicKey()).toThrowWithCode('KEY_INVALID');
    expect(() => new TufKey('ed25519', Buffer.alloc(31)).publicKey()).toThrowWithCode(
      'KEY_INVALID',
    );
    expect(() => new TufKey('ecdsa-x509', Buffer.from('no pem')).publicKey()).toThrowWithCode(
      'KEY_INVALID',
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => TufKey.ecdsa(spki(rsa)).publicKey()).toThrowWithCode('KEY_INVALID');
  });
});
