/**
 * URL building for notary-server's trust-data routes (`/v2/<gun>/_trust/tuf/<file>`), with
 * the checks that keep a GUN or role from escaping its place in the path: no empty, `.`
 * or `..` segments, no control characters, no `*` (the server's GUN pattern excludes it).
 * Each `/`-separated segment is percent-encoded with encodeURIComponent, except that `:`
 * stays readable (`example.com:5000/ns/app`), as the Go client sends it.
 */
import { NotaryHsmError } from '../errors';

/** The server's role pattern (server/server.go): base roles and `targets/…` delegations. */
const ROLE_PATTERN = /^(?:root|snapshot|timestamp|targets(?:\/[^/\s]+)*)$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
const CONTROL = /[\u0000-\u001f\u007f]/;

function encodeSegments(value: string): string {
  return value
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%3A/gi, ':'))
    .join('/');
}

function badSegments(value: string): boolean {
  return value.split('/').some((s) => s === '' || s === '.' || s === '..');
}

/** Checks a GUN and returns it path-encoded. throws: USAGE */
export function encodeGun(gun: string): string {
  if (
    typeof gun !== 'string' ||
    gun === '' ||
    gun.includes('*') ||
    CONTROL.test(gun) ||
    badSegments(gun)
  ) {
    throw new NotaryHsmError(
      'USAGE',
      `invalid GUN ${JSON.stringify(gun)}: use a repository name such as example.com/org/app ` +
        '(no empty, "." or ".." segments, no "*", no control characters)',
      { details: { gun } },
    );
  }
  try {
    return encodeSegments(gun);
  } catch (cause) {
    throw new NotaryHsmError(
      'USAGE',
      `invalid GUN ${JSON.stringify(gun)}: not well-formed Unicode`,
      {
        cause,
        details: { gun },
      },
    );
  }
}

/** Checks a role name against the server's route pattern and returns it path-encoded. throws: ROLE_NAME_INVALID */
export function encodeRole(role: string): string {
  if (
    typeof role !== 'string' ||
    !ROLE_PATTERN.test(role) ||
    CONTROL.test(role) ||
    badSegments(role)
  ) {
    throw new NotaryHsmError(
      'ROLE_NAME_INVALID',
      `invalid role ${JSON.stringify(role)}: use root, targets, snapshot, timestamp or targets/<name>`,
      { details: { role } },
    );
  }
  try {
    return encodeSegments(role);
  } catch (cause) {
    throw new NotaryHsmError('ROLE_NAME_INVALID', `invalid role ${JSON.stringify(role)}`, {
      cause,
      details: { role },
    });
  }
}

/**
 * `<base>/v2/<gun>/_trust/tuf/<file>`; `file` must already be encoded. A path in the base
 * URL (a server behind a path prefix) is kept; its query and fragment are dropped.
 */
export function tufUrl(base: URL, encodedGun: string, file: string): URL {
  const url = new URL(base.href);
  url.pathname = `${base.pathname.replace(/\/+$/, '')}/v2/${encodedGun}/_trust/tuf/${file}`;
  url.search = '';
  url.hash = '';
  return url;
}
