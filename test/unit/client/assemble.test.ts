/**
 * A file assembled from daemon signatures (client/signing.ts `assemble`) is built from
 * one canonical encoding of the model. Proves it is byte for byte the file the
 * serialiser writes, that a reader parsing it gets back the same model and the message
 * the signatures cover, with target names that Go escapes in files (`<`, `>`, `&`,
 * U+2028), a `__proto__` target and characters outside the BMP; and that signatures not
 * meeting the requirement are refused.
 */
import { assemble } from '../../../src/client/signing';
import { canonicalBytes } from '../../../src/metadata/canonical';
import { FileMeta } from '../../../src/metadata/file-meta';
import { TufKey } from '../../../src/metadata/keys';
import { parseMetadata, serialize, type Signature } from '../../../src/metadata/signed';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import type { Requirement } from '../../../src/metadata/verify';
import { MemorySigner } from '../../helpers/memory-signer';

const NAMES = ['v1', 'a<b>&c', 'line\u2028sep', '__proto__', 'tag-😀', 'é'];

function model(): Targets {
  return new Targets({
    expires: GoTime.parse('2030-01-01T00:00:00Z'),
    version: 7,
    targets: new Map(
      NAMES.map((n, i) => [n, FileMeta.sha256(Buffer.alloc(32, i + 1), 100 + i)] as const),
    ),
  });
}

async function signatureOf(signer: MemorySigner, signed: Targets): Promise<Signature> {
  const key = TufKey.ecdsa(signer.publicKeySpki);
  const sig = Buffer.from(await signer.sign(canonicalBytes(signed.toJson())));
  return { keyid: key.id, method: 'ecdsa', sig };
}

describe('assemble', () => {
  it('writes the serialiser’s bytes, and a reader gets the same model and message back', async () => {
    const signer = new MemorySigner();
    const signed = model();
    const sig = await signatureOf(signer, signed);
    const req: Requirement = {
      role: 'targets/ci',
      keys: [TufKey.ecdsa(signer.publicKeySpki)],
      threshold: 1,
    };
    const file = assemble('targets/ci', signed, [sig], [req]);

    expect(file.bytes.equals(serialize(signed, [sig]))).toBe(true);
    expect(file.bytes.toString('utf8')).toContain('a\\u003cb\\u003e\\u0026c');
    const back = parseMetadata('targets/ci', file.bytes);
    expect(back.message.equals(file.message)).toBe(true);
    expect(back.message.equals(canonicalBytes(signed.toJson()))).toBe(true);
    expect([...back.signed.targets.keys()].sort()).toEqual([...NAMES].sort());
    expect(serialize(back.signed, back.signatures).equals(file.bytes)).toBe(true);
  });

  it('refuses signatures that do not meet the requirement', async () => {
    const signed = model();
    const sig = await signatureOf(new MemorySigner(), signed);
    const other = new MemorySigner();
    const req: Requirement = {
      role: 'targets/ci',
      keys: [TufKey.ecdsa(other.publicKeySpki)],
      threshold: 1,
    };
    expect(() => assemble('targets/ci', signed, [sig], [req])).toThrowWithCode('THRESHOLD_NOT_MET');
  });
});
