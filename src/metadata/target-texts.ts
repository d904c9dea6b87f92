/**
 * Targets to add, each held as the canonical text its FileMeta has in a targets object
 * (FileMeta's common shape; any other target is kept as its FileMeta) rather than as a
 * FileMeta: 10,000 tags from a file make 10,000 short strings, not
 * 10,000 models, and go into kept targets as text (`kept`, KeptTargets.with). For every
 * other reader it is a ReadonlyMap<string, FileMeta>, each FileMeta made when asked for.
 * Like a Map, a name set again keeps its place and takes the last target.
 */
import { FileMeta } from './file-meta';
import { KeptTargets } from './kept-targets';

export class TargetTexts implements ReadonlyMap<string, FileMeta> {
  /** Each name's canonical text; a target kept targets cannot hold, as it is. */
  private readonly texts = new Map<string, string | FileMeta>();
  /** Every text is in FileMeta's common shape (what kept targets hold). */
  private common = true;
  /** kept(), once made (undefined: not yet, or changed since). */
  private sorted: KeptTargets | undefined;

  /** Sets the target of `name`. */
  set(name: string, meta: FileMeta): this {
    const common = meta.isCommon();
    this.common &&= common;
    return this.put(name, common ? meta.canonicalText() : meta);
  }

  /**
   * Sets a Docker-style target from its sha256 in hex, as set(name, FileMeta.sha256Hex(…));
   * with `at`, the 64 digits are read where it says in `hex`.
   * throws: USAGE (see FileMeta.sha256HexText)
   */
  setSha256Hex(name: string, hex: string, length: number, at?: number): this {
    return this.put(name, FileMeta.sha256HexText(hex, length, at));
  }

  private put(name: string, text: string | FileMeta): this {
    this.texts.set(name, text);
    this.sorted = undefined;
    return this;
  }

  /** All of them as kept targets (in canonical order), or undefined when one cannot be kept. */
  kept(): KeptTargets | undefined {
    if (!this.common) return undefined;
    this.sorted ??= KeptTargets.fromValues(this.texts as ReadonlyMap<string, string>);
    return this.sorted;
  }

  get size(): number {
    return this.texts.size;
  }

  has(name: string): boolean {
    return this.texts.has(name);
  }

  get(name: string): FileMeta | undefined {
    const text = this.texts.get(name);
    return typeof text === 'string' ? FileMeta.fromCommonText(text) : text;
  }

  forEach(each: (meta: FileMeta, name: string, map: ReadonlyMap<string, FileMeta>) => void): void {
    this.texts.forEach((_text, name) => each(this.get(name) as FileMeta, name, this));
  }

  keys(): MapIterator<string> {
    return this.texts.keys();
  }

  *entries(): MapIterator<[string, FileMeta]> {
    for (const name of this.texts.keys()) yield [name, this.get(name) as FileMeta];
  }

  *values(): MapIterator<FileMeta> {
    for (const name of this.texts.keys()) yield this.get(name) as FileMeta;
  }

  [Symbol.iterator](): MapIterator<[string, FileMeta]> {
    return this.entries();
  }
}
