/**
 * `log: {format: text}`: one readable line per record on stderr — time, level, message,
 * key=value fields — with secret-named fields redacted exactly as in the JSON format.
 */
import { textLine } from '../../../src/log-text';
import { withProjectLogger } from './project-logger';

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\w+) +(.*)\n$/;

describe('the text log format', () => {
  it('writes time, level, message and key=value fields on one line', () => {
    withProjectLogger({}, (mod, lines) => {
      mod.setConsoleFormat('text');
      mod.log().info('request', { method: 'POST', status: 200, ms: 1.5, client: 'ci' });
      mod.log().warn('token absent', { token: 'yubikey' });
      const [first, second] = lines();
      expect(first).toMatch(LINE);
      const [, , level, rest] = LINE.exec(first ?? '') ?? [];
      expect(level).toBe('info');
      expect(rest).toBe(`request pid=${process.pid} method=POST status=200 ms=1.5 client=ci`);
      expect(second).toMatch(/ warn {2}"token absent" pid=\d+ token=yubikey\n$/);
    });
  });

  it('is chosen by NOTARY_HSM_LOG_FORMAT=text too, and JSON is the default', () => {
    withProjectLogger({ NOTARY_HSM_LOG_FORMAT: 'text' }, (mod, lines) => {
      mod.log().info('hello', { a: 1 });
      expect(lines()[0]).toMatch(/ info {2}hello pid=\d+ a=1\n$/);
    });
    withProjectLogger({}, (mod, lines) => {
      mod.log().info('hello', { a: 1 });
      expect(JSON.parse(lines()[0] ?? '')).toMatchObject({ message: 'hello', a: 1 });
    });
  });

  it('redacts secret-named fields as the JSON format does', () => {
    withProjectLogger({}, (mod, lines) => {
      mod.setConsoleFormat('text');
      mod.log().info('login', { pin: '987654', Authorization: 'Bearer abc', slot: 1 });
      mod.setConsoleFormat('json');
      mod.log().info('login', { pin: '987654', Authorization: 'Bearer abc', slot: 1 });
      const [text, json] = lines();
      expect(text).toContain('pin=[redacted] Authorization=[redacted] slot=1');
      expect(text).not.toContain('987654');
      expect(text).not.toContain('abc');
      expect(JSON.parse(json ?? '')).toMatchObject({
        pin: '[redacted]',
        Authorization: '[redacted]',
      });
    });
  });

  it('quotes values so that one record stays one line and cannot forge a field', () => {
    const line = textLine({
      level: 'info',
      message: 'a\nb',
      timestamp: 'T',
      path: '/x y',
      forged: 'ok status=500',
      nested: { k: 'v' },
      empty: '',
      skipped: undefined,
    });
    expect(line).toBe(
      'T info  "a\\nb" path="/x y" forged="ok status=500" nested="{\\"k\\":\\"v\\"}" empty=""',
    );
  });
});
