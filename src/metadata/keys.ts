/**
 * TUF public keys as Notary v1 writes them, and their key IDs. A key ID is the hex
 * SHA-256 of the canonical `{"keytype":T,"keyval":{"private":null,"public":B64}}`. Root
 * keys are x509 certificates (`ecdsa-x509`), so a root key has two IDs: the certificate
 * ID used in root.json, signatures and trust pinning, and the canonical ID of the bare
 * public key (`canonicalId`) that key lists and private-key file names use.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import { canonicalJson } from './canonical';
import { asBase64, asObject, asString, at } from './fields';
import type { JsonObject, JsonValue } from './json';
import { certificatesFromPem, goPem } from './pem';

/** Key types Notary defines. Others are carried through but verify nothing. */
export const KEY_TYPES = ['ecdsa', 'ecdsa-x509', 'ed25519', 'rsa', 'rsa-x509'] as const;
export type KnownKeyType = (typeof KEY_TYPES)[number];

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A public key in a role's key list. Immutable; derived values are computed once. */
export class TufKey {
  readonly keytype: string;
  /** Decoded `keyval.public`: SPKI DER, raw Ed25519 bytes, or PEM text bytes for x509 types. */
  readonly public: Buffer;
  private cachedId?: string;
  private cachedKey?: KeyObject;
  private cachedCert?: X509Certificate;

  constructor(keytype: string, publicBytes: Uint8Array) {
    this.keytype = keytype;
    this.public = Buffer.from(publicBytes);
  }

  /** A bare `ecdsa` key from SPKI DER. */
  static ecdsa(spki: Uint8Array): TufKey {
    return new TufKey('ecdsa', spki);
  }

  /**
   * An `ed25519` key from SPKI DER (Notary stores the raw 32 bytes).
   * throws: KEY_INVALID (not an Ed25519 SPKI)
   */
  static ed25519(spki: Uint8Array): TufKey {
    let jwk: JsonWebKey;
    try {
      jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({
        format: 'jwk',
      });
    } catch (cause) {
      throw new NotaryHsmError('KEY_INVALID', 'not a DER SubjectPublicKeyInfo', { cause });
    }
    // An EC key's JWK has an `x` too: without this check it would become a bogus key.
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.x === undefined) {
      throw new NotaryHsmError('KEY_INVALID', 'not an Ed25519 public key');
    }
    return new TufKey('ed25519', Buffer.from(jwk.x, 'base64url'));
  }

  /** An `ecdsa-x509` key wrapping a certificate (DER) in Go-exact PEM. */
  static ecdsaX509(certDer: Uint8Array): TufKey {
    return new TufKey('ecdsa-x509', Buffer.from(goPem('CERTIFICATE', certDer), 'utf8'));
  }

  /**
   * Parses `{"keytype","keyval":{"private":null,"public"}}`.
   * throws: FIELD_*, BASE64_INVALID
   */
  static fromJson(v: JsonValue | undefined, path: string): TufKey {
    const o = asObject(v, path, ['keytype', 'keyval']);
    const keytype = asString(o.keytype, at(path, 'keytype'));
    const kv = asObject(o.keyval, at(path, 'keyval'), ['private', 'public']);
    if (kv.private !== null) {
      throw new NotaryHsmError(
        'FIELD_VALUE',
        `${at(at(path, 'keyval'), 'private')}: must be null`,
        {
          details: { path: at(at(path, 'keyval'), 'private') },
        },
      );
    }
    return new TufKey(keytype, asBase64(kv.public, at(at(path, 'keyval'), 'public')));
  }

  toJson(): JsonObject {
    return {
      keytype: this.keytype,
      keyval: { private: null, public: this.public.toString('base64') },
    };
  }

  /** The key ID (for x509 types: the certificate ID). */
  get id(): string {
    this.cachedId ??= sha256Hex(canonicalJson(this.toJson()));
    return this.cachedId;
  }

  get isX509(): boolean {
    return this.keytype === 'ecdsa-x509' || this.keytype === 'rsa-x509';
  }

  /** The leaf certificate of an x509 key. throws: KEY_INVALID */
  certificate(): X509Certificate {
    if (!this.isX509)
      throw new NotaryHsmError('KEY_INVALID', `a ${this.keytype} key has no certificate`);
    if (!this.cachedCert) {
      const leaf = certificatesFromPem(this.public.toString('utf8'))[0] as Buffer;
      try {
        this.cachedCert = new X509Certificate(leaf);
      } catch (cause) {
        throw new NotaryHsmError('KEY_INVALID', 'x509 key does not hold a valid certificate', {
          cause,
        });
      }
    }
    return this.cachedCert;
  }

  /**
   * The ID of the bare public key: equal to `id` except for x509 types, where it is the
   * ID of the leaf certificate's key as `ecdsa`/`rsa` SPKI.
   */
  get canonicalId(): string {
    if (!this.isX509) return this.id;
    const spki = this.publicKey().export({ format: 'der', type: 'spki' });
    return new TufKey(this.keytype.replace('-x509', ''), spki).id;
  }

  /**
   * The key as a Node KeyObject, for verification.
   * throws: KEY_UNSUPPORTED, KEY_INVALID
   */
  publicKey(): KeyObject {
    if (this.cachedKey) return this.cachedKey;
    let key: KeyObject;
    try {
      switch (this.keytype) {
        case 'ecdsa':
        case 'rsa':
          key = createPublicKey({ key: this.public, format: 'der', type: 'spki' });
          break;
        case 'ed25519':
          if (this.public.length !== 32) throw new Error('an Ed25519 key is 32 bytes');
          key = createPublicKey({
            key: { kty: 'OKP', crv: 'Ed25519', x: this.public.toString('base64url') },
            format: 'jwk',
          });
          break;
        case 'ecdsa-x509':
        case 'rsa-x509':
          key = this.certificate().publicKey;
          break;
        default:
          throw new NotaryHsmError(
            'KEY_UNSUPPORTED',
            `key type ${JSON.stringify(this.keytype)} is not supported`,
          );
      }
    } catch (cause) {
      if (cause instanceof NotaryHsmError) throw cause;
      throw new NotaryHsmError('KEY_INVALID', `${this.keytype} key ${this.id} does not decode`, {
        cause,
      });
    }
    const expected = this.keytype.startsWith('rsa')
      ? 'rsa'
      : this.keytype === 'ed25519'
        ? 'ed25519'
        : 'ec';
    if (key.asymmetricKeyType !== expected) {
      throw new NotaryHsmError(
        'KEY_INVALID',
        `${this.keytype} key ${this.id} holds a ${key.asymmetricKeyType} key`,
      );
    }
    this.cachedKey = key;
    return key;
  }
}

/**
 * A key's bare ID, as notary-hsmd lists its keys: for a certificate, the ID of the key it
 * carries. A key that cannot be read is matched by its own ID (which matches no bare key).
 */
export function bareKeyId(key: TufKey): string {
  try {
    return key.canonicalId;
  } catch {
    return key.id;
  }
}
