/**
 * The version 1 API under /v1/: each route authenticates the bearer token, reads and
 * checks the request's shape, makes one call to the services and returns its result.
 * Authorisation, policy, signing and audit all happen inside the services; nothing here
 * decides what may be signed.
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { PeerCertificate } from '../../src/policy/clients';
import type Router from '@koa/router';
import type { z } from 'zod';
import type { Client, DaemonServices, SignRequest } from '../../src/signing/types';
import { DEFER_TARGETS } from '../../src/metadata/targets';
import { readJsonBody } from '../http/body';
import type { DaemonContext, DaemonState } from '../http/context';
import { TurnQueue } from '../http/turns';
import {
  emptyQuery,
  generateKeyBody,
  keysQuery,
  resetRepositoryBody,
  rootCertificateBody,
  signDelegationBody,
  signRootBody,
  signTargetsBody,
  validate,
} from '../http/schemas';

export interface V1Deps {
  services: DaemonServices;
  bodyBytes: number;
  /** Shared by the signing routes (one per daemon); a fresh one by default. */
  turns?: TurnQueue;
}

/** Optional members only when present, so services can tell "absent" from "undefined". */
function present<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The verified client certificate of a mutual-TLS connection, if there is one. */
function peerOf(ctx: DaemonContext): PeerCertificate | undefined {
  const socket = ctx.req.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function')
    return undefined;
  if (socket.authorized !== true) return undefined;
  const cert = socket.getPeerCertificate();
  if (cert === null || cert.raw === undefined) return undefined;
  return {
    subject: (cert.subject ?? {}) as unknown as PeerCertificate['subject'],
    sha256: createHash('sha256').update(cert.raw).digest('hex'),
  };
}

export function registerV1Routes(router: Router<DaemonState>, deps: V1Deps): void {
  const { services } = deps;

  /** throws: UNAUTHENTICATED (from the services) */
  const authenticate = (ctx: DaemonContext): Client => {
    ctx.set('Cache-Control', 'no-store');
    const client = services.authenticate(ctx.get('Authorization') || undefined, peerOf(ctx));
    ctx.state.client = client;
    return client;
  };
  /** A POST's JSON body; POST endpoints define no query parameters, so any is refused. */
  const body = async (ctx: DaemonContext): Promise<unknown> => {
    const parsed = await readJsonBody(ctx, deps.bodyBytes);
    validate(emptyQuery, ctx.query, 'query');
    return parsed.value;
  };
  /**
   * A signing request's body checked against `schema`, with the bytes of its `signed` member
   * when the body wrote it canonically (the guard then signs those instead of encoding it),
   * and then a targets role's targets as read from that text (never parsed as objects).
   */
  const signBody = <S extends z.ZodType<object>>(
    ctx: DaemonContext,
    client: Client,
    endpoint: SignRequest['endpoint'],
    schema: S,
  ): Promise<z.output<S> & Pick<SignRequest, 'signedBytes' | 'signedTargets'>> =>
    checked(ctx, client, endpoint, async () => {
      const defer = endpoint === 'sign/root' ? undefined : DEFER_TARGETS;
      const { value, kept, deferred } = await readJsonBody(ctx, deps.bodyBytes, 'signed', defer);
      validate(emptyQuery, ctx.query, 'query');
      const b = validate(schema, value);
      if (kept === undefined) return b;
      return deferred === undefined
        ? { ...b, signedBytes: kept }
        : { ...b, signedBytes: kept, signedTargets: deferred };
    });

  /**
   * Reads and checks a POST body; a request refused here, after authentication, is audited
   * like every refusal the services make (the audit answer wins if it cannot be written).
   */
  const checked = async <T>(
    ctx: DaemonContext,
    client: Client,
    endpoint: string,
    read: () => Promise<T>,
  ): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      await services.auditRefusal(client, {
        endpoint,
        requestId: ctx.state.requestId,
        clientRequestId: ctx.state.clientRequestId,
        error: err,
      });
      throw err;
    }
  };

  router.get('/v1/tokens', async (ctx) => {
    const client = authenticate(ctx);
    validate(emptyQuery, ctx.query, 'query');
    ctx.body = { tokens: await services.tokens(client) };
  });

  router.get('/v1/keys', async (ctx) => {
    const client = authenticate(ctx);
    const q = validate(keysQuery, ctx.query, 'query');
    ctx.body = { keys: await services.keys(client, present({ gun: q.gun })) };
  });

  router.get('/v1/keys/touch', (ctx) => {
    const client = authenticate(ctx);
    validate(emptyQuery, ctx.query, 'query');
    ctx.body = { keys: services.touchKeys(client) };
  });

  router.post('/v1/keys', async (ctx) => {
    const client = authenticate(ctx);
    const b = await checked(ctx, client, 'keys/generate', async () =>
      validate(generateKeyBody, await body(ctx)),
    );
    const key = await services.generateKey(
      client,
      present({ ...b, requestId: ctx.state.requestId, clientRequestId: ctx.state.clientRequestId }),
    );
    ctx.status = 201;
    ctx.body = { key };
  });

  router.post('/v1/certificates/root', async (ctx) => {
    const client = authenticate(ctx);
    const b = await checked(ctx, client, 'certificates/root', async () =>
      validate(rootCertificateBody, await body(ctx)),
    );
    ctx.body = await services.rootCertificate(
      client,
      present({ ...b, requestId: ctx.state.requestId, clientRequestId: ctx.state.clientRequestId }),
    );
  });

  router.post('/v1/repositories/reset', async (ctx) => {
    const client = authenticate(ctx);
    const b = await checked(ctx, client, 'repositories/reset', async () =>
      validate(resetRepositoryBody, await body(ctx)),
    );
    ctx.body = await services.resetRepository(
      client,
      present({
        gun: b.gun,
        requestId: ctx.state.requestId,
        clientRequestId: ctx.state.clientRequestId,
      }),
    );
  });

  /**
   * A signing request takes a turn of its own for its checks and signing, and another for
   * its answer (daemon/http/turns.ts), so health checks get in between.
   */
  const turns = deps.turns ?? new TurnQueue();
  const sign = async (ctx: DaemonContext, client: Client, req: SignRequest): Promise<void> => {
    const result = await services.sign(client, present({ ...req }));
    await turns.next();
    ctx.body =
      result.leaseMs === undefined
        ? { signatures: result.signatures }
        : { signatures: result.signatures, leaseMs: result.leaseMs };
  };

  router.post('/v1/sign/root', async (ctx) => {
    const client = authenticate(ctx);
    await turns.next();
    const b = await signBody(ctx, client, 'sign/root', signRootBody);
    await sign(ctx, client, {
      endpoint: 'sign/root',
      role: 'root',
      ...b,
      requestId: ctx.state.requestId,
      clientRequestId: ctx.state.clientRequestId,
    });
  });

  router.post('/v1/sign/targets', async (ctx) => {
    const client = authenticate(ctx);
    await turns.next();
    const b = await signBody(ctx, client, 'sign/targets', signTargetsBody);
    await sign(ctx, client, {
      endpoint: 'sign/targets',
      role: 'targets',
      ...b,
      requestId: ctx.state.requestId,
      clientRequestId: ctx.state.clientRequestId,
    });
  });

  router.post('/v1/sign/delegation', async (ctx) => {
    const client = authenticate(ctx);
    await turns.next();
    const b = await signBody(ctx, client, 'sign/delegation', signDelegationBody);
    await sign(ctx, client, {
      endpoint: 'sign/delegation',
      ...b,
      requestId: ctx.state.requestId,
      clientRequestId: ctx.state.clientRequestId,
    });
  });
}
