/**
 * The targets of a parsed file kept as the JSON members JSON.parse made of them, when that
 * object is exactly what the model would write: no model per target until one is asked
 * for (a targets file of 10,000 is read, checked, changed and written back without
 * building 10,000 FileMeta), and its canonical text is JSON.stringify's.
 *
 * KeptTargets.of accepts members only when JSON.stringify writes them canonically and
 * FileMeta.fromJson would accept each as it is:
 * - every name a string the canonical encoder writes as JSON.stringify does (no control
 *   character, no lone surrogate: one test of all of them when none holds either kind of
 *   character at all), in strictly increasing code point order;
 * - no name an array index ("0", "42"…: V8 lists those first, whatever the order they
 *   came in) and none `__proto__` (setting it changes a prototype, not a member);
 * - every value in FileMeta's common shape with its members in canonical order
 *   (FileMeta.isCanonicalCommon).
 * Anything else is held as a map of FileMeta, as before (Targets).
 *
 * The members object is never changed: a change makes a new one.
 */
import { allPlain, compareUtf8, inCanonicalOrder, isRepresentable } from './canonical';
import { FileMeta } from './file-meta';
import type { JsonObject } from './json';

/** A name V8 orders as an array index (a canonical decimal below 2^32 − 1). */
const INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/** Neither `__proto__` nor an array index (representable is checked apart, in bulk). */
function keepable(name: string): boolean {
  const c = name.charCodeAt(0);
  const digit = c >= 0x30 && c <= 0x39;
  return name !== '__proto__' && !(digit && INDEX.test(name) && Number(name) < 4294967295);
}

/** Every name representable: all plain (one test), or each checked. */
function representable(names: readonly string[]): boolean {
  return allPlain(names) || names.every(isRepresentable);
}

export class KeptTargets {
  /** The members, in canonical order; never changed. */
  readonly members: JsonObject;
  /** Their names, in the same order. */
  readonly names: readonly string[];

  private constructor(members: JsonObject, names: readonly string[]) {
    this.members = members;
    this.names = names;
  }

  /** `members` kept as they are, or undefined when they must be modelled (see the file comment). */
  static of(members: JsonObject): KeptTargets | undefined {
    const names = Object.keys(members);
    if (!inCanonicalOrder(names) || !representable(names)) return undefined;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (!keepable(name) || !FileMeta.isCanonicalCommon(members[name])) return undefined;
    }
    return new KeptTargets(members, names);
  }

  /** Whether a target of this name is listed. */
  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.members, name);
  }

  /** The canonical text of the targets object. */
  text(): string {
    return JSON.stringify(this.members);
  }

  /** The FileMeta of one listed target (`path`: the targets object's JSON pointer). */
  meta(name: string, path: string): FileMeta {
    return FileMeta.fromJson(this.members[name], path, name);
  }

  /** A map of FileMeta, in canonical order (what a caller asking for targets gets). */
  toMap(path: string): Map<string, FileMeta> {
    const map = new Map<string, FileMeta>();
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i] as string;
      map.set(name, this.meta(name, path));
    }
    return map;
  }

  /**
   * These targets with `add` set and `remove` (names) taken out, kept alike; undefined when
   * an added target or name is not one KeptTargets.of would keep.
   */
  with(
    add: ReadonlyMap<string, FileMeta> | undefined,
    remove: readonly string[],
  ): KeptTargets | undefined {
    const fresh: string[] = [];
    let ok = true;
    add?.forEach((meta, name) => {
      if (!ok) return;
      if (!meta.isCommon() || !keepable(name)) ok = false;
      else if (!this.has(name)) fresh.push(name);
    });
    if (!ok || (add !== undefined && !representable([...add.keys()]))) return undefined;
    const removed = new Set(remove.filter((n) => this.has(n) && add?.has(n) !== true));
    // Both lists are sorted: merged into a new object built in canonical order (a fresh
    // object filled in order is cheaper than a copy of a large one changed in place).
    fresh.sort(compareUtf8);
    const names: string[] = [];
    const members: JsonObject = {};
    const put = (name: string, meta: FileMeta | undefined): void => {
      names.push(name);
      members[name] = meta === undefined ? (this.members[name] as JsonObject) : meta.toJson();
    };
    let j = 0;
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i] as string;
      while (j < fresh.length && compareUtf8(fresh[j] as string, name) < 0) {
        const f = fresh[j++] as string;
        put(f, add?.get(f));
      }
      if (removed.size > 0 && removed.has(name)) continue;
      put(name, add?.get(name));
    }
    while (j < fresh.length) {
      const f = fresh[j++] as string;
      put(f, add?.get(f));
    }
    return new KeptTargets(members, names);
  }
}
