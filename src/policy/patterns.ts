/**
 * The names policy decisions compare: GUNs, GUN patterns and target-name patterns. A GUN
 * is validated before any pattern sees it, so that look-alikes (`Acme/x`, Cyrillic `а`,
 * fullwidth `ａ`), trailing slashes and dot segments are refused as GUN_INVALID instead of
 * slipping past a comparison. Matching is plain string work on validated ASCII: no
 * normalisation, no case folding, no regular expressions built from configuration.
 *
 * GUN grammar: `/`-separated segments of `[a-z0-9._-]`, each starting and ending with a
 * letter or digit (which rules out empty, `.` and `..` segments); the first segment may
 * end in `:PORT` (a registry host, 1..65535, no leading zero) when another segment
 * follows; at most 255 characters.
 *
 * GUN patterns: `*` (every GUN), an exact GUN, or `PREFIX/*`: every GUN strictly below
 * `PREFIX/` (`acme/*` matches `acme/x` and `acme/x/y`, never `acme`, `acme-evil/x` or
 * `acmex/y`).
 *
 * Target patterns: anchored at both ends; `*` matches any run of characters other than
 * `/` (also none), `**` any run of characters including `/` (also none); every other
 * character, `?` and `[` included, matches itself.
 */
import { NotaryHsmError } from '../errors';

/** Longest GUN we accept. */
export const MAX_GUN_LENGTH = 255;

const SEGMENT = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
const PORT = /^[1-9][0-9]{0,4}$/;

/** Why `gun` is not a GUN we accept, or undefined when it is one. */
export function gunProblem(gun: string): string | undefined {
  if (gun.length === 0) return 'is empty';
  if (gun.length > MAX_GUN_LENGTH) return `is longer than ${MAX_GUN_LENGTH} characters`;
  const segments = gun.split('/');
  for (let i = 0; i < segments.length; i++) {
    let segment = segments[i] as string;
    if (i === 0 && segment.includes(':')) {
      const colon = segment.indexOf(':');
      const port = segment.slice(colon + 1);
      if (!PORT.test(port) || Number(port) > 65535) return 'has an invalid port';
      if (segments.length === 1) return 'names a registry host and port but no repository';
      segment = segment.slice(0, colon);
    }
    if (!SEGMENT.test(segment)) {
      return 'is not lowercase a-z, 0-9, ".", "_", "-" in "/"-separated segments that start and end with a letter or digit';
    }
  }
  return undefined;
}

export function isValidGun(gun: string): boolean {
  return gunProblem(gun) === undefined;
}

/** `text` quoted for a message, cut to `max` characters (requests can carry huge strings). */
export function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/**
 * Returns `gun` when it is a GUN we accept.
 * throws: GUN_INVALID
 */
export function checkGun(gun: unknown): string {
  const problem = typeof gun === 'string' ? gunProblem(gun) : 'is not a string';
  if (problem !== undefined) {
    const shown = typeof gun === 'string' ? quote(gun) : 'the GUN';
    throw new NotaryHsmError('GUN_INVALID', `GUN ${shown} ${problem}`);
  }
  return gun as string;
}

/** Why `pattern` is not a GUN pattern, or undefined when it is one. */
export function gunPatternProblem(pattern: string): string | undefined {
  if (pattern === '*') return undefined;
  if (pattern.endsWith('/*')) {
    // The prefix is a GUN, or a registry host with its port (`localhost:5000/*`).
    const problem = gunProblem(`${pattern.slice(0, -2)}/x`);
    return problem === undefined ? undefined : `prefix ${problem}`;
  }
  if (pattern.includes('*')) return 'uses "*" other than as "*" or a final "/*"';
  return gunProblem(pattern);
}

/** Whether the GUN pattern `pattern` matches the (validated) GUN `gun`. */
export function gunMatches(pattern: string, gun: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) {
    const prefix = pattern.slice(0, -1); // keeps the '/'
    return gun.length > prefix.length && gun.startsWith(prefix);
  }
  return gun === pattern;
}

/**
 * Whether every GUN `inner` matches is also matched by `outer` (both valid GUN patterns):
 * `*` covers everything; `a/*` covers `a/x`, `a/x/*` and `a/x/y`; an exact GUN covers
 * only itself.
 */
export function gunPatternCovers(outer: string, inner: string): boolean {
  if (outer === '*' || outer === inner) return true;
  if (inner === '*' || !outer.endsWith('/*')) return false;
  const prefix = outer.slice(0, -1); // keeps the '/'
  const innerBase = inner.endsWith('/*') ? inner.slice(0, -1) : inner;
  return innerBase.length > prefix.length && innerBase.startsWith(prefix);
}

/** Whether any of `patterns` matches `gun`. */
export function anyGunMatches(patterns: readonly string[], gun: string): boolean {
  return patterns.some((p) => gunMatches(p, gun));
}

/** Why `pattern` is not a target pattern, or undefined when it is one. */
export function targetPatternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'is empty';
  if (pattern.length > 1024) return 'is longer than 1024 characters';
  if (pattern.includes('***')) return 'has "***" (use "*" or "**")';
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return 'holds a control character';
  return undefined;
}

/** One step of a compiled target pattern. */
type Token = { kind: 'char'; char: number } | { kind: 'star' } | { kind: 'globstar' };

function tokenize(pattern: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '*') {
      if (pattern[i + 1] === '*') {
        out.push({ kind: 'globstar' });
        i++;
      } else {
        out.push({ kind: 'star' });
      }
    } else {
      out.push({ kind: 'char', char: pattern.charCodeAt(i) });
    }
  }
  return out;
}

const SLASH = 0x2f;
const STAR = 0x2a;

/**
 * Whether the target pattern `pattern` matches all of `name` (see the file comment).
 * Runs in O(pattern × name) time without backtracking, whatever the input.
 */
export function targetMatches(pattern: string, name: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === name;
  // The common shapes, `PREFIX*` and `PREFIX**`, without a table per character (a
  // delegation's check runs once per target).
  const tail = pattern.length - star;
  if (tail === 1 || (tail === 2 && pattern.charCodeAt(star + 1) === STAR)) {
    if (!name.startsWith(pattern.slice(0, star))) return false;
    return tail === 2 || name.indexOf('/', star) === -1;
  }
  const tokens = tokenize(pattern);
  const n = name.length;
  // reach[j]: the tokens consumed so far can match exactly name[0, j).
  let reach = new Uint8Array(n + 1);
  reach[0] = 1;
  for (const t of tokens) {
    const next = new Uint8Array(n + 1);
    if (t.kind === 'char') {
      for (let j = 0; j < n; j++)
        if (reach[j] === 1 && name.charCodeAt(j) === t.char) next[j + 1] = 1;
    } else {
      let open = false; // some earlier position reached, with no '/' since (for `*`)
      for (let j = 0; j <= n; j++) {
        if (reach[j] === 1) open = true;
        if (open) next[j] = 1;
        if (t.kind === 'star' && j < n && name.charCodeAt(j) === SLASH) open = false;
      }
    }
    reach = next;
  }
  return reach[n] === 1;
}

/**
 * Whether `patterns` match every target name, so that none need be checked: one of them
 * is `**` (any run of characters, `/` included, or none).
 */
export function allTargetsMatch(patterns: readonly string[]): boolean {
  return patterns.includes('**');
}

/** The first of `patterns` that matches `name`, or undefined. */
export function matchingTargetPattern(
  patterns: readonly string[],
  name: string,
): string | undefined {
  return patterns.find((p) => targetMatches(p, name));
}

/** Role names compare exactly: no case folding, no prefixes, no trailing-slash tolerance. */
export function roleAllowed(roles: readonly string[], role: string): boolean {
  return roles.includes(role);
}
