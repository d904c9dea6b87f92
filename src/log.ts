/**
 * The project's logger: winston, JSON lines (or plain text for a terminal) on stderr at
 * NOTARY_HSM_LOG_LEVEL (default warn; the daemon sets its configured level), and, when
 * NOTARY_HSM_LOG_FILE names a file, every record at NOTARY_HSM_LOG_FILE_LEVEL (default
 * debug) appended there too — module host processes inherit it, so one file holds a
 * whole run. Callers log events with fields, never secrets: no PIN, no bearer token, no
 * key material is ever passed to it. As a last line of defence, any field whose name says
 * it holds a secret is replaced before it is written.
 */
import winston from 'winston';

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

let logger: winston.Logger | undefined;
let consoleTransport: winston.transport | undefined;
let fileLevel: string | undefined;

function create(): winston.Logger {
  const level = process.env.NOTARY_HSM_LOG_LEVEL ?? 'warn';
  const json = winston.format.combine(redact(), winston.format.timestamp(), winston.format.json());
  consoleTransport = new winston.transports.Stream({
    stream: process.stderr,
    level,
    format:
      process.env.NOTARY_HSM_LOG_FORMAT === 'text'
        ? winston.format.combine(redact(), winston.format.simple())
        : json,
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
    transports,
    defaultMeta: { pid: process.pid },
  });
}

/** The process-wide logger (created on first use). */
export function log(): winston.Logger {
  logger ??= create();
  return logger;
}

/** Sets the level of what goes to stderr (the daemon's configured `log.level`). */
export function setConsoleLevel(level: string): void {
  const l = log();
  if (consoleTransport) consoleTransport.level = level;
  l.level = fileLevel ? lowest(level, fileLevel) : level;
}
