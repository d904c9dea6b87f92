/**
 * The project's logger: winston, JSON lines (or plain text for a terminal), level from
 * NOTARY_HSM_LOG_LEVEL (default warn; the daemon raises it to info), to stderr and, when NOTARY_HSM_LOG_FILE names a
 * file, appended there too (module host processes inherit it, so one file holds a whole
 * run). Callers log events with fields, never secrets: no PIN, no bearer token, no key
 * material is ever passed to it. As a last line of defence, any field whose name says it
 * holds a secret is replaced before it is written.
 */
import winston from 'winston';

const SECRET_FIELD = /^(pin|pins|password|passphrase|secret|authorization|bearer|token_value)$/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_FIELD.test(key)) info[key] = '[redacted]';
  }
  return info;
});

function create(): winston.Logger {
  const level = process.env.NOTARY_HSM_LOG_LEVEL ?? 'warn';
  const json = winston.format.combine(redact(), winston.format.timestamp(), winston.format.json());
  const transports: winston.transport[] = [
    new winston.transports.Stream({
      stream: process.stderr,
      format:
        process.env.NOTARY_HSM_LOG_FORMAT === 'text'
          ? winston.format.combine(redact(), winston.format.simple())
          : json,
    }),
  ];
  const file = process.env.NOTARY_HSM_LOG_FILE;
  if (file) transports.push(new winston.transports.File({ filename: file, format: json }));
  return winston.createLogger({ level, transports, defaultMeta: { pid: process.pid } });
}

let logger: winston.Logger | undefined;

/** The process-wide logger (created on first use). */
export function log(): winston.Logger {
  logger ??= create();
  return logger;
}
