/**
 * Golden tests over every file the real notary 0.7.0 server and CLI produced: parsing
 * then serialising gives the identical bytes, every signature verifies with the keys its
 * parent names, every key ID recomputes, and every pin (snapshot → files, timestamp →
 * snapshot) matches the exact bytes.
 */
import { parseJson } from '../../../src/metadata/json';
import { TufKey } from '../../../src/metadata/keys';
import { parseMetadata, serialize } from '../../../src/metadata/signed';
import { verifyThreshold } from '../../../src/metadata/verify';
import { canonicalJson } from '../../../src/metadata/canonical';
import { sha256Hex } from '../../../src/metadata/keys';
import { flipByte, ROLES, STAGES, vector, VECTORS_DIR } from '../../helpers/vectors';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

describe.each(STAGES)('reference metadata %s', (stage) => {
  const root = parseMetadata('root', vector(stage, 'root'));
  const targets = parseMetadata('targets', vector(stage, 'targets'));
  const snapshot = parseMetadata('snapshot', vector(stage, 'snapshot'));
  const timestamp = parseMetadata('timestamp', vector(stage, 'timestamp'));

  it.each(ROLES)('%s re-serialises to the identical bytes', (role) => {
    const bytes = vector(stage, role);
    const parsed = parseMetadata(role, bytes);
    const again = serialize(parsed.signed, parsed.signatures);
    expect(again.toString('utf8')).toBe(bytes.toString('utf8'));
    expect(again.equals(bytes)).toBe(true);
  });

  it.each(ROLES)('%s: the signed message is the canonical form of the file', (role) => {
    const parsed = parseMetadata(role, vector(stage, role));
    expect(parsed.message.toString('utf8')).toBe(canonicalJson(parsed.signed.toJson()));
  });

  it('root, targets, snapshot and timestamp signatures meet their root thresholds', () => {
    const r = root.signed;
    for (const [role, file] of [
      ['root', root],
      ['targets', targets],
      ['snapshot', snapshot],
      ['timestamp', timestamp],
    ] as const) {
      const req = { role, keys: r.roleKeys(role), threshold: r.role(role).threshold };
      expect(verifyThreshold(file.message, file.signatures, req)).toHaveLength(1);
    }
  });

  it.each(['targets/releases', 'targets/ci'])(
    '%s verifies with the keys targets delegates to it',
    (role) => {
      const file = parseMetadata(role, vector(stage, role));
      const delegated = targets.signed.delegationRoles.find((d) => d.name === role);
      expect(delegated).toBeDefined();
      const req = {
        role,
        keys: targets.signed.keysOf(delegated!),
        threshold: delegated!.threshold,
      };
      expect(verifyThreshold(file.message, file.signatures, req)).toEqual(delegated!.keyIds);
    },
  );

  it("a signature does not verify over other bytes or with another role's keys", () => {
    const tampered = Buffer.from(targets.message);
    flipByte(tampered, tampered.length - 2);
    const req = { role: 'targets', keys: root.signed.roleKeys('targets'), threshold: 1 };
    expect(() => verifyThreshold(tampered, targets.signatures, req)).toThrowWithCode(
      'THRESHOLD_NOT_MET',
    );
    const wrong = { role: 'targets', keys: root.signed.roleKeys('snapshot'), threshold: 1 };
    expect(() => verifyThreshold(targets.message, targets.signatures, wrong)).toThrowWithCode(
      'THRESHOLD_NOT_MET',
    );
  });

  it('every key ID recomputes from its key', () => {
    const maps = [root.signed.keys, targets.signed.delegationKeys];
    let n = 0;
    for (const keys of maps) {
      for (const [id, key] of keys) {
        const recomputed = sha256Hex(
          canonicalJson({
            keytype: key.keytype,
            keyval: { private: null, public: key.public.toString('base64') },
          }),
        );
        expect(recomputed).toBe(id);
        expect(key.id).toBe(id);
        n++;
      }
    }
    expect(n).toBeGreaterThanOrEqual(6);
  });

  it('snapshot pins the exact bytes of root, targets and every delegation; timestamp pins snapshot', () => {
    const pins = snapshot.signed.meta;
    for (const role of ['root', 'targets', 'targets/releases', 'targets/ci']) {
      expect(() => pins.get(role)!.check(vector(stage, role), role)).not.toThrow();
    }
    expect(() =>
      timestamp.signed.snapshotMeta.check(vector(stage, 'snapshot'), 'snapshot'),
    ).not.toThrow();
    const other = Buffer.concat([vector(stage, 'root'), Buffer.from(' ')]);
    expect(() => pins.get('root')!.check(other, 'root')).toThrowWithCode('LENGTH_MISMATCH');
    const flipped = Buffer.from(vector(stage, 'root'));
    flipByte(flipped, 10);
    expect(() => pins.get('root')!.check(flipped, 'root')).toThrowWithCode('HASH_MISMATCH');
  });
});

describe('server key files', () => {
  it.each(['snapshot', 'timestamp'])(
    '%s.key (stdlib field order) yields the key ID that root lists for the role',
    (role) => {
      const text = readFileSync(join(VECTORS_DIR, 'final', `${role}.key.json`));
      const key = TufKey.fromJson(parseJson(text), `/${role}.key`);
      const root = parseMetadata('root', vector('final', 'root')).signed;
      expect(root.role(role as 'snapshot' | 'timestamp').keyIds).toEqual([key.id]);
    },
  );
});

describe('root key IDs', () => {
  it('the certificate ID is listed in root; the canonical ID is that of the bare public key', () => {
    const root = parseMetadata('root', vector('final', 'root')).signed;
    const [certKey] = root.roleKeys('root');
    expect(certKey!.keytype).toBe('ecdsa-x509');
    const spki = certKey!.publicKey().export({ format: 'der', type: 'spki' });
    const bare = TufKey.ecdsa(spki);
    expect(certKey!.canonicalId).toBe(bare.id);
    expect(certKey!.canonicalId).not.toBe(certKey!.id);
  });
});
