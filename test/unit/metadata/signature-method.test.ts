/**
 * A signature `method` holding a control character is refused when the file is parsed.
 * Found by generative fuzzing of the parser: `"method":"\u0000ecdsa"` parsed, and then
 * serialize() threw CANONICAL_UNREPRESENTABLE on the file the parser had accepted.
 */
import { parseMetadata } from '../../../src/metadata/signed';
import { vector } from '../../helpers/vectors';

describe('signature methods', () => {
  const timestamp = vector('final', 'timestamp').toString('utf8');

  it.each(['\\u0000ecdsa', 'ec\\u001fdsa', 'ecdsa\\n'])(
    'refuses a method %j as CANONICAL_UNREPRESENTABLE',
    (method) => {
      const text = timestamp.replace(/"method":\s*"[a-z0-9]+"/, `"method":"${method}"`);
      expect(text).not.toBe(timestamp);
      expect(() => parseMetadata('timestamp', Buffer.from(text))).toThrowWithCode(
        'CANONICAL_UNREPRESENTABLE',
      );
    },
  );

  it('still reads the reference file itself', () => {
    expect(parseMetadata('timestamp', Buffer.from(timestamp)).signatures).toHaveLength(1);
  });
});
