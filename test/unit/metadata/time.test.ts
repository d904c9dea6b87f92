/**
 * Proves `expires` handling matches Go's time.Time JSON: RFC 3339 parsed with up to nine
 * fraction digits and validated calendar fields (leap years, month lengths, years below
 * 1000); re-serialised as Go writes it — fraction trailing zeros trimmed, no fraction when
 * zero (`.000Z` → `Z`), a zero offset as `Z` (`+00:00` → `Z`), other offsets kept
 * (`+05:30` round-trips) — and compared with a clock at nanosecond precision (expired
 * means strictly before now, as Go's now.After(expires)).
 */
import { GoTime } from '../../../src/metadata/time';

const roundTrip = (s: string): string => GoTime.parse(s).toString();

describe('GoTime.parse → toString', () => {
  it.each([
    '2029-11-21T00:00:22.33825962Z',
    '2036-11-19T00:00:22.459030849Z',
    '2036-11-19T05:17:44.094961198+05:30',
    '2030-01-01T00:00:00Z',
    '2030-01-01T00:00:00.5Z',
    '2030-01-01T00:00:00.000000001Z',
    '2030-01-01T00:00:00.1-08:00',
    '2030-06-30T23:59:59+14:00',
    '2030-06-30T23:59:59-12:00',
    '1999-12-31T23:59:59.999999999Z',
  ])('%s is Go-exact and round-trips unchanged', (s) => {
    expect(roundTrip(s)).toBe(s);
  });

  it.each([
    ['2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00Z'],
    ['2030-01-01T00:00:00.000000000Z', '2030-01-01T00:00:00Z'],
    ['2030-01-01T00:00:00.500Z', '2030-01-01T00:00:00.5Z'],
    ['2030-01-01T00:00:00.120000000Z', '2030-01-01T00:00:00.12Z'],
    ['2030-01-01T00:00:00.010Z', '2030-01-01T00:00:00.01Z'],
    ['2030-01-01T00:00:00+00:00', '2030-01-01T00:00:00Z'],
    ['2030-01-01T00:00:00-00:00', '2030-01-01T00:00:00Z'],
    ['2030-01-01T01:00:00.500+00:00', '2030-01-01T01:00:00.5Z'],
    ['2030-01-01T05:30:00.10+05:30', '2030-01-01T05:30:00.1+05:30'],
  ])('%s is written by Go as %s', (input, go) => {
    expect(roundTrip(input)).toBe(go);
    expect(roundTrip(go)).toBe(go);
  });

  it('an offset time keeps its offset and denotes the right instant', () => {
    const t = GoTime.parse('2036-11-19T05:17:44.094961198+05:30');
    expect(t.offsetMinutes).toBe(330);
    expect(t.nanos).toBe(94_961_198);
    expect(t.toDate().toISOString()).toBe('2036-11-18T23:47:44.094Z');
    const neg = GoTime.parse('2030-01-01T00:30:00-01:15');
    expect(neg.offsetMinutes).toBe(-75);
    expect(neg.toDate().toISOString()).toBe('2030-01-01T01:45:00.000Z');
  });

  it('an offset crossing a year boundary keeps the local wall time', () => {
    const t = GoTime.parse('2030-01-01T00:30:00+01:00');
    expect(t.toDate().toISOString()).toBe('2029-12-31T23:30:00.000Z');
    expect(t.toString()).toBe('2030-01-01T00:30:00+01:00');
  });

  it.each([
    '2024-02-29T12:00:00Z',
    '2000-02-29T00:00:00Z',
    '2400-02-29T00:00:00Z',
    '0004-02-29T00:00:00Z',
  ])('leap day %s is valid', (s) => {
    expect(roundTrip(s)).toBe(s);
    expect(GoTime.parse(s).toDate().getUTCDate()).toBe(29);
  });

  it.each([
    '2023-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '0100-02-29T00:00:00Z',
  ])('leap day %s in a common year is EXPIRES_INVALID', (s) => {
    expect(() => GoTime.parse(s)).toThrowWithCode('EXPIRES_INVALID');
  });

  it.each([
    ['0999-12-31T23:59:59Z', Date.UTC(999, 11, 31, 23, 59, 59)],
    ['0050-03-01T00:00:00Z', -60_584_198_400_000], // Date.UTC(50, …) would mean 1950
    ['0001-01-01T00:00:00Z', -62_135_596_800_000], // Go's zero time
    ['0000-01-01T00:00:00Z', -62_167_219_200_000],
  ])('year below 1000: %s round-trips and is the right instant', (s, ms) => {
    expect(roundTrip(s)).toBe(s);
    expect(GoTime.parse(s).epochMillis).toBe(ms);
  });

  it('an offset pushing year 0 into year -1 still writes year 0 back', () => {
    const s = '0000-01-01T00:30:00+01:00';
    expect(roundTrip(s)).toBe(s);
    expect(GoTime.parse(s).toDate().getUTCFullYear()).toBe(-1);
  });

  it('9999-12-31T23:59:59.999999999Z is the last representable instant and round-trips', () => {
    expect(roundTrip('9999-12-31T23:59:59.999999999Z')).toBe('9999-12-31T23:59:59.999999999Z');
  });

  it.each([
    '',
    '2030-01-01',
    '2030-01-01T00:00:00',
    '2030-01-01T00:00Z',
    '2030-01-01T00:00:00.Z',
    '2030-01-01T00:00:00.1234567890Z',
    '2030-01-01T00:00:00,5Z',
    '2030-01-01T00:00:00z',
    '2030-01-01t00:00:00Z',
    '2030-01-01 00:00:00Z',
    '2030-01-01T00:00:00+0000',
    '2030-01-01T00:00:00+00',
    '2030-01-01T00:00:00+24:00',
    '2030-01-01T00:00:00+05:60',
    '2030-01-01T00:00:00 UTC',
    '2030-13-01T00:00:00Z',
    '2030-00-01T00:00:00Z',
    '2030-04-31T00:00:00Z',
    '2030-01-32T00:00:00Z',
    '2030-01-00T00:00:00Z',
    '2030-01-01T24:00:00Z',
    '2030-01-01T23:60:00Z',
    '2030-01-01T23:59:60Z',
    '12030-01-01T00:00:00Z',
    '-2030-01-01T00:00:00Z',
    '+2030-01-01T00:00:00Z',
    '2030-1-01T00:00:00Z',
    ' 2030-01-01T00:00:00Z',
    '2030-01-01T00:00:00Z ',
    '２０３０-01-01T00:00:00Z',
  ])('%j is EXPIRES_INVALID', (s) => {
    expect(() => GoTime.parse(s, '/signed/expires')).toThrowWithCode('EXPIRES_INVALID');
  });

  it('the error names the JSON pointer it was given', () => {
    try {
      GoTime.parse('nope', '/signed/expires');
      throw new Error('no error');
    } catch (err) {
      expect((err as { details: unknown }).details).toEqual({ path: '/signed/expires' });
    }
  });
});

describe('times we create', () => {
  it('fromDate is UTC whole seconds (milliseconds truncated), never .000Z', () => {
    const t = GoTime.fromDate(new Date('2030-05-06T07:08:09.999Z'));
    expect(t.toString()).toBe('2030-05-06T07:08:09Z');
    expect(t.nanos).toBe(0);
    expect(t.offsetMinutes).toBe(0);
    expect(JSON.stringify({ expires: t })).toBe('{"expires":"2030-05-06T07:08:09Z"}');
  });

  it('daysFromNow adds whole days to a given clock', () => {
    const now = new Date('2026-11-22T00:00:30.250Z');
    expect(GoTime.daysFromNow(3650, now).toString()).toBe('2036-11-19T00:00:30Z');
    expect(GoTime.daysFromNow(14, now).toString()).toBe('2026-12-06T00:00:30Z');
    expect(GoTime.daysFromNow(1095, now).toString()).toBe('2029-11-21T00:00:30Z');
  });

  it('toJSON equals toString', () => {
    const t = GoTime.parse('2030-01-01T00:00:00.5+01:00');
    expect(t.toJSON()).toBe(t.toString());
  });

  it('epochMillis and toDate truncate below the millisecond', () => {
    const t = GoTime.parse('2030-01-01T00:00:00.001999999Z');
    expect(t.epochMillis).toBe(Date.UTC(2030, 0, 1) + 1);
    expect(t.toDate().toISOString()).toBe('2030-01-01T00:00:00.001Z');
  });
});

describe('isBefore (expired when strictly before now)', () => {
  const at = (iso: string): Date => new Date(iso);

  it.each<[string, string, boolean]>([
    ['2030-01-01T00:00:00Z', '2030-01-01T00:00:00.000Z', false], // equal: not expired
    ['2030-01-01T00:00:00.000000001Z', '2030-01-01T00:00:00.000Z', false], // 1 ns after now
    ['2029-12-31T23:59:59.999999999Z', '2030-01-01T00:00:00.000Z', true], // 1 ns before now
    ['2030-01-01T00:00:00.000999999Z', '2030-01-01T00:00:00.001Z', true], // 1 ns before now
    ['2030-01-01T00:00:00.001Z', '2030-01-01T00:00:00.001Z', false],
    ['2030-01-01T00:00:00.001000001Z', '2030-01-01T00:00:00.001Z', false],
    ['2030-01-01T00:00:00.999Z', '2030-01-01T00:00:00.998Z', false],
    ['2030-01-01T00:00:00.998999999Z', '2030-01-01T00:00:00.999Z', true],
    ['2030-01-01T00:00:01Z', '2030-01-01T00:00:00.999Z', false],
    ['2030-01-01T01:00:00.5+01:00', '2030-01-01T00:00:00.500Z', false], // same instant
    ['2030-01-01T01:00:00.4999+01:00', '2030-01-01T00:00:00.500Z', true],
  ])('expires %s, now %s → %s', (expires, now, expired) => {
    expect(GoTime.parse(expires).isBefore(at(now))).toBe(expired);
  });

  it.each<[string, number, boolean]>([
    ['1969-12-31T23:59:58.1Z', -1500, true],
    ['1969-12-31T23:59:58.9Z', -1500, false],
    ['1969-12-31T23:59:58.499999999Z', -1500, true],
    ['1969-12-31T23:59:58.5Z', -1500, false],
    ['1969-12-31T23:59:59Z', -1, true],
    ['1969-12-31T23:59:59.999Z', -1, false],
  ])('before the epoch: expires %s, now %d ms → %s', (expires, ms, expired) => {
    expect(GoTime.parse(expires).isBefore(new Date(ms))).toBe(expired);
  });

  it('agrees with a millisecond comparison on whole-millisecond times', () => {
    const base = Date.UTC(2031, 5, 15, 12, 0, 0);
    for (const delta of [-2001, -1000, -999, -1, 0, 1, 999, 1000, 2001]) {
      const expires = GoTime.fromDate(new Date(base));
      expect(expires.isBefore(new Date(base + delta))).toBe(delta > 0);
    }
  });
});
