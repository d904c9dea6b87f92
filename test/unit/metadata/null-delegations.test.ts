/**
 * `null` where Go writes a nil list or map in targets metadata: `"roles":null` (the stock
 * CLI removed the last delegation), `"keyids":null` (it removed a delegation's last key)
 * and `"keys":null`. Files captured from the real notary 0.7.0 read and write back byte
 * for byte, their signatures verify, changing their targets writes what Go would, and a
 * file that does not parse is named in the error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../../src/metadata/canonical';
import { FileMeta } from '../../../src/metadata/file-meta';
import { isJsonObject, parseJson, setMember, type JsonObject } from '../../../src/metadata/json';
import { signMetadata } from '../../../src/metadata/sign';
import { parseMetadata, serialize } from '../../../src/metadata/signed';
import { Targets } from '../../../src/metadata/targets';
import { verifyThreshold } from '../../../src/metadata/verify';
import { readRepository } from '../../../src/client/reader';
import { tufKeyOf } from '../../../src/client/signing';
import { MemorySigner } from '../../helpers/memory-signer';
import { MemoryTrustServer } from '../../helpers/memory-trust-server';
import { REFERENCE_GUN, vector } from '../../helpers/vectors';

const DIR = join(__dirname, '..', '..', 'vectors', 'notary-nulls');
const file = (name: string): Buffer => readFileSync(join(DIR, `${name}.json`));
const ROLES_NULL = 'targets-roles-null';
const KEYIDS_NULL = 'targets-keyids-null';

/** The generic `signed` value of a file. */
function signedOf(bytes: Buffer): JsonObject {
  const doc = parseJson(bytes);
  if (!isJsonObject(doc) || !isJsonObject(doc.signed)) throw new Error('not a metadata file');
  return doc.signed;
}

/** `bytes` with one text replacement that must apply exactly once. */
function replaceOnce(bytes: Buffer, from: string, to: string): Buffer {
  const text = bytes.toString('utf8');
  expect(text.split(from)).toHaveLength(2);
  return Buffer.from(text.replace(from, to), 'utf8');
}

describe.each([ROLES_NULL, KEYIDS_NULL])('%s captured from notary 0.7.0', (name) => {
  const bytes = file(name);
  const root = parseMetadata('root', file('root'));

  it('re-serialises to the identical bytes', () => {
    const parsed = parseMetadata('targets', bytes);
    const again = serialize(parsed.signed, parsed.signatures);
    expect(again.toString('utf8')).toBe(bytes.toString('utf8'));
    expect(parsed.message.toString('utf8')).toBe(canonicalJson(parsed.signed.toJson()));
  });

  it("verifies with root's targets key", () => {
    const parsed = parseMetadata('targets', bytes);
    const req = {
      role: 'targets',
      keys: root.signed.roleKeys('targets'),
      threshold: root.signed.role('targets').threshold,
    };
    expect(verifyThreshold(parsed.message, parsed.signatures, req)).toHaveLength(1);
  });

  it('with other targets and version it writes what Go would: only those members change', () => {
    const parsed = parseMetadata('targets', bytes);
    const meta = FileMeta.sha256(Buffer.alloc(32, 7), 42);
    const targets = new Map(parsed.signed.targets).set('x y', meta);
    const changed = parsed.signed.with({ targets, version: parsed.signed.version + 1 });
    const expected = signedOf(bytes);
    setMember(expected.targets as JsonObject, 'x y', meta.toJson());
    expected.version = parsed.signed.version + 1;
    expect(canonicalJson(changed.toJson())).toBe(canonicalJson(expected));
  });
});

describe('the models of the captured files', () => {
  it('"roles":null: no delegations, kept as nil', () => {
    const t = parseMetadata('targets', file(ROLES_NULL)).signed;
    expect(t.delegationRoles).toEqual([]);
    expect(t.nilDelegationRoles).toBe(true);
    expect(t.nilDelegationKeys).toBe(false);
    expect(serialize(t, []).toString('utf8')).toContain('"delegations":{"keys":{},"roles":null}');
  });

  it('"keyids":null: a delegation without keys, written back as null', () => {
    const t = parseMetadata('targets', file(KEYIDS_NULL)).signed;
    expect(t.delegationRoles).toHaveLength(1);
    const ci = t.delegationRoles[0]!;
    expect(ci).toMatchObject({ name: 'targets/ci', keyIds: [], threshold: 1, paths: [] });
    expect(ci.nilKeyIds).toBe(true);
    expect(t.keysOf(ci)).toEqual([]);
    expect(serialize(t, []).toString('utf8')).toContain(
      '"roles":[{"keyids":null,"name":"targets/ci","threshold":1}]',
    );
  });

  it('"keys":null round-trips too (a nil key map)', () => {
    const bytes = replaceOnce(file(ROLES_NULL), '"keys":{}', '"keys":null');
    const parsed = parseMetadata('targets', bytes);
    expect(parsed.signed.nilDelegationKeys).toBe(true);
    expect(parsed.signed.delegationKeys.size).toBe(0);
    expect(serialize(parsed.signed, parsed.signatures).equals(bytes)).toBe(true);
  });

  it('"keys":null while a role names a key is refused', () => {
    const doc = parseJson(vector('final', 'targets')) as { signed: { delegations: JsonObject } };
    doc.signed.delegations.keys = null;
    const bytes = Buffer.from(JSON.stringify(doc), 'utf8');
    expect(() => parseMetadata('targets', bytes)).toThrowWithCode('FIELD_VALUE');
  });

  it('"paths":null is still refused: Go would drop it', () => {
    const bytes = replaceOnce(
      file(KEYIDS_NULL),
      '"name":"targets/ci",',
      '"name":"targets/ci","paths":null,',
    );
    expect(() => parseMetadata('targets', bytes)).toThrowWithCode('FIELD_TYPE');
  });

  it('a new model with nil roles and keys writes null, and the choke point signs it', async () => {
    const signer = new MemorySigner();
    const key = tufKeyOf(signer);
    const t = parseMetadata('targets', file(ROLES_NULL)).signed;
    const next = new Targets({
      expires: t.expires,
      version: 1,
      targets: new Map(),
      delegationKeys: null,
      delegationRoles: null,
    });
    const signed = await signMetadata({
      role: 'targets/x',
      signed: next,
      requirements: [{ role: 'targets/x', keys: [key], threshold: 1 }],
      signers: [signer],
    });
    expect(signed.bytes.toString('utf8')).toContain('"delegations":{"keys":null,"roles":null}');
    const back = parseMetadata('targets/x', signed.bytes);
    expect(back.signed.nilDelegationKeys && back.signed.nilDelegationRoles).toBe(true);
    // Replacing the roles ends the nil: an empty list is then written as [].
    expect(canonicalJson(next.with({ delegationRoles: [] }).toJson())).toContain('"roles":[]');
  });
});

describe('parse failures name the file', () => {
  it('parseMetadata prefixes file, role and source and keeps code and path', () => {
    const bytes = replaceOnce(file(ROLES_NULL), '"roles":null', '"roles":"x"');
    let caught: unknown;
    try {
      parseMetadata('targets', bytes, 'from the server');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({
      code: 'FIELD_TYPE',
      message:
        'targets.json (role targets) from the server: /signed/delegations/roles: expected an array, got a string',
      details: { path: '/signed/delegations/roles', file: 'targets.json', role: 'targets' },
    });
  });

  it('a delegation file says its role', () => {
    expect(() => parseMetadata('targets/ci', Buffer.from('{}'))).toThrow(
      /^targets\/ci\.json \(role targets\/ci\): \/signed: missing/,
    );
  });

  it('readRepository names the server file that does not parse', async () => {
    const root = replaceOnce(
      vector('final', 'root'),
      '"consistent_snapshot":false',
      '"consistent_snapshot":"no"',
    );
    const server = new MemoryTrustServer({ root });
    await expect(readRepository(server, REFERENCE_GUN)).rejects.toThrow(
      /^root\.json \(role root\) from the server: \/signed\/consistent_snapshot: expected a boolean/,
    );
  });
});
