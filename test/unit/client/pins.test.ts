/**
 * Root pins and trust files: a key ID pins itself (any case), a certificate file pins its
 * certificate key ID and its canonical key ID; a trust file (YAML or JSON) is checked
 * against its schema, certificate files in it are found relative to it, and a GUN takes
 * its exact entry, else the longest `prefix*` entry it starts with.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  loadTrustFile,
  matchingPin,
  parsePin,
  pinsForGun,
  type TrustFile,
} from '../../../src/client/pins';
import { createRootCertificate } from '../../../src/metadata/certificate';
import type { TufKey } from '../../../src/metadata/keys';
import { MemorySigner } from '../../helpers/memory-signer';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'registry.example.com/acme/api';
const ID_A = 'aa'.repeat(32);
const ID_B = 'bb'.repeat(32);
const ID_C = 'cc'.repeat(32);

describe('root pins', () => {
  let cert: TufKey;
  let dir: string;
  beforeAll(async () => {
    cert = await createRootCertificate({ gun: GUN, signer: new MemorySigner() });
    dir = await makeTempDir('pins-');
    writeFileSync(join(dir, 'root.pem'), cert.public);
  });

  it('a key ID pins itself, whatever its case', () => {
    expect(parsePin(ID_A.toUpperCase())).toEqual({ source: ID_A.toUpperCase(), ids: [ID_A] });
  });

  it('a certificate file pins its certificate key ID and canonical key ID', () => {
    const pin = parsePin(join(dir, 'root.pem'));
    expect(pin.ids).toEqual(expect.arrayContaining([cert.id, cert.canonicalId]));
    expect(matchingPin(cert, [pin])).toBe(pin);
    expect(matchingPin(cert, [{ source: 'x', ids: [cert.canonicalId] }])).toBeDefined();
    expect(matchingPin(cert, [{ source: 'x', ids: [ID_A] }])).toBeUndefined();
  });

  it('anything else is a usage error', () => {
    expect(() => parsePin(join(dir, 'missing.pem'))).toThrowWithCode('USAGE');
    writeFileSync(join(dir, 'empty.pem'), 'not a certificate\n');
    expect(() => parsePin(join(dir, 'empty.pem'))).toThrowWithCode('USAGE');
    expect(() => parsePin('abc')).toThrowWithCode('USAGE');
  });

  it('a GUN takes its exact entry, else the longest matching prefix*', () => {
    const trust: TrustFile = {
      file: 't',
      pins: new Map([
        ['registry.example.com/*', [{ source: 'short', ids: [ID_A] }]],
        ['registry.example.com/acme/*', [{ source: 'long', ids: [ID_B] }]],
        [GUN, [{ source: 'exact', ids: [ID_C] }]],
        ['registry.example.com/acme/ap', [{ source: 'not a prefix', ids: [ID_C] }]],
      ]),
    };
    expect(pinsForGun(trust, GUN)?.pattern).toBe(GUN);
    expect(pinsForGun(trust, 'registry.example.com/acme/web')?.pattern).toBe(
      'registry.example.com/acme/*',
    );
    expect(pinsForGun(trust, 'registry.example.com/other/web')?.pattern).toBe(
      'registry.example.com/*',
    );
    expect(pinsForGun(trust, 'registry.example.com/acme/apx')?.pattern).toBe(
      'registry.example.com/acme/*',
    );
    expect(pinsForGun(trust, 'elsewhere.example/app')).toBeUndefined();
  });

  it('reads YAML and JSON trust files, certificate files relative to them', () => {
    const yaml = join(dir, 'trust.yaml');
    writeFileSync(yaml, `pins:\n  "registry.example.com/acme/*":\n    - ${ID_A}\n    - root.pem\n`);
    const t = loadTrustFile(yaml);
    const pins = pinsForGun(t, GUN)?.pins ?? [];
    expect(pins.map((p) => p.source)).toEqual([ID_A, 'root.pem']);
    expect(matchingPin(cert, pins)?.source).toBe('root.pem');
    const json = join(dir, 'trust.json');
    writeFileSync(json, JSON.stringify({ pins: { [GUN]: [ID_B] } }));
    expect(pinsForGun(loadTrustFile(json), GUN)?.pins[0]?.ids).toEqual([ID_B]);
  });

  it.each([
    ['an unknown member', JSON.stringify({ pins: {}, tofu: true })],
    ['an empty pin list', JSON.stringify({ pins: { [GUN]: [] } })],
    ['no pins at all', JSON.stringify({})],
    ['a duplicate GUN', `pins:\n  a: [${ID_A}]\n  a: [${ID_B}]\n`],
    ['not YAML', 'pins: [unclosed\n'],
  ])('refuses a trust file with %s', (_what, text) => {
    const file = join(dir, `bad-${Math.random()}.yaml`);
    writeFileSync(file, text);
    expect(() => loadTrustFile(file)).toThrowWithCode('CONFIG_INVALID');
  });
});
