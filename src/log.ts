/**
 * The project's logger: winston, JSON lines (or one-line text, log-text.ts) on stderr at
 * NOTARY_HSM_LOG_LEVEL (default warn; the daemon sets its configured level), and, when
 * NOTARY_HSM_LOG_FILE names a file, every record at NOTARY_HSM_LOG_FILE_LEVEL (default
 * debug) appended there too — module host processes inherit it, so one file holds a
 * whole run. Callers log events with fields, never secrets: no PIN, no bearer token, no
 * key material is ever passed to it. As a last line of defence, any field whose name says
 * it holds a secret is replaced before it is written.
 *
 * Lines for stderr are written once per event-loop turn: everything logged during one
 * turn (a daemon under load answers many requests per turn) leaves in one write, in
 * order, instead of one write — one system call and one wake-up of whoever reads the
 * pipe — per line. What is still pending when the process exits is written then.
 */
import { Writable } from 'node:stream';
import winston from 'winston';
import { toText } from './log-text';

const SECRET_FIELD = /^(pin|pins|password|passphrase|secret|authorization|bearer|token_value)$/i;
const LEVELS = ['error', 'warn', 'info', 'debug'] as const;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_FIELD.test(key)) info[key] = '[redacted]';
  }
  return info;
});

function lowest(a: string, b: string): string {
  const rank = (l: string): number => LEVELS.indexOf(l as (typeof LEVELS)[number]);
  return rank(a) >= rank(b) ? a : b;
}

/**
 * A Writable over `target` that joins what is written during one event-loop turn and
 * passes it on in one write at the end of the turn (setImmediate), or at process exit.
 */
export class TurnBatchedStream extends Writable {
  private pending: string[] = [];
  private scheduled = false;
  private readonly flushNow = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.target.write(text);
  };

  constructor(private readonly target: NodeJS.WritableStream) {
    super({ decodeStrings: false });
    process.once('exit', this.flushNow);
  }

  override _write(
    chunk: string | Buffer,
    _encoding: BufferEncoding,
    done: (err?: Error | null) => void,
  ): void {
    this.pending.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    done();
  }

  /** Writes what is pending now (tests; the process does it at exit by itself). */
  flush(): void {
    this.flushNow();
  }
}

/** The two formats of stderr; both redact secret-named fields the same way. */
const FORMATS = {
  json: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
  text: winston.format.combine(redact(), winston.format.timestamp(), winston.format(toText)()),
} as const;

let logger: winston.Logger | undefined;
let consoleTransport: winston.transport | undefined;
let fileLevel: string | undefined;

function create(): winston.Logger {
  const level = process.env.NOTARY_HSM_LOG_LEVEL ?? 'warn';
  const json = FORMATS.json;
  consoleTransport = new winston.transports.Stream({
    stream: new TurnBatchedStream(process.stderr),
    level,
    format: process.env.NOTARY_HSM_LOG_FORMAT === 'text' ? FORMATS.text : json,
  });
  const transports: winston.transport[] = [consoleTransport];
  const file = process.env.NOTARY_HSM_LOG_FILE;
  if (file) {
    fileLevel = process.env.NOTARY_HSM_LOG_FILE_LEVEL ?? 'debug';
    transports.push(
      new winston.transports.File({ filename: file, level: fileLevel, format: json }),
    );
  }
  return winston.createLogger({
    level: fileLevel ? lowest(level, fileLevel) : level,
    // Each transport formats its own copy of a record; the logger's default format (JSON)
    // would only serialise every record once more, for nothing.
    format: winston.format((info) => info)(),
    transports,
    defaultMeta: { pid: process.pid },
  });
}

/** The process-wide logger (created on first use). */
export function log(): winston.Logger {
  logger ??= create();
  return logger;
}

/** Sets the format of what goes to stderr (the daemon's configured `log.format`). */
export function setConsoleFormat(format: keyof typeof FORMATS): void {
  log();
  if (consoleTransport) consoleTransport.format = FORMATS[format];
}

/** Sets the level of what goes to stderr (the daemon's configured `log.level`). */
export function setConsoleLevel(level: string): void {
  const l = log();
  if (consoleTransport) consoleTransport.level = level;
  l.level = fileLevel ? lowest(level, fileLevel) : level;
}
