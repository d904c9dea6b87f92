/**
 * `expires` as Go's time.Time writes it in JSON: RFC 3339 with up to nine fraction
 * digits (trailing zeros dropped, no fraction when zero) and `Z` for a zero offset or
 * `±hh:mm`. A parsed time keeps its offset and nanoseconds so that it re-serialises to
 * the same text; times we create are UTC whole seconds, the spelling every Notary
 * version reads back identically.
 */
import { NotaryHsmError } from '../errors';

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
}

/** An instant with the offset and nanoseconds it was written with. */
export class GoTime {
  /** Seconds since the epoch (UTC). */
  readonly seconds: number;
  /** 0..999,999,999. */
  readonly nanos: number;
  /** Offset from UTC in minutes, as written. */
  readonly offsetMinutes: number;

  private constructor(seconds: number, nanos: number, offsetMinutes: number) {
    this.seconds = seconds;
    this.nanos = nanos;
    this.offsetMinutes = offsetMinutes;
  }

  /**
   * Parses RFC 3339 as Go does for time.Time.
   * throws: EXPIRES_INVALID
   */
  static parse(text: string, path = 'expires'): GoTime {
    const m = RFC3339.exec(text);
    const bad = (why: string): never => {
      throw new NotaryHsmError('EXPIRES_INVALID', `${path}: ${JSON.stringify(text)} ${why}`, {
        details: { path },
      });
    };
    if (!m) return bad('is not an RFC 3339 time');
    const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
    if (y === undefined || mo === undefined || d === undefined) return bad('is incomplete');
    if (h === undefined || mi === undefined || s === undefined) return bad('is incomplete');
    if (mo < 1 || mo > 12) bad('has a month out of range');
    if (d < 1 || d > daysIn(y, mo)) bad('has a day out of range');
    if (h > 23 || mi > 59 || s > 59) bad('has a time of day out of range');
    let offset = 0;
    if (m[8] === undefined) {
      const oh = Number(m[10]);
      const om = Number(m[11]);
      if (oh > 23 || om > 59) bad('has an offset out of range');
      offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
    }
    const nanos = m[7] === undefined ? 0 : Number(m[7].padEnd(9, '0'));
    return new GoTime(utcSeconds(y, mo, d, h, mi, s) - offset * 60, nanos, offset);
  }

  /** UTC, whole seconds. */
  static fromDate(date: Date): GoTime {
    return new GoTime(Math.floor(date.getTime() / 1000), 0, 0);
  }

  /** Now plus `days` (UTC, whole seconds): the lifetimes Notary uses are in days. */
  static daysFromNow(days: number, now: Date = new Date()): GoTime {
    return GoTime.fromDate(new Date(now.getTime() + days * 86_400_000));
  }

  /** Milliseconds since the epoch (sub-millisecond digits truncated). */
  get epochMillis(): number {
    return this.seconds * 1000 + Math.floor(this.nanos / 1e6);
  }

  toDate(): Date {
    return new Date(this.epochMillis);
  }

  /** True when this instant is strictly before `now` (Go: now.After(expires)). */
  isBefore(now: Date): boolean {
    const ms = now.getTime();
    const nowSeconds = Math.floor(ms / 1000);
    if (this.seconds !== nowSeconds) return this.seconds < nowSeconds;
    // ms - nowSeconds * 1000 is in [0, 999] also before the epoch (where ms % 1000 < 0).
    return this.nanos < (ms - nowSeconds * 1000) * 1e6;
  }

  /** Go's RFC3339Nano text. */
  toString(): string {
    const local = new Date((this.seconds + this.offsetMinutes * 60) * 1000);
    let out =
      pad(local.getUTCFullYear(), 4) +
      '-' +
      pad(local.getUTCMonth() + 1) +
      '-' +
      pad(local.getUTCDate()) +
      'T' +
      pad(local.getUTCHours()) +
      ':' +
      pad(local.getUTCMinutes()) +
      ':' +
      pad(local.getUTCSeconds());
    if (this.nanos !== 0) out += '.' + pad(this.nanos, 9).replace(/0+$/, '');
    if (this.offsetMinutes === 0) return out + 'Z';
    const a = Math.abs(this.offsetMinutes);
    return out + (this.offsetMinutes < 0 ? '-' : '+') + pad(Math.floor(a / 60)) + ':' + pad(a % 60);
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Seconds since the epoch of a UTC wall time (any year 0..9999, unlike Date.UTC). */
function utcSeconds(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return date.getTime() / 1000;
}
