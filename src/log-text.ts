/**
 * The one-line text format of the project logger (`log: {format: text}`, or
 * NOTARY_HSM_LOG_FORMAT=text): `TIME LEVEL message key=value …`, fields in the order they
 * were given. A value with a space, a quote, `=` or a control character is written as a
 * JSON string, so one record is always one line and a field cannot forge another.
 */
import type winston from 'winston';

type TransformableInfo = winston.Logform.TransformableInfo;
/** Where a winston format puts the finished line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/** A value written as it is: printable, without space, quote, backslash or `=`. */
function bare(value: string): boolean {
  if (value === '' || /[\s"=\\]/.test(value)) return false;
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

function quote(value: string): string {
  return bare(value) ? value : JSON.stringify(value);
}

function field(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null) return 'null';
  if (value instanceof Error) return quote(value.message);
  return quote(JSON.stringify(value) ?? typeof value);
}

/** The text line for one (already redacted and time-stamped) record. */
export function textLine(info: TransformableInfo): string {
  const { level, message, timestamp, ...fields } = info;
  const time = typeof timestamp === 'string' ? timestamp : new Date().toISOString();
  const parts = [time, level.padEnd(5)];
  parts.push(typeof message === 'string' ? quote(message) : field(message));
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${quote(key)}=${field(value)}`);
  }
  return parts.join(' ');
}

/** Sets the record's output to its text line (a winston format transform). */
export function toText(info: TransformableInfo): TransformableInfo {
  (info as unknown as Record<symbol, string>)[MESSAGE] = textLine(info);
  return info;
}
