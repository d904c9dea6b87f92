/**
 * Turns a non-2xx answer of notary-server into a NotaryHsmError. The server answers with
 * docker/distribution error bodies, `{"errors":[{"code","message","detail"}]}`; the first
 * error decides the code (METADATA_NOT_FOUND → SERVER_NOT_FOUND, INVALID_UPDATE →
 * SERVER_INVALID_UPDATE with the validator's Name and Error.Msg, VERSION →
 * SERVER_VERSION_CONFLICT), then the HTTP status (401/403, other 4xx, 5xx). Bodies that are
 * not such JSON (a proxy's HTML page, a truncated body) are quoted, shortened and cleaned.
 */
import { NotaryHsmError, type ServerErrorCode } from '../errors';
import type { HttpResponse } from './http';

/** What was asked, for messages: `timestamp.json of example.com/app (GET, …)`. */
export interface RequestContext {
  method: string;
  url: string;
  gun: string;
  /** A short description of the object, e.g. `targets.json` or `the repository`. */
  what: string;
}

interface ServerErrorEntry {
  code?: string;
  message?: string;
  detail?: unknown;
}

function firstError(body: Buffer): ServerErrorEntry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const first: unknown = errors[0];
  if (typeof first !== 'object' || first === null) return undefined;
  const { code, message, detail } = first as Record<string, unknown>;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
    ...(detail === undefined ? {} : { detail }),
  };
}

// eslint-disable-next-line no-control-regex -- replacing control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f]+/g;

/** A body quoted for a message: one line, printable, at most 200 characters. */
function snippet(body: Buffer, truncated: boolean): string {
  const text = body.toString('utf8').replace(CONTROLS, ' ').trim();
  if (text === '') return '(empty body)';
  return JSON.stringify(text.slice(0, 200)) + (truncated || text.length > 200 ? '…' : '');
}

/** `Name: Msg` from an INVALID_UPDATE detail (`{"Name":…,"Error":{"Msg":…}}`). */
function validationDetail(detail: unknown): { name?: string; reason?: string } {
  if (typeof detail !== 'object' || detail === null) return {};
  const { Name, Error: inner } = detail as Record<string, unknown>;
  const msg =
    typeof inner === 'object' && inner !== null
      ? (inner as Record<string, unknown>).Msg
      : undefined;
  return {
    ...(typeof Name === 'string' ? { name: Name } : {}),
    ...(typeof msg === 'string' ? { reason: msg } : {}),
  };
}

/** The NotaryHsmError for a non-2xx response (never returns a 2xx error). */
export function serverError(res: HttpResponse, ctx: RequestContext): NotaryHsmError {
  const entry = firstError(res.body);
  const op = `${ctx.what} of ${ctx.gun}`;
  const extra =
    typeof entry?.detail === 'string' && entry.detail !== '' ? ` (${entry.detail})` : '';
  const said = entry
    ? `${entry.code ?? 'no code'}: ${entry.message ?? 'no message'}${extra}`
    : `no Notary error body: ${snippet(res.body, res.truncated)}`;
  const details: Record<string, unknown> = { status: res.status, url: ctx.url, gun: ctx.gun };
  if (entry?.code !== undefined) details.serverCode = entry.code;
  if (entry?.message !== undefined) details.serverMessage = entry.message;
  if (entry?.detail !== undefined) details.serverDetail = entry.detail;
  const make = (code: ServerErrorCode, message: string): NotaryHsmError =>
    new NotaryHsmError(code, message, { details });

  if (res.status === 401 || res.status === 403) {
    return make(
      'SERVER_UNAUTHORIZED',
      `the Notary server refused ${op} (${ctx.method}, HTTP ${res.status}, ${said}); it requires credentials ` +
        `that grant access to ${ctx.gun}`,
    );
  }
  if (entry?.code === 'METADATA_NOT_FOUND' || res.status === 404) {
    return make(
      'SERVER_NOT_FOUND',
      `${ctx.what} of ${ctx.gun} is not on the Notary server (${ctx.method}, HTTP ${res.status}, ${said}); ` +
        'check the GUN and the server URL, or publish the repository first',
    );
  }
  if (entry?.code === 'INVALID_UPDATE') {
    const { name, reason } = validationDetail(entry.detail);
    if (name !== undefined) details.name = name;
    if (reason !== undefined) details.reason = reason;
    return make(
      'SERVER_INVALID_UPDATE',
      `the Notary server refused the update of ${ctx.gun}: ${name ?? 'invalid update'}: ` +
        `${reason ?? entry.message ?? 'no reason given'}; fix the trust data and publish again`,
    );
  }
  if (entry?.code === 'VERSION') {
    return make(
      'SERVER_VERSION_CONFLICT',
      `the Notary server already holds a newer version of a role of ${ctx.gun} (${said}); ` +
        'fetch the current trust data, apply the change to it and publish again',
    );
  }
  if (res.status >= 500) {
    return make(
      'SERVER_ERROR',
      `the Notary server failed on ${op} (${ctx.method}, HTTP ${res.status}, ${said}); try again later or check the server's log`,
    );
  }
  if (res.status >= 400) {
    return make(
      'SERVER_REJECTED',
      `the Notary server rejected ${op} (${ctx.method}, HTTP ${res.status}, ${said})`,
    );
  }
  return make(
    'SERVER_BAD_RESPONSE',
    `unexpected HTTP ${res.status} from the Notary server for ${op} (${ctx.method}); check the server URL ` +
      '(redirects are not followed)',
  );
}
