/**
 * The strict JSON reader (json.ts): character by character, for what the fast path leaves
 * to it. It accepts what JSON.parse accepts and Go decodes alike, and refuses the rest by
 * name: duplicate members, lone surrogates (raw or escaped), control characters, nesting
 * beyond MAX_JSON_DEPTH, and (when asked) numbers that are not integers.
 */
import { NotaryHsmError } from '../errors';
import { MAX_JSON_DEPTH, setMember, type JsonObject, type JsonValue } from './json-value';

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Parser {
  pos = 0;
  constructor(
    private readonly text: string,
    private readonly integersOnly: boolean,
  ) {}

  fail(what: string): never {
    throw new NotaryHsmError('JSON_INVALID', `invalid JSON at offset ${this.pos}: ${what}`, {
      details: { offset: this.pos },
    });
  }

  skipWs(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) {
      throw new NotaryHsmError('JSON_TOO_DEEP', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return value;
  }

  number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('expected a value');
    // The number itself is not quoted: it may be a secret sent with the wrong type (a PIN).
    if (this.integersOnly && /[.eE]/.test(m[0])) this.fail('a number that is not an integer');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  string(): string {
    const t = this.text;
    let p = this.pos + 1;
    let out = '';
    let start = p;
    for (;;) {
      if (p >= t.length) {
        this.pos = p;
        this.fail('unterminated string');
      }
      const c = t.charCodeAt(p);
      if (c === 0x22) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // Decoded bytes never hold lone surrogates, but string input may.
        const low = t.charCodeAt(p + 1);
        if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) {
          this.pos = p;
          this.fail('lone surrogate');
        }
        p += 2;
        continue;
      }
      if (c !== 0x5c) {
        p++;
        continue;
      }
      out += t.slice(start, p);
      const e = t[p + 1];
      p += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const unit = this.hex4(p);
          p += 4;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (t[p] !== '\\' || t[p + 1] !== 'u') {
              this.pos = p;
              this.fail('lone surrogate escape');
            }
            const low = this.hex4(p + 2);
            if (low < 0xdc00 || low > 0xdfff) {
              this.pos = p;
              this.fail('lone surrogate escape');
            }
            p += 6;
            out += String.fromCharCode(unit, low);
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            this.pos = p;
            this.fail('lone surrogate escape');
          } else {
            out += String.fromCharCode(unit);
          }
          break;
        }
        default:
          this.pos = p - 1;
          this.fail('invalid escape');
      }
      start = p;
    }
    out += t.slice(start, p);
    this.pos = p + 1;
    return out;
  }

  hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) {
      this.pos = at;
      this.fail('invalid \\u escape');
    }
    return parseInt(h, 16);
  }

  array(depth: number): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWs();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.value(depth + 1));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  object(depth: number): JsonObject {
    this.pos++;
    const out: JsonObject = {};
    this.skipWs();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.pos] !== '"') this.fail('expected a member name');
      const at = this.pos;
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        throw new NotaryHsmError('JSON_DUPLICATE_KEY', `duplicate member ${JSON.stringify(key)}`, {
          details: { offset: at, member: key },
        });
      }
      this.skipWs();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipWs();
      setMember(out, key, this.value(depth + 1));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
    }
  }
}

/**
 * Parses `text` strictly.
 * throws: JSON_INVALID, JSON_DUPLICATE_KEY, JSON_TOO_DEEP
 */
export function parseStrict(text: string, integersOnly: boolean): JsonValue {
  const parser = new Parser(text, integersOnly);
  parser.skipWs();
  const value = parser.value(0);
  parser.skipWs();
  if (parser.pos !== text.length) parser.fail('unexpected data after the JSON value');
  return value;
}
