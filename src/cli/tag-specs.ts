/**
 * Tag specs as `sign`, `add` and `remove` take them: `TAG=sha256:HEX:SIZE` (the tag being
 * everything before the last `=sha256:`), from arguments or the lines of a --from-file.
 * Every refusal is a USAGE error naming the spec (and, for a file, its line).
 */
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { NotaryHsmError } from '../errors';
import { FileMeta } from '../metadata/file-meta';
import { targetNameProblem } from '../metadata/targets';

export function usage(message: string): NotaryHsmError {
  return new NotaryHsmError('USAGE', message);
}

/** `sha256:<64 hex>` and a size → Docker-style FileMeta. */
export function targetMeta(digest: string, size: string): FileMeta {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw usage(`digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex>`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size)))
    throw usage(`size ${JSON.stringify(size)}: expected bytes`);
  return FileMeta.sha256(Buffer.from(m[1] as string, 'hex'), Number(size));
}

/** One tag spec and where it was given (`--from-file F line N`, or nothing for an argument). */
export interface Spec {
  readonly text: string;
  /** The --from-file it is a line of, and the line's number. */
  readonly file?: string;
  readonly line?: number;
}

function where(spec: Spec): string {
  const from = spec.file === undefined ? '' : `--from-file ${spec.file} line ${spec.line}: `;
  return `${from}${JSON.stringify(spec.text)}`;
}

/**
 * `tag` if Go can write it as a target name (the metadata model's one check).
 * throws: USAGE naming the spec
 */
export function checkTag(tag: string, spec: Spec): string {
  const problem = targetNameProblem(tag);
  if (problem !== undefined) throw usage(`${where(spec)}: ${problem}`);
  return tag;
}

export const SPEC_MARK = '=sha256:';
const WELL_FORMED_TAIL = /^([0-9a-f]{64}):(0|[1-9][0-9]{0,15})$/;

/** The tag, the digest in hex and the size of a spec. */
export type TagParts = readonly [tag: string, hex: string, size: number];

/**
 * `TAG=sha256:HEX:SIZE`, the tag being everything before the last `=sha256:`: the tag,
 * the digest in hex and the size.
 * throws: USAGE
 */
export function splitTagSpec(spec: Spec): TagParts {
  const i = spec.text.lastIndexOf(SPEC_MARK);
  const tail = i < 0 ? '' : spec.text.slice(i + SPEC_MARK.length);
  const ok = WELL_FORMED_TAIL.exec(tail);
  if (ok && Number.isSafeInteger(Number(ok[2]))) {
    // The common case in one test; anything else is parsed below, which names what is wrong.
    return [checkTag(spec.text.slice(0, i), spec), ok[1] as string, Number(ok[2])];
  }
  const m = i < 0 ? null : /^([0-9a-f]{64}):([0-9]+)$/.exec(tail);
  if (!m) throw usage(`${where(spec)}: expected TAG=sha256:HEX:SIZE`);
  const tag = checkTag(spec.text.slice(0, i), spec);
  return [tag, m[1] as string, targetMeta(`sha256:${m[1] as string}`, m[2] as string).length];
}

/**
 * `TAG=sha256:HEX:SIZE`, the tag being everything before the last `=sha256:`.
 * throws: USAGE
 */
export function parseTagSpec(spec: Spec): [string, FileMeta] {
  const [tag, hex, size] = splitTagSpec(spec);
  return [tag, FileMeta.sha256Hex(hex, size)];
}

/**
 * Every spec as parseTagSpec reads it, in order (a tag given twice keeps its last digest).
 * throws: USAGE
 */
export function parseTagSpecs(specs: readonly Spec[]): Map<string, FileMeta> {
  return new Map(specs.map(parseTagSpec));
}

/** The bytes of --from-file `path`. throws: USAGE (it cannot be read) */
export function readTagFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot read --from-file ${path}`, { cause });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * A --from-file's text: its bytes less a leading byte-order mark, decoded at once (a line
 * break is never part of a UTF-8 sequence, so its lines are the lines decoded one by one);
 * when that fails, line by line, to name the line that is not UTF-8.
 * throws: USAGE for a line that is not UTF-8
 */
export function fileText(bytes: Buffer, file: string): string {
  const start = bytes.subarray(0, 3).equals(BOM) ? 3 : 0;
  // ASCII (what tags and digests are written in) is its own UTF-8: copied, not decoded.
  if (isAscii(bytes)) return bytes.toString('latin1', start);
  try {
    return utf8.decode(bytes.subarray(start));
  } catch {
    return decodeLines(bytes, start, file);
  }
}

/** Whether a line (line break and one `\r` removed) is skipped: blank, or a comment. */
export function skipped(line: string): boolean {
  return line.trim() === '' || line.startsWith('#');
}

/**
 * The entries of a --from-file's bytes: each line exactly as written, less the line
 * break and one trailing `\r`; blank lines and lines starting with `#` skipped; a
 * leading byte-order mark dropped.
 * throws: USAGE for a line that is not UTF-8
 */
export function specLines(bytes: Buffer, file: string): Spec[] {
  const specs: Spec[] = [];
  const lines = fileText(bytes, file).split('\n');
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i] as string;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (!skipped(text)) specs.push({ text, file, line: i + 1 });
  }
  return specs;
}

/** The text decoded line by line. throws: USAGE naming the first line that is not UTF-8 */
function decodeLines(bytes: Buffer, from0: number, file: string): string {
  const lines: string[] = [];
  let start = from0;
  for (let n = 1; start <= bytes.length; n++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      lines.push(utf8.decode(bytes.subarray(start, end)));
    } catch (cause) {
      throw new NotaryHsmError('USAGE', `--from-file ${file} line ${n}: not valid UTF-8`, {
        cause,
      });
    }
    start = end + 1;
  }
  return lines.join('\n');
}
