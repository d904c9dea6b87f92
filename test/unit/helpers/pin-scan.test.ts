/** The suite-wide PIN search finds a PIN written to a log, and only as a whole word. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPins } from '../../helpers/pin-scan';

describe('findPins', () => {
  it('finds a PIN in a JSON log line and names the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinscan-'));
    writeFileSync(
      join(dir, 'a.log'),
      '{"message":"ok"}\n{"message":"login","detail":"pin 246810 refused"}\n',
    );
    expect(findPins(dir, ['a.log'], ['246810']).found).toEqual(['a.log:2 holds a test PIN']);
  });

  it('does not count a PIN inside a longer run of letters and digits (a digest, an ID)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinscan-'));
    writeFileSync(join(dir, 'b.log'), '{"keyId":"ab246810cd","n":12468101}\n');
    expect(findPins(dir, ['b.log'], ['246810'])).toEqual({ found: [], lines: 2 });
  });
});
