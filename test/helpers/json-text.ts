/**
 * A JSON writer for fuzzing: the same document as JSON.stringify would write, or re-encoded
 * without changing what it means (members reordered, whitespace, every string character
 * escaped as \uXXXX), or with things JSON.parse-built objects cannot hold: duplicate
 * members and raw text (numbers such as `1e400`, `-0` or 20-digit integers, nesting
 * deeper than a recursive writer goes).
 */

/** JSON text written exactly as given (numbers such as `1e400`, deep nesting). */
export class RawText {
  constructor(readonly text: string) {}
}

/** Members written a second time, after the object's own members. */
export const DUPLICATES = new WeakMap<object, [string, unknown][]>();

export interface TextStyle {
  /** Spaces per level (0: compact). */
  readonly indent: number;
  /** Write every string character as \uXXXX. */
  readonly escapeAll: boolean;
  /** Reverse each object's member order. */
  readonly reverse: boolean;
}

export const PLAIN: TextStyle = { indent: 0, escapeAll: false, reverse: false };

function str(s: string, style: TextStyle): string {
  if (!style.escapeAll) return JSON.stringify(s);
  let out = '"';
  for (let i = 0; i < s.length; i++) out += `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return `${out}"`;
}

export function writeJson(v: unknown, style: TextStyle = PLAIN, depth = 0): string {
  const nl = style.indent > 0 ? `\n${' '.repeat(style.indent * (depth + 1))}` : '';
  const end = style.indent > 0 ? `\n${' '.repeat(style.indent * depth)}` : '';
  const colon = style.indent > 0 ? ': ' : ':';
  if (v instanceof RawText) return v.text;
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return JSON.stringify(v);
  if (typeof v === 'string') return str(v, style);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[${v.map((x) => nl + writeJson(x, style, depth + 1)).join(',')}${end}]`;
  }
  if (typeof v === 'object') {
    const members: [string, unknown][] = Object.keys(v).map((k) => [
      k,
      (v as Record<string, unknown>)[k],
    ]);
    if (style.reverse) members.reverse();
    members.push(...(DUPLICATES.get(v) ?? []));
    if (members.length === 0) return '{}';
    const body = members.map(
      ([k, x]) => `${nl}${str(k, style)}${colon}${writeJson(x, style, depth + 1)}`,
    );
    return `{${body.join(',')}${end}}`;
  }
  throw new Error(`cannot write ${typeof v}`);
}
