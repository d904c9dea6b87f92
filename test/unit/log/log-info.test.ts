/**
 * The project logger's JSON lines on stderr: byte for byte what winston wrote before the
 * lines were batched per turn and the logger's own (unused) JSON format was dropped —
 * members sorted, pid, level and timestamp added — and secret-named members redacted.
 */
import { Writable } from 'node:stream';
import winston from 'winston';
import { flushLog as flush, withProjectLogger } from './project-logger';

type Fields = { [name: string]: string | number | boolean | undefined };

const RECORDS: ({ message: string } & Fields)[] = [
  {
    message: 'request',
    event: 'http_request',
    method: 'POST',
    path: '/v1/sign/delegation',
    route: '/v1/sign/delegation',
    status: 200,
    ms: 1.234,
    requestId: 'a1b2',
    client: 'ci',
  },
  { message: 'request', client: undefined, status: 404, ms: 0 },
  { message: 'quotes " and \\ backslashes', path: '/x"y\\z', ok: true, bad: false },
  { message: 'controls', path: '/a\u0000b\nc\u001f', tab: '\t' },
  { message: 'unicode', path: '/é/日本/😀', lone: 'x\ud800y', other: '\udc00' },
  { message: 'numbers', a: -0, b: 1e21, c: 0.1 + 0.2, d: Number.NaN, e: -Infinity },
  { message: 'reserved', level: 'error', '10': 'ten', '2': 'two', Zed: 'z', _u: 'u' },
];

/** The logger as it was configured before: default logger format, JSON on a plain stream. */
function reference(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = winston.createLogger({
    level: 'info',
    transports: [
      new winston.transports.Stream({
        stream,
        format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      }),
    ],
    defaultMeta: { pid: process.pid },
  });
  return { logger, lines };
}

describe('the project logger', () => {
  it.each(RECORDS.map((r) => [r.message, r] as const))(
    'writes the line it always wrote (%s), in both call forms',
    (_name, record) => {
      const ref = reference();
      const fixed = { ...record, timestamp: '2026-11-22T00:00:00.000Z' };
      ref.logger.info({ ...fixed });
      withProjectLogger({}, (mod, lines) => {
        const { message, ...meta } = fixed;
        mod.log().info({ ...fixed });
        mod.log().info(message, meta);
        flush(mod.log());
        expect(lines()).toEqual([ref.lines[0], ref.lines[0]]);
      });
    },
  );

  it('adds an ISO timestamp and redacts secret-named members', () => {
    withProjectLogger({}, (mod, lines) => {
      mod.log().info({ message: 'request', pin: '987654', Authorization: 'Bearer x' });
      flush(mod.log());
      const [line] = lines();
      expect(line).not.toContain('987654');
      expect(line).not.toContain('Bearer x');
      const parsed = JSON.parse(line ?? '') as Fields;
      expect(parsed.pin).toBe('[redacted]');
      expect(parsed.Authorization).toBe('[redacted]');
      expect(parsed.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(parsed.pid).toBe(process.pid);
    });
  });

  it('writes the lines of a turn in order, only those at its level', () => {
    withProjectLogger({}, (mod, lines) => {
      mod.log().info({ message: 'one' });
      mod.log().debug({ message: 'not at info' });
      mod.log().warn({ message: 'two' });
      flush(mod.log());
      expect(lines().map((l) => (JSON.parse(l) as Fields).message)).toEqual(['one', 'two']);
    });
  });
});
