/**
 * The shapes of request bodies and query strings, checked before any service is called:
 * unknown members are refused (`UNKNOWN_FIELD`), wrong types and out-of-bound values are
 * `BAD_REQUEST`, and both name the field. Values are never echoed back (a PIN could be
 * one). `signed` is only checked to be a JSON object; the signing pipeline parses it.
 */
import { z } from 'zod';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src/metadata/json';
import { HttpError } from './errors';

const name = z.string().min(1).max(128);
const gun = z.string().min(1).max(255);
const pin = z.string().min(1).max(256);
const keyNames = z.array(name).min(1).max(32);
const signed = z.custom<JsonObject>((v) => isJsonObject(v as JsonValue), {
  message: 'must be a JSON object (the `signed` part of the metadata)',
});

export const generateKeyBody = z.strictObject({
  token: name,
  label: name,
  id: z
    .string()
    .regex(/^(?:[0-9a-f]{2}){1,64}$/, { message: 'must be lowercase hex bytes (CKA_ID), e.g. 01' })
    .optional(),
  role: z.enum(['root', 'targets', 'delegation']),
});

export const rootCertificateBody = z.strictObject({ gun, key: name, pin: pin.optional() });

export const signRootBody = z.strictObject({
  gun,
  signed,
  keys: keyNames.optional(),
  pin: pin.optional(),
});

export const signTargetsBody = z.strictObject({ gun, signed, keys: keyNames.optional() });

export const signDelegationBody = z.strictObject({
  gun,
  role: z.string().min(1).max(255),
  signed,
  keys: keyNames.optional(),
});

export const resetRepositoryBody = z.strictObject({ gun });

export const keysQuery = z.strictObject({ gun: gun.optional() });
export const emptyQuery = z.strictObject({});

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) {
    if (typeof v !== 'object' || v === null || !Object.prototype.hasOwnProperty.call(v, k)) {
      return undefined;
    }
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function quoted(field: string): string {
  return JSON.stringify(field.length > 64 ? `${field.slice(0, 64)}…` : field);
}

function toHttpError(issues: readonly z.core.$ZodIssue[], input: unknown, what: string): HttpError {
  const unknown = issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown?.code === 'unrecognized_keys') {
    const prefix = unknown.path.length > 0 ? `${unknown.path.map(String).join('.')}.` : '';
    const fields = unknown.keys.map((k) => prefix + k);
    return new HttpError('UNKNOWN_FIELD', `unknown ${what} field ${quoted(fields[0] ?? '')}`, {
      details: { fields },
    });
  }
  const issue = issues[0];
  if (!issue) return new HttpError('BAD_REQUEST', `the ${what} is not valid`);
  if (issue.path.length === 0) {
    return new HttpError('BAD_REQUEST', `the ${what} must be a JSON object`);
  }
  const field = issue.path.map(String).join('.');
  let problem: string;
  if (issue.code === 'invalid_type') {
    problem =
      valueAt(input, issue.path) === undefined ? ' is required' : ` must be a ${issue.expected}`;
  } else if (issue.code === 'custom') {
    problem = ` ${issue.message}`;
  } else {
    const text = issue.message.replace(/^Invalid input: /, '');
    problem = `: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
  }
  return new HttpError('BAD_REQUEST', `${what} field ${quoted(field)}${problem}`, {
    details: { field },
  });
}

/**
 * Checks `input` against `schema`.
 * throws: UNKNOWN_FIELD, BAD_REQUEST
 */
export function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: 'body' | 'query' = 'body',
): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw toHttpError(result.error.issues, input, what);
  return result.data;
}
