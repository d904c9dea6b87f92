/**
 * The daemon's own description, served at GET /openapi.json: OpenAPI 3.1, written by
 * hand so that it says what the API promises rather than what a generator inferred.
 * test/unit/daemon checks it against the routes and request schemas.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });

/** Error responses shared by the routes under /v1/. */
const V1_ERRORS = {
  '400': { $ref: '#/components/responses/BadRequest' },
  '401': { $ref: '#/components/responses/Unauthenticated' },
  '403': { $ref: '#/components/responses/Forbidden' },
  '421': { $ref: '#/components/responses/HostNotAllowed' },
  '500': { $ref: '#/components/responses/Internal' },
};
const TOKEN_ERRORS = {
  '404': errorResponse('KEY_NOT_FOUND: no configured key of that name'),
  '423': errorResponse('PIN_LOCKED, PIN_FINAL_TRY, PIN_EXPIRED: the daemon will not log in'),
  '503': errorResponse(
    'TOKEN_NOT_PRESENT, TOKEN_BUSY (with Retry-After), TOKEN_SHUTDOWN, DEVICE_ERROR…',
  ),
  '504': errorResponse('TOKEN_TIMEOUT: the token did not answer in time (touch?)'),
};
const BODY_ERRORS = {
  '413': errorResponse('BODY_TOO_LARGE: the body exceeds the configured limit'),
  '415': errorResponse('UNSUPPORTED_MEDIA_TYPE: the body is not application/json'),
};

const name = { type: 'string', minLength: 1, maxLength: 128 };
const gun = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  description: 'Globally unique name, e.g. registry.example.com/acme/api',
};
const pin = {
  type: 'string',
  minLength: 1,
  maxLength: 256,
  description: 'Only for tokens whose PIN source is `request`; used once, never stored or logged',
};
const keyNames = {
  type: 'array',
  items: name,
  minItems: 1,
  maxItems: 32,
  description: 'Configured key names to sign with; default: every key the client may use',
};
const signed = {
  type: 'object',
  description: 'The Notary v1 `signed` object; the daemon parses and checks it before signing',
};

const signOperation = (summary: string, body: string, scope: string) => ({
  summary,
  description: `Requires a client allowed to ${scope}. The daemon checks \`_type\`, the caller's scope, the expiry window and version monotonicity, computes the canonical bytes itself, signs, and audits the decision.`,
  security: [{ bearer: [] }],
  requestBody: { required: true, content: json(ref(body)) },
  responses: {
    '200': { description: 'The signatures', content: json(ref('SignResult')) },
    '409': errorResponse('VERSION_ROLLBACK: not higher than the last version signed'),
    ...V1_ERRORS,
    ...TOKEN_ERRORS,
    ...BODY_ERRORS,
  },
});

/** The OpenAPI 3.1 document. */
export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'notary-hsmd',
    version: '1',
    description:
      'Signs Notary v1 metadata with keys that live in PKCS#11 tokens. Loopback only by default; every response carries X-Request-Id; errors are {"error":{"code","message","requestId"}}.',
  },
  servers: [{ url: 'http://127.0.0.1:7468' }],
  paths: {
    '/healthz': {
      get: {
        summary: 'The process is alive (never touches a token)',
        responses: { '200': { description: 'Alive', content: json(ref('Health')) } },
      },
    },
    '/readyz': {
      get: {
        summary: 'Every configured token is present and usable',
        responses: {
          '200': { description: 'Ready', content: json(ref('Readiness')) },
          '503': {
            description: 'Not ready; `problems` names why',
            content: json(ref('Readiness')),
          },
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (loopback clients only)',
        responses: {
          '200': {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          '403': { $ref: '#/components/responses/Forbidden' },
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } },
      },
    },
    '/v1/tokens': {
      get: {
        summary: 'Configured tokens: profile, presence, label, serial, PIN state',
        security: [{ bearer: [] }],
        responses: {
          '200': {
            description: 'The tokens',
            content: json({
              type: 'object',
              required: ['tokens'],
              properties: { tokens: { type: 'array', items: ref('TokenStatus') } },
            }),
          },
          ...V1_ERRORS,
        },
      },
    },
    '/v1/keys/touch': {
      get: {
        summary:
          'Which keys the caller may use can wait for a touch (from the configuration; never asks a token, so it answers while one waits)',
        security: [{ bearer: [] }],
        responses: {
          '200': {
            description: 'The keys and whether their token may wait for a touch',
            content: json({
              type: 'object',
              required: ['keys'],
              properties: {
                keys: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['name', 'role', 'token', 'touch'],
                    properties: {
                      name: { type: 'string' },
                      role: { enum: ['root', 'targets', 'delegation'] },
                      token: { type: 'string' },
                      touch: { type: 'boolean' },
                    },
                  },
                },
              },
            }),
          },
          ...V1_ERRORS,
        },
      },
    },
    '/v1/keys': {
      get: {
        summary: 'Keys the caller may use',
        security: [{ bearer: [] }],
        parameters: [{ name: 'gun', in: 'query', required: false, schema: gun }],
        responses: {
          '200': {
            description: 'The keys',
            content: json({
              type: 'object',
              required: ['keys'],
              properties: { keys: { type: 'array', items: ref('Key') } },
            }),
          },
          ...V1_ERRORS,
        },
      },
      post: {
        summary: 'Generate a key on a token (admin; never imported, never exported)',
        security: [{ bearer: [] }],
        requestBody: { required: true, content: json(ref('GenerateKeyRequest')) },
        responses: {
          '201': {
            description: 'The new key',
            content: json({ type: 'object', required: ['key'], properties: { key: ref('Key') } }),
          },
          '409': errorResponse('KEY_EXISTS, TOKEN_READ_ONLY'),
          ...V1_ERRORS,
          ...TOKEN_ERRORS,
          ...BODY_ERRORS,
        },
      },
    },
    '/v1/certificates/root': {
      post: {
        summary: 'The daemon builds and signs the self-signed x509 root certificate for {gun, key}',
        security: [{ bearer: [] }],
        requestBody: { required: true, content: json(ref('RootCertificateRequest')) },
        responses: {
          '200': {
            description: 'The certificate and its TUF key',
            content: json(ref('RootCertificate')),
          },
          ...V1_ERRORS,
          ...TOKEN_ERRORS,
          ...BODY_ERRORS,
        },
      },
    },
    '/v1/repositories/reset': {
      post: {
        summary:
          "Admin: the GUN's repository was deleted on the server; forget its versions so that they start over (audited)",
        security: [{ bearer: [] }],
        requestBody: { required: true, content: json(ref('ResetRepositoryRequest')) },
        responses: {
          '200': {
            description: 'How many roles of the GUN had versions',
            content: json(ref('ResetRepositoryResult')),
          },
          ...V1_ERRORS,
          ...BODY_ERRORS,
        },
      },
    },
    '/v1/sign/root': {
      post: signOperation('Sign a Notary v1 Root', 'SignRootRequest', 'sign root for the GUN'),
    },
    '/v1/sign/targets': {
      post: signOperation(
        'Sign the top-level targets role',
        'SignTargetsRequest',
        'sign targets for the GUN',
      ),
    },
    '/v1/sign/delegation': {
      post: signOperation(
        'Sign a delegation role targets/<name>',
        'SignDelegationRequest',
        'sign that delegation role, with every target inside its allowed paths',
      ),
    },
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'A client token; the daemon stores only its SHA-256',
      },
    },
    responses: {
      BadRequest: errorResponse(
        'BAD_REQUEST, BAD_JSON, UNKNOWN_FIELD, or a metadata code (FIELD_*, TYPE_MISMATCH, JSON_*…)',
      ),
      Unauthenticated: errorResponse('UNAUTHENTICATED: no or unknown bearer token'),
      Forbidden: errorResponse('FORBIDDEN: the client may not do this'),
      HostNotAllowed: errorResponse('HOST_NOT_ALLOWED: the Host header is not on the allowlist'),
      Internal: errorResponse('INTERNAL: the daemon log has the details'),
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message', 'requestId'],
            properties: {
              code: {
                type: 'string',
                pattern: '^[A-Z][A-Z0-9_]*$',
                description:
                  'Stable code: 400 BAD_REQUEST/BAD_JSON/UNKNOWN_FIELD, 401 UNAUTHENTICATED, 403 FORBIDDEN, 404 NOT_FOUND/KEY_NOT_FOUND, 405 METHOD_NOT_ALLOWED, 409 VERSION_ROLLBACK/KEY_EXISTS, 413 BODY_TOO_LARGE, 415 UNSUPPORTED_MEDIA_TYPE, 421 HOST_NOT_ALLOWED, 423 PIN_LOCKED, 500 INTERNAL, 503 TOKEN_NOT_PRESENT/TOKEN_BUSY, 504 TOKEN_TIMEOUT',
              },
              message: { type: 'string', description: 'What to fix (generic for 5xx)' },
              requestId: { type: 'string', description: "The daemon's own ID of the request" },
              details: {
                type: 'object',
                description:
                  'VERSION_ROLLBACK: role, version, lastVersion (the last handed out), lastSignedAgeMs (how long ago), leaseMs (the publish lease); VERSION_JUMP: role, version, lastVersion, maxVersion',
              },
            },
          },
        },
      },
      Health: {
        type: 'object',
        required: ['status'],
        properties: { status: { const: 'ok' } },
      },
      Readiness: {
        type: 'object',
        required: ['status'],
        properties: {
          status: { enum: ['ready', 'not_ready'] },
          problems: { type: 'array', items: { type: 'string' } },
        },
      },
      TokenStatus: {
        type: 'object',
        required: ['name', 'profile', 'present'],
        properties: {
          name: { type: 'string' },
          profile: { type: 'string' },
          present: { type: 'boolean' },
          label: { type: 'string' },
          serial: { type: 'string' },
          pinState: { enum: ['ok', 'count_low', 'final_try', 'locked'] },
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
      TufPublicKey: {
        type: 'object',
        required: ['keytype', 'keyval'],
        properties: {
          keytype: { enum: ['ecdsa', 'ecdsa-x509', 'rsa', 'rsa-x509', 'ed25519'] },
          keyval: {
            type: 'object',
            required: ['public'],
            properties: { private: { type: 'null' }, public: { type: 'string' } },
          },
        },
      },
      Key: {
        type: 'object',
        required: ['name', 'role', 'token', 'keyId', 'publicKey'],
        properties: {
          name: { type: 'string' },
          role: { enum: ['root', 'targets', 'delegation'] },
          token: { type: 'string' },
          keyId: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          publicKey: ref('TufPublicKey'),
        },
      },
      RootCertificate: {
        type: 'object',
        required: ['gun', 'key', 'publicKey', 'keyId', 'certificatePem'],
        properties: {
          gun: { type: 'string' },
          key: { type: 'string' },
          publicKey: ref('TufPublicKey'),
          keyId: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          certificatePem: { type: 'string' },
        },
      },
      ResetRepositoryRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['gun'],
        properties: { gun },
      },
      ResetRepositoryResult: {
        type: 'object',
        required: ['gun', 'forgotten'],
        properties: { gun: { type: 'string' }, forgotten: { type: 'integer', minimum: 0 } },
      },
      SignResult: {
        type: 'object',
        required: ['signatures'],
        properties: {
          leaseMs: {
            type: 'integer',
            description:
              'Publish these signatures within a third of this; after it, others may sign past this version',
          },
          signatures: {
            type: 'array',
            items: {
              type: 'object',
              required: ['keyid', 'method', 'sig'],
              properties: {
                keyid: { type: 'string' },
                method: { type: 'string', examples: ['ecdsa'] },
                sig: { type: 'string', contentEncoding: 'base64' },
              },
            },
          },
        },
      },
      GenerateKeyRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['token', 'label', 'role'],
        properties: {
          token: name,
          label: name,
          id: { type: 'string', pattern: '^(?:[0-9a-f]{2}){1,64}$', description: 'CKA_ID (hex)' },
          role: { enum: ['root', 'targets', 'delegation'] },
        },
      },
      RootCertificateRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['gun', 'key'],
        properties: { gun, key: name, pin },
      },
      SignRootRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['gun', 'signed'],
        properties: { gun, signed, keys: keyNames, pin },
      },
      SignTargetsRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['gun', 'signed'],
        properties: { gun, signed, keys: keyNames },
      },
      SignDelegationRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['gun', 'role', 'signed'],
        properties: {
          gun,
          role: { type: 'string', minLength: 1, maxLength: 255, examples: ['targets/ci-build'] },
          signed,
          keys: keyNames,
        },
      },
    },
  },
} as const;
