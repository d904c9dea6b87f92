/**
 * The targets of a file kept as their canonical text, one member `"name":{…}` each, when
 * every target is in FileMeta's common shape: no FileMeta per target until one is asked
 * for, and no object per target at all when the text comes straight from the file (a
 * targets file of 10,000 is read, checked, changed and written back as text).
 *
 * The ways in, each refusing (undefined: the caller models each target instead) anything
 * but the common shape written canonically, names in strictly increasing code point order
 * and none that canonical JSON cannot carry:
 * - KeptTargets.readAt / fromText: the canonical text of a targets object, where the JSON
 *   reader hands it over unread (json.ts `defer`), each member matched by one sticky test;
 * - KeptTargets.of: a targets object JSON.parse made, each member written again;
 * - KeptTargets.fromValues: targets to add, each given as its canonical text (TargetTexts).
 *
 * A change makes new kept targets (`with`): runs of members copied from either side's
 * text; the members of these are never changed.
 */
import {
  allPlain,
  compareUtf8,
  hasSurrogate,
  inCanonicalOrder,
  isRepresentable,
  sortCanonical,
} from './canonical';
import { COMMON_TEXT, FileMeta } from './file-meta';
import type { JsonObject, JsonValue } from './json';

/**
 * One member of a targets object whose name needs no escape: where lastIndex says, ending
 * in the `,` or `}` after it (sticky: no search, no match object).
 */
const MEMBER = new RegExp(`"[^"\\\\\\u0000-\\u001f]*":${COMMON_TEXT}[,}]`, 'y');
/** Characters JSON.stringify escapes in a representable name. */
const ESCAPED = /["\\]/;

/** The text of a targets object written member by member, and where each member starts. */
class Joined {
  private readonly pieces: string[] = [];
  private readonly starts: number[] = [];
  /** Where the next member starts (after the `{`, then after each `,`). */
  private at = 1;

  /** One member's text. */
  member(text: string): void {
    this.starts.push(this.at);
    this.pieces.push(text);
    this.at += text.length + 1;
  }

  /** Members `from` to `to` (exclusive) of another text, where `starts` says. */
  run(whole: string, starts: ArrayLike<number>, from: number, to: number): void {
    const first = starts[from] as number;
    const end = (starts[to] as number) - 1;
    for (let k = from; k < to; k++) this.starts.push(this.at + (starts[k] as number) - first);
    this.pieces.push(whole.slice(first, end));
    this.at += end - first + 1;
  }

  /** The whole text, and where each member starts in it (then its length). */
  done(): { whole: string; starts: number[] } {
    const whole = `{${this.pieces.join(',')}}`;
    this.starts.push(whole.length);
    return { whole, starts: this.starts };
  }
}

/** Every name representable: all plain (one test), or each checked. */
function representable(names: readonly string[]): boolean {
  return allPlain(names) || names.every(isRepresentable);
}

/** A representable name as canonical JSON writes it. */
function quoted(name: string): string {
  return ESCAPED.test(name) ? JSON.stringify(name) : `"${name}"`;
}

export class KeptTargets {
  /** The names, in canonical order. */
  readonly names: readonly string[];
  /** The canonical text of the targets object. */
  private readonly whole: string;
  /**
   * Where each target's member `"name":{…}` starts in `whole`, and then whole's length:
   * member i ends one before starts[i + 1] (at its `,` or the closing `}`).
   */
  private readonly starts: ArrayLike<number>;
  /** No name holds a surrogate: UTF-16 order is code point order. */
  private readonly plain: boolean;

  private constructor(
    names: readonly string[],
    whole: string,
    starts: ArrayLike<number>,
    plain: boolean,
  ) {
    this.names = names;
    this.whole = whole;
    this.starts = starts;
    this.plain = plain;
  }

  /**
   * The canonical text of a targets object kept as it is, or undefined (see the file
   * comment). Only text that is canonical JSON is ever accepted.
   */
  static fromText(text: string): KeptTargets | undefined {
    const read = KeptTargets.readAt(text, 0);
    return read?.end === text.length ? read.value : undefined;
  }

  /**
   * The targets object whose canonical text starts at `text[start]`, kept as it is, and
   * where its text ends (one past its closing brace); undefined when it is not one these
   * keep (see the file comment). Only canonical JSON text is ever accepted: the JSON
   * reader hands such an object over unread (json-scan.ts Defer).
   */
  static readAt(text: string, start: number): { value: KeptTargets; end: number } | undefined {
    if (text.charCodeAt(start) !== 0x7b) return undefined;
    const names: string[] = [];
    const starts: number[] = [];
    let p = start + 1;
    if (text.charCodeAt(p) === 0x7d) {
      p++;
    } else {
      // Members, each ending in `,` (another follows) or the closing `}`.
      for (;;) {
        MEMBER.lastIndex = p;
        if (!MEMBER.test(text)) return undefined;
        names.push(text.slice(p + 1, text.indexOf('"', p + 1)));
        starts.push(p - start);
        p = MEMBER.lastIndex;
        if (text.charCodeAt(p - 1) === 0x7d) break;
      }
    }
    // A name holds no control character (MEMBER): representable unless a surrogate is lone.
    if (!inCanonicalOrder(names) || !representable(names)) return undefined;
    const whole = text.slice(start, p);
    starts.push(whole.length);
    return {
      value: new KeptTargets(names, whole, starts, !names.some(hasSurrogate)),
      end: p,
    };
  }

  /** A parsed targets object kept as text, or undefined (see the file comment). */
  static of(targets: JsonObject): KeptTargets | undefined {
    const names = Object.keys(targets);
    if (!inCanonicalOrder(names) || !representable(names)) return undefined;
    const text = new Joined();
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const value = targets[name];
      if (!FileMeta.isCanonicalCommon(value)) return undefined;
      text.member(`${quoted(name)}:${JSON.stringify(value)}`);
    }
    const { whole, starts } = text.done();
    return new KeptTargets(names, whole, starts, !names.some(hasSurrogate));
  }

  /** Where `name` is in names, or −1. */
  private indexOf(name: string): number {
    const { names } = this;
    const plain = this.plain && !hasSurrogate(name);
    let lo = 0;
    let hi = names.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const other = names[mid] as string;
      if (other === name) return mid;
      const below = plain ? other < name : compareUtf8(other, name) < 0;
      if (below) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Whether a target of this name is listed. */
  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** The canonical text of the targets object. */
  text(): string {
    return this.whole;
  }

  /** The text of member i, `"name":{…}`. */
  private member(i: number): string {
    return this.whole.slice(this.starts[i], (this.starts[i + 1] as number) - 1);
  }

  /** The FileMeta of the target of this name, if listed (`path`: the targets object's JSON pointer). */
  meta(name: string, path: string): FileMeta | undefined {
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.metaAt(i, path);
  }

  private metaAt(i: number, path: string): FileMeta {
    const name = this.names[i] as string;
    const value = this.member(i).slice(quoted(name).length + 1);
    return (
      FileMeta.fromCommonText(value) ??
      FileMeta.fromJson(JSON.parse(value) as JsonValue, path, name)
    );
  }

  /** A map of FileMeta, in canonical order (what a caller asking for targets gets). */
  toMap(path: string): Map<string, FileMeta> {
    const map = new Map<string, FileMeta>();
    for (let i = 0; i < this.names.length; i++) {
      map.set(this.names[i] as string, this.metaAt(i, path));
    }
    return map;
  }

  /**
   * Targets whose member texts are `values` (name → the canonical text of a target in the
   * common shape: FileMeta.sha256HexText, or canonicalText of a FileMeta that isCommon), in
   * canonical order; undefined when a name cannot be written.
   */
  static fromValues(values: ReadonlyMap<string, string>): KeptTargets | undefined {
    const names = [...values.keys()];
    if (!representable(names)) return undefined;
    sortCanonical(names);
    const text = new Joined();
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      text.member(`${quoted(name)}:${values.get(name) as string}`);
    }
    const { whole, starts } = text.done();
    return new KeptTargets(names, whole, starts, !names.some(hasSurrogate));
  }

  /**
   * These targets with `add` set (kept targets, or a map of FileMeta) and `remove` (names)
   * taken out, kept alike; undefined when an added target or name is not one these could
   * keep. A target both added and removed is added.
   */
  with(
    add: KeptTargets | ReadonlyMap<string, FileMeta> | undefined,
    remove: readonly string[],
  ): KeptTargets | undefined {
    if (add instanceof KeptTargets) return this.merged(add, remove);
    const values = new Map<string, string>();
    let common = true;
    add?.forEach((meta, name) => {
      if (!common) return;
      common = meta.isCommon();
      if (common) values.set(name, meta.canonicalText());
    });
    if (!common) return undefined;
    const kept = KeptTargets.fromValues(values);
    return kept && this.merged(kept, remove);
  }

  /**
   * Both lists merged in one pass, `add` replacing a target of the same name; the text
   * written in runs, each a slice of one side's text (members in a row from one side).
   */
  private merged(add: KeptTargets, remove: readonly string[]): KeptTargets {
    const plain = this.plain && add.plain;
    const before = plain
      ? (a: string, b: string): boolean => a < b
      : (a: string, b: string): boolean => compareUtf8(a, b) < 0;
    const removed = new Set(remove);
    const names: string[] = [];
    const text = new Joined();
    // The open run: members [from, to) of one side (`side`: none yet, these, or add's).
    let side: KeptTargets | undefined;
    let from = 0;
    let to = 0;
    let runs = 0;
    const take = (of: KeptTargets, k: number): void => {
      names.push(of.names[k] as string);
      if (side === of && to === k) {
        to = k + 1;
        return;
      }
      if (side) text.run(side.whole, side.starts, from, to);
      side = of;
      from = k;
      to = k + 1;
      runs++;
    };
    const mine = this.names;
    const theirs = add.names;
    let i = 0;
    let j = 0;
    while (i < mine.length || j < theirs.length) {
      const name = mine[i];
      const other = theirs[j];
      if (other !== undefined && (name === undefined || other === name || before(other, name))) {
        if (other === name) i++;
        take(add, j++);
      } else {
        if (!(removed.size > 0 && removed.has(name as string))) take(this, i);
        i++;
      }
    }
    // Every target replaced by one of add's, and nothing else: add's targets as they are.
    if (runs === 1 && side === add && from === 0 && to === add.names.length) return add;
    if (side) text.run(side.whole, side.starts, from, to);
    const { whole, starts } = text.done();
    return new KeptTargets(names, whole, starts, plain);
  }
}
