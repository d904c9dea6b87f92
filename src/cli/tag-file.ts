/**
 * The tags of `add --from-file`, read in one pass over the file's text and in turns of
 * the event loop, so that 10,000 lines are read while the repository's trust data is on
 * its way. A file with no control character or surrogate beyond its line breaks (one test
 * of the whole text) holds no tag Go cannot write; only another file's tags are checked
 * one by one. A well-formed line makes its tag and its target's canonical text and nothing
 * else that lasts (no line string, no spec object, no match array, no FileMeta): its size is
 * read digit by digit, its digest checked by one sticky test and re-encoded where it lies
 * (hex-digest.ts), and it is added to the tags (TargetTexts) at once, so that each turn leaves
 * nothing for later. Any other line goes through the spec parser (tag-specs.ts), which
 * skips it or refuses it with the message and line number it always had. What is kept
 * survives every young-generation collection until the command ends, so the fewer objects
 * a line makes the less each collection copies.
 */
import type { TargetTexts } from '../metadata/target-texts';
import { targetNameProblem } from '../metadata/targets';
import { fileText, readTagFile, skipped, splitTagSpec, SPEC_MARK, type Spec } from './tag-specs';

/** Lines read per turn of the event loop: a few ms of work between two looks at the network. */
export const LINES_PER_TURN = 1000;
/**
 * Lines read before anything is asked of a server: a short file is checked whole first (a
 * bad tag then contacts nobody), a long one sends its first requests without waiting.
 */
export const FIRST_LINES = 100;

const HASH = 0x23;
const CR = 0x0d;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;

/** 64 lowercase hex digits where lastIndex says (sticky: no search, no match object). */
const LOWER_HEX_64 = /[0-9a-f]{64}/y;
/**
 * A character no tag may hold (a control character, a surrogate) other than the line
 * breaks `\n` and `\r\n`: a file without any holds only tags canonical JSON can write.
 */
// eslint-disable-next-line no-control-regex -- exactly the characters to find
const SUSPECT = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\ud800-\udfff]|\r(?!\n)/;

export class TagFile {
  /** Where the next line starts; past the end once every line is read. */
  private pos = 0;
  /** The number of the last line read. */
  private line = 0;
  /** No line holds a character a tag may not (SUSPECT): no tag need be checked alone. */
  private readonly plain: boolean;

  /**
   * `text`: the file decoded (fileText); `file`: its name as given, for messages; `into`:
   * where the tags go, in file order (a tag given again keeps its last digest).
   */
  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly into: TargetTexts,
  ) {
    this.plain = !SUSPECT.test(text);
  }

  /**
   * The file `path` read and decoded (nothing parsed yet), its tags to go `into`.
   * throws: USAGE (the file cannot be read, or a line is not UTF-8)
   */
  static open(path: string, into: TargetTexts): TagFile {
    return new TagFile(fileText(readTagFile(path), path), path, into);
  }

  /** True once every line is read. */
  get done(): boolean {
    return this.pos > this.text.length;
  }

  /** Whether any line is a spec (neither blank nor a comment); reads up to the first one. */
  hasSpec(): boolean {
    const { text } = this;
    for (let start = 0; start <= text.length;) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      let line = text.slice(start, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (!skipped(line)) return true;
      start = end + 1;
    }
    return false;
  }

  /**
   * Reads up to `lines` more lines (as specLines splits them, in order).
   * throws: USAGE for the first bad spec, as parseTagSpec words it
   */
  read(lines: number): void {
    const { text } = this;
    for (let n = 0; n < lines && this.pos <= text.length; n++) {
      const start = this.pos;
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      this.pos = end + 1;
      this.line++;
      if (end > start && text.charCodeAt(end - 1) === CR) end--;
      if (end === start || text.charCodeAt(start) === HASH) continue;
      if (!this.readWellFormed(start, end)) this.readOther(start, end);
    }
  }

  /** Reads the rest, LINES_PER_TURN lines a turn. throws: as read */
  async readAll(): Promise<void> {
    while (!this.done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.read(LINES_PER_TURN);
    }
  }

  /**
   * The line `text[start, end)` if it is exactly `TAG=sha256:HEX:SIZE` with a tag Go can
   * write (what splitTagSpec accepts), kept; false, keeping nothing, otherwise.
   */
  private readWellFormed(start: number, end: number): boolean {
    const { text } = this;
    // The size: 1–16 digits ending the line, no leading zero, a safe integer.
    let first = end;
    while (first > start && isDigit(text.charCodeAt(first - 1))) first--;
    const digits = end - first;
    if (digits === 0 || digits > 16 || (digits > 1 && text.charCodeAt(first) === ZERO)) {
      return false;
    }
    // A tail of hex digits, `:` and digits holds no `=`: this mark is the line's last.
    const colon = first - 1;
    const mark = colon - 64 - SPEC_MARK.length;
    if (mark < start || text.charCodeAt(colon) !== COLON || !text.startsWith(SPEC_MARK, mark)) {
      return false;
    }
    let size = 0;
    for (let k = first; k < end; k++) size = size * 10 + (text.charCodeAt(k) - ZERO);
    if (!Number.isSafeInteger(size)) return false;
    const hex = colon - 64;
    LOWER_HEX_64.lastIndex = hex;
    if (!LOWER_HEX_64.test(text)) return false;
    const tag = text.slice(start, mark);
    if (tag === '' || (!this.plain && targetNameProblem(tag) !== undefined)) return false;
    this.into.setSha256Hex(tag, text, size, hex);
    return true;
  }

  /** Any other line: skipped, refused, or (were the two readers ever to differ) kept. */
  private readOther(start: number, end: number): void {
    const spec: Spec = { text: this.text.slice(start, end), file: this.file, line: this.line };
    if (skipped(spec.text)) return;
    const [tag, hex, size] = splitTagSpec(spec);
    this.into.setSha256Hex(tag, hex, size);
  }
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}
