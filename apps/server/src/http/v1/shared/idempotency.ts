import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AppError,
  beginIdempotentRequest,
  completeIdempotentRequest,
  idempotencyRequestHash,
  releaseIdempotentRequest,
  type IdempotencyScope,
} from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';

/** Printable ASCII, like Stripe's keys (UUIDs, ULIDs, hashes); 255 characters at most. */
const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

interface ClaimedKey {
  scope: IdempotencyScope;
  settled: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: ClaimedKey;
  }
}

/**
 * `Idempotency-Key` on every write (POST, PATCH, DELETE) of the consumer API (SPEC §4, checklist F-14, Stripe semantics):
 * the first request with a key runs and its status and body are stored for 24 h; a retry with the same
 * body gets exactly that response (header `Idempotent-Replayed: true`), also while the first is still
 * running (it waits); the same key with a different body is 422 idempotency_key_reused. Keys belong to
 * (workspace, API key). The claim happens in preHandler — after authentication and schema validation —
 * so requests that never started executing store nothing. 5xx responses release the key (retry runs again).
 */
export function registerIdempotency(app: FastifyInstance): void {
  app.decorateRequest('idempotency', undefined);

  app.addHook('preHandler', async (request, reply) => {
    if (!WRITE_METHODS.has(request.method)) return;
    const raw = request.headers['idempotency-key'];
    if (raw === undefined) return;
    if (typeof raw !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(raw)) {
      throw new AppError('validation_failed', 'Idempotency-Key must be 1–255 printable ASCII characters.', { header: 'idempotency-key' });
    }
    const auth = apiKeyOf(request);
    const scope: IdempotencyScope = { db: app.deps.database.db, workspaceId: auth.workspaceId, principal: auth.principal, key: raw };
    const outcome = await beginIdempotentRequest({
      ...scope,
      requestHash: idempotencyRequestHash({
        method: request.method,
        route: request.routeOptions.url ?? request.url,
        params: request.params,
        body: request.body,
      }),
    });
    if (outcome.state === 'replay') {
      reply.code(outcome.statusCode).header('idempotent-replayed', 'true');
      if (typeof outcome.body === 'string' && outcome.body.length > 0) reply.type('application/json; charset=utf-8');
      return reply.send(typeof outcome.body === 'string' ? outcome.body : JSON.stringify(outcome.body));
    }
    request.idempotency = { scope, settled: false };
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claimed = request.idempotency;
    if (!claimed || claimed.settled) return payload;
    claimed.settled = true;
    if (reply.statusCode >= 500 || (payload !== null && payload !== undefined && typeof payload !== 'string')) {
      await releaseIdempotentRequest(claimed.scope);
      return payload;
    }
    // The serialised body is kept verbatim, so a replay is byte-identical to the first response.
    await completeIdempotentRequest({ ...claimed.scope, statusCode: reply.statusCode, body: (payload as string | null) ?? '' });
    return payload;
  });

  app.addHook('onResponse', async (request) => {
    await settleAbandoned(request);
  });
  app.addHook('onRequestAbort', async (request) => {
    await settleAbandoned(request);
  });
}

async function settleAbandoned(request: FastifyRequest): Promise<void> {
  const claimed = request.idempotency;
  if (!claimed || claimed.settled) return;
  claimed.settled = true;
  await releaseIdempotentRequest(claimed.scope);
}
