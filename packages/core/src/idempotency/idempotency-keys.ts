import { and, eq, isNull, lt } from 'drizzle-orm';
import { schema, type Executor, type Json } from '@reusable-chat/db';
import { AppError } from '../errors/registry.ts';
import { safeEqual, sha256Hex } from '../shared/crypto.ts';

/** Stripe semantics (pusher-protocol.md §3.1, checklist F-14): keys live at least 24 h. */
export const IDEMPOTENCY_TTL_S = 24 * 3600;
/** Longest a retry waits for the first request with the same key to finish before answering 409. */
export const IDEMPOTENCY_WAIT_MS = 10_000;
const POLL_INTERVAL_MS = 25;
/**
 * A claim without a response after this long belongs to a request whose process died (requests time out
 * after 30 s): it is taken over instead of blocking the key for its whole TTL.
 */
export const IDEMPOTENCY_STALE_CLAIM_MS = 60_000;

export interface IdempotencyScope {
  readonly db: Executor;
  readonly workspaceId: string;
  /** Who owns the key, e.g. `api_key:<id>`: two principals never see each other's responses. */
  readonly principal: string;
  readonly key: string;
}

export type IdempotencyOutcome =
  | { readonly state: 'started' }
  | { readonly state: 'replay'; readonly statusCode: number; readonly body: Json };

/** Hash of what makes two requests "the same": method, route, path parameters and body. */
export function idempotencyRequestHash(parts: { method: string; route: string; params: unknown; body: unknown }): string {
  return sha256Hex(JSON.stringify([parts.method, parts.route, canonical(parts.params), canonical(parts.body)]));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value ?? null;
}

/**
 * Claims the key for this request, or returns the stored response of the earlier request with the same
 * key and body. The claim is an INSERT … ON CONFLICT DO NOTHING on the (workspace, principal, key)
 * primary key, so of two concurrent requests exactly one executes; the other waits for its response.
 * Different body → 422 idempotency_key_reused; still running after IDEMPOTENCY_WAIT_MS → 409.
 */
export async function beginIdempotentRequest(
  scope: IdempotencyScope & { requestHash: string; now?: Date; waitMs?: number },
): Promise<IdempotencyOutcome> {
  const { db, workspaceId, principal, key } = scope;
  const now = scope.now ?? new Date();
  const deadline = Date.now() + (scope.waitMs ?? IDEMPOTENCY_WAIT_MS);
  const match = and(
    eq(schema.idempotencyKeys.workspaceId, workspaceId),
    eq(schema.idempotencyKeys.principal, principal),
    eq(schema.idempotencyKeys.key, key),
  );
  // An expired key is forgotten, as if never used.
  await db.delete(schema.idempotencyKeys).where(and(match, lt(schema.idempotencyKeys.expiresAt, now)));
  const claimed = await db
    .insert(schema.idempotencyKeys)
    .values({
      workspaceId,
      principal,
      key,
      requestHash: scope.requestHash,
      createdAt: now,
      expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_S * 1000),
    })
    .onConflictDoNothing()
    .returning({ key: schema.idempotencyKeys.key });
  if (claimed.length > 0) return { state: 'started' };

  for (;;) {
    const [row] = await db.select().from(schema.idempotencyKeys).where(match).limit(1);
    if (!row) {
      // The first request failed and released the key: this one may run now.
      return beginIdempotentRequest({ ...scope, waitMs: Math.max(0, deadline - Date.now()) });
    }
    if (!safeEqual(row.requestHash, scope.requestHash)) throw new AppError('idempotency_key_reused');
    if (row.statusCode !== null) return { state: 'replay', statusCode: row.statusCode, body: row.responseBody ?? null };
    if (row.createdAt.getTime() < Date.now() - IDEMPOTENCY_STALE_CLAIM_MS) {
      const staleBefore = new Date(Date.now() - IDEMPOTENCY_STALE_CLAIM_MS);
      await db
        .delete(schema.idempotencyKeys)
        .where(and(match, isNull(schema.idempotencyKeys.statusCode), lt(schema.idempotencyKeys.createdAt, staleBefore)));
      return beginIdempotentRequest({ ...scope, waitMs: Math.max(0, deadline - Date.now()) });
    }
    if (Date.now() >= deadline) throw new AppError('idempotency_in_progress', undefined, undefined, 1);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** Stores the response of the request that claimed the key. */
export async function completeIdempotentRequest(scope: IdempotencyScope & { statusCode: number; body: Json }): Promise<void> {
  await scope.db
    .update(schema.idempotencyKeys)
    .set({ statusCode: scope.statusCode, responseBody: scope.body })
    .where(
      and(
        eq(schema.idempotencyKeys.workspaceId, scope.workspaceId),
        eq(schema.idempotencyKeys.principal, scope.principal),
        eq(schema.idempotencyKeys.key, scope.key),
        isNull(schema.idempotencyKeys.statusCode),
      ),
    );
}

/**
 * Releases a claimed key without a stored response (server error, aborted request), so a retry runs
 * again instead of replaying a failure that says nothing about the request.
 */
export async function releaseIdempotentRequest(scope: IdempotencyScope): Promise<void> {
  await scope.db
    .delete(schema.idempotencyKeys)
    .where(
      and(
        eq(schema.idempotencyKeys.workspaceId, scope.workspaceId),
        eq(schema.idempotencyKeys.principal, scope.principal),
        eq(schema.idempotencyKeys.key, scope.key),
        isNull(schema.idempotencyKeys.statusCode),
      ),
    );
}

/** For a periodic job: forget keys past their TTL. */
export async function purgeExpiredIdempotencyKeys(params: { db: Executor; now?: Date }): Promise<number> {
  const rows = await params.db
    .delete(schema.idempotencyKeys)
    .where(lt(schema.idempotencyKeys.expiresAt, params.now ?? new Date()))
    .returning({ key: schema.idempotencyKeys.key });
  return rows.length;
}
