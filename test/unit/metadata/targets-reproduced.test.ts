/**
 * Targets.reproducedBy(v) answers "does the model write back exactly v?" without writing
 * its targets: the daemon's guard relies on it to sign a 10,000-target request without
 * re-building it. It must agree with jsonEqual(model.toJson(), v) on every document the
 * parser accepts, including those the model would write differently.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { isJsonObject, jsonEqual, parseJson, type JsonObject } from '../../../src/metadata/json';
import { Targets } from '../../../src/metadata/targets';

const b64 = (s: string, alg = 'sha256'): string => createHash(alg).update(s).digest('base64');

function base(): JsonObject {
  return {
    _type: 'Targets',
    delegations: { keys: {}, roles: [] },
    expires: '2030-01-01T00:00:00Z',
    targets: {
      v1: { hashes: { sha256: b64('1') }, length: 1 },
      v2: { hashes: { sha256: b64('2'), sha512: b64('2', 'sha512') }, length: 2 },
      v3: { custom: { note: ['a', 1] }, hashes: { sha256: b64('3') }, length: 3 },
      v4: { hashes: { md5: 'AAAAAAAAAAAAAAAAAAAAAA==' }, length: 4 },
    },
    version: 3,
  };
}

type Edit = [string, (d: JsonObject) => void];
const targetsOf = (d: JsonObject): JsonObject => d.targets as JsonObject;
const EDITS: Edit[] = [
  ['nothing', () => undefined],
  [
    'members in another order',
    (d) => {
      const t = targetsOf(d);
      d.targets = Object.fromEntries(Object.entries(t).reverse());
    },
  ],
  ['expires with a zone offset', (d) => (d.expires = '2030-01-01T02:00:00+02:00')],
  ['expires with trailing zero nanoseconds', (d) => (d.expires = '2030-01-01T00:00:00.500Z')],
  ['delegations with null roles', (d) => (d.delegations = { keys: {}, roles: null })],
  ['delegations with null keys', (d) => (d.delegations = { keys: null, roles: [] })],
  ['a target added', (d) => (targetsOf(d).v5 = { hashes: { sha256: b64('5') }, length: 5 })],
  ['no targets', (d) => (d.targets = {})],
  [
    'custom data changed in place',
    (d) => {
      ((targetsOf(d).v3 as JsonObject).custom as JsonObject).note = ['a', 2];
    },
  ],
  [
    'a target named __proto__',
    (d) => {
      Object.defineProperty(targetsOf(d), '__proto__', {
        value: { hashes: { sha256: b64('p') }, length: 0 },
        enumerable: true,
        writable: true,
        configurable: true,
      });
    },
  ],
];

describe('Targets.reproducedBy agrees with writing the model and comparing', () => {
  it.each(EDITS)('%s', (_what, edit) => {
    const doc = base();
    edit(doc);
    const model = Targets.fromJson(doc, 'targets/ci');
    expect(model.reproducedBy(doc)).toBe(jsonEqual(model.toJson(), doc));
  });

  it('is true for a document the model writes back, false once the document differs', () => {
    const doc = base();
    const model = Targets.fromJson(doc, 'targets/ci');
    expect(model.reproducedBy(doc)).toBe(true);
    const differ: ((d: JsonObject) => void)[] = [
      (d) => ((targetsOf(d).v1 as JsonObject).length = 9),
      (d) => (((targetsOf(d).v1 as JsonObject).hashes as JsonObject).sha256 = b64('x')),
      (d) => (((targetsOf(d).v1 as JsonObject).hashes as JsonObject).sha512 = b64('1', 'sha512')),
      (d) => delete ((targetsOf(d).v2 as JsonObject).hashes as JsonObject).sha512,
      (d) => ((targetsOf(d).v1 as JsonObject).custom = 1),
      (d) => delete (targetsOf(d).v3 as JsonObject).custom,
      (d) => (((targetsOf(d).v3 as JsonObject).custom as JsonObject).note = 'x'),
      (d) => delete targetsOf(d).v4,
      (d) => (targetsOf(d).v9 = targetsOf(d).v1 as JsonObject),
      (d) => (d.version = 4),
      (d) => (d.expires = '2030-01-01T00:00:01Z'),
      (d) => (d.delegations = { keys: {}, roles: null }),
      (d) => (d.extra = 1),
      (d) => delete d.targets,
    ];
    for (const change of differ) {
      const other = base();
      change(other);
      expect(model.reproducedBy(other)).toBe(false);
      expect(jsonEqual(model.toJson(), other)).toBe(false);
    }
    expect(model.reproducedBy([])).toBe(false);
  });

  it('agrees on the files the stock notary 0.7.0 wrote', () => {
    const dir = join(__dirname, '..', '..', 'vectors');
    const files = [
      ['notary-nulls/targets-roles-null.json', 'targets'],
      ['notary-nulls/targets-keyids-null.json', 'targets'],
    ];
    for (const [file, role] of files) {
      const doc = parseJson(readFileSync(join(dir, file as string)));
      const signed = isJsonObject(doc) ? (doc.signed as JsonObject) : {};
      const model = Targets.fromJson(signed, role as string);
      expect(model.reproducedBy(signed)).toBe(true);
      expect(jsonEqual(model.toJson(), signed)).toBe(true);
    }
  });
});
