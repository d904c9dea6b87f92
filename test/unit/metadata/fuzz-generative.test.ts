/**
 * Generative fuzzing of the strict metadata reader (fast-check, seeded: FUZZ_SEED replays
 * a run, FUZZ_PARSER_RUNS changes the count) over mutated reference files from
 * test/vectors/notary-reference (the notary 0.7.0 captures, both stages, every role).
 *
 * A file is changed by one to four edits: byte-level (bytes inserted, deleted, duplicated
 * or overwritten at generated offsets), the seeded raw/JSON edits of helpers/mutations.ts,
 * JSON-level (the file re-indented, a member replaced by a generated value, a prototype name added, a
 * member dropped). Invariants: parseMetadata either returns or throws a NotaryHsmError —
 * nothing else — and whatever parses re-serialises to bytes that read back to the same
 * canonical `signed`, and re-serialise again to the same bytes.
 */
import fc from 'fast-check';
import { isNotaryHsmError } from '../../../src/errors';
import { canonicalBytes } from '../../../src/metadata/canonical';
import { parseMetadata, serialize } from '../../../src/metadata/signed';
import { fuzzRuns, fuzzSeed } from '../../helpers/fuzz-seed';
import { prng, randomMutation } from '../../helpers/mutations';
import { ROLES, STAGES, vector } from '../../helpers/vectors';

const RUNS = fuzzRuns('FUZZ_PARSER_RUNS', 5000);

type Edit =
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'repeat'; at: number; length: number }
  | { kind: 'overwrite'; at: number; byte: number }
  | { kind: 'seeded'; seed: number }
  | { kind: 'reformat'; indent: number }
  | { kind: 'member'; at: number; value: unknown; proto: string | null; drop: boolean };

const arbEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('reformat' as const), indent: fc.integer({ min: 0, max: 4 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 8 }),
      fc.constantFrom(
        ...['"', '\\', '{', '}', ',', ':', '[', ']', '\\u0000', '\uFEFF', '1e999'].map((s) =>
          Buffer.from(s),
        ),
      ),
    ),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('seeded' as const), seed: fc.nat() }),
  fc.record({
    kind: fc.constant('member' as const),
    at: fc.nat(),
    value: fc.jsonValue({ maxDepth: 3 }),
    proto: fc.option(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')),
    drop: fc.boolean(),
  }),
);

/** Every object in `v` (depth first). */
function objects(v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(v)) for (const x of v) objects(x, out);
  else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    out.push(o);
    for (const k of Object.keys(o)) objects(o[k], out);
  }
  return out;
}

function apply(bytes: Buffer, e: Edit): Buffer {
  const at = bytes.length === 0 ? 0 : 'at' in e ? e.at % bytes.length : 0;
  switch (e.kind) {
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), e.bytes, bytes.subarray(at)]);
    case 'delete':
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + e.length)]);
    case 'repeat':
      return Buffer.concat([bytes.subarray(0, at + e.length), bytes.subarray(at)]);
    case 'overwrite': {
      const out = Buffer.from(bytes);
      if (out.length > 0) out[at] = e.byte;
      return out;
    }
    case 'reformat':
      try {
        return Buffer.from(JSON.stringify(JSON.parse(bytes.toString('utf8')), null, e.indent));
      } catch {
        return bytes;
      }
    case 'seeded':
      return randomMutation(prng(e.seed), bytes);
    case 'member': {
      let doc: unknown;
      try {
        doc = JSON.parse(bytes.toString('utf8'));
      } catch {
        return bytes;
      }
      const all = objects(doc);
      const o = all[e.at % Math.max(all.length, 1)];
      const name =
        o === undefined ? undefined : Object.keys(o)[e.at % Math.max(Object.keys(o).length, 1)];
      if (o === undefined) return bytes;
      if (e.proto !== null) {
        Object.defineProperty(o, e.proto, {
          value: e.value,
          enumerable: true,
          configurable: true,
          writable: true,
        });
      } else if (name !== undefined) {
        if (e.drop) Reflect.deleteProperty(o, name);
        else o[name] = e.value;
      }
      return Buffer.from(JSON.stringify(doc));
    }
  }
}

describe('metadata reader under generated mutations', () => {
  const files = STAGES.flatMap((s) => ROLES.map((r) => [s, r] as const));

  it(`${RUNS} mutated reference files: a typed error or a stable canonical round trip`, () => {
    const seed = fuzzSeed('fuzz-parser', 1465829446);
    let parsedCount = 0;
    const codes = new Set<string>();
    fc.assert(
      fc.property(
        fc.nat(files.length - 1),
        fc.array(arbEdit, { minLength: 1, maxLength: 4 }),
        (fileIndex, edits) => {
          const [stage, role] = files[fileIndex] as (typeof files)[number];
          const bytes = edits.reduce(apply, vector(stage, role));
          let parsed;
          try {
            parsed = parseMetadata(role, bytes);
          } catch (err) {
            if (!isNotaryHsmError(err)) throw err;
            codes.add(err.code);
            return;
          }
          parsedCount++;
          const again = serialize(parsed.signed, parsed.signatures);
          const back = parseMetadata(role, again);
          expect(canonicalBytes(back.signed.toJson())).toEqual(
            canonicalBytes(parsed.signed.toJson()),
          );
          expect(back.message).toEqual(canonicalBytes(back.signed.toJson()));
          expect(serialize(back.signed, back.signatures)).toEqual(again);
        },
      ),
      { seed, numRuns: RUNS },
    );
    process.stderr.write(
      `fuzz-parser: ${JSON.stringify({ seed, runs: RUNS, parsed: parsedCount, codes: codes.size })}\n`,
    );
    // Both outcomes must be exercised, or the round-trip invariant proves nothing.
    expect(parsedCount).toBeGreaterThan(RUNS * 0.02);
    expect(codes.size).toBeGreaterThanOrEqual(6);
  });
});
