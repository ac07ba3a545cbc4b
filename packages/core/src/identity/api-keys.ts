import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { randomToken, safeEqual, sha256Hex } from '../shared/crypto.ts';

export type ApiKeyRow = typeof schema.apiKeys.$inferSelect;
export type ApiKeyEnvironment = ApiKeyRow['environment'];
export type ApiKeyScope = ApiKeyRow['scope'];

/** `sk_<live|test|demo>_<random>` — the prefix lets secret scanners recognise a leaked key (checklist A-01). */
export const API_KEY_PATTERN = /^sk_(live|test|demo)_[A-Za-z0-9_]{16,128}$/;

export async function createApiKey(params: {
  db: Executor;
  workspaceId: string;
  environment?: ApiKeyEnvironment;
  scope?: ApiKeyScope;
  name?: string;
  /** Only for seeding a configured key (DEMO_API_KEY); normally generated. */
  plaintext?: string;
}): Promise<{ apiKey: string; record: ApiKeyRow }> {
  const environment = params.environment ?? (params.scope === 'demo' ? 'demo' : 'live');
  const apiKey = params.plaintext ?? `sk_${environment}_${randomToken(32)}`;
  if (!API_KEY_PATTERN.test(apiKey)) throw new Error('API key does not match sk_<env>_<random>');
  const [record] = await params.db
    .insert(schema.apiKeys)
    .values({
      workspaceId: params.workspaceId,
      name: params.name ?? '',
      displayPrefix: apiKey.slice(0, apiKey.indexOf('_', 3) + 5),
      keyHash: sha256Hex(apiKey),
      environment,
      scope: params.scope ?? 'full',
    })
    .returning();
  if (!record) throw new Error('api key insert returned no row');
  return { apiKey, record };
}

export type AuthenticatedApiKey = { key: ApiKeyRow; workspace: typeof schema.workspaces.$inferSelect };

/**
 * How long a successful lookup is reused. Checklist A-03 wants a revoked key refused within 1 s on every
 * node; this process also forgets a key the moment it revokes it (revokeApiKey). Suspending a workspace or
 * deleting it takes effect within the same second.
 */
export const API_KEY_CACHE_TTL_MS = 1000;
const API_KEY_CACHE_MAX_ENTRIES = 10_000;

/** Per database handle (tests run several stacks, and the same seeded demo key, in one process). */
const authCache = new WeakMap<object, Map<string, { value: AuthenticatedApiKey; expiresAtMs: number }>>();
/** Keys revoked by this process within the last TTL, whichever handle (or transaction) revoked them. */
const recentlyRevoked = new Map<string, number>();

/**
 * Looks the key up by its SHA-256 (indexed, so lookup time does not depend on how close a guess is —
 * checklist A-08) and re-checks the hash in constant time. Revoked keys and suspended workspaces fail.
 * Successful lookups are reused for API_KEY_CACHE_TTL_MS (one query per key and second instead of one
 * per request); failures are never cached, so a new key works at once.
 */
export async function authenticateApiKey(params: { db: Executor; apiKey: string }): Promise<AuthenticatedApiKey | null> {
  if (!API_KEY_PATTERN.test(params.apiKey)) return null;
  const hash = sha256Hex(params.apiKey);
  const nowMs = Date.now();
  let cache = authCache.get(params.db);
  const hit = cache?.get(hash);
  if (hit && hit.expiresAtMs > nowMs && !recentlyRevoked.has(hit.value.key.id)) return hit.value;

  const rows = await params.db
    .select({ key: schema.apiKeys, workspace: schema.workspaces })
    .from(schema.apiKeys)
    .innerJoin(schema.workspaces, eq(schema.workspaces.id, schema.apiKeys.workspaceId))
    .where(and(eq(schema.apiKeys.keyHash, hash), isNull(schema.apiKeys.revokedAt)))
    .limit(1);
  const row = rows[0];
  if (!row || !safeEqual(row.key.keyHash, hash)) {
    cache?.delete(hash);
    return null;
  }
  if (!cache) {
    cache = new Map();
    authCache.set(params.db, cache);
  }
  if (cache.size >= API_KEY_CACHE_MAX_ENTRIES) cache.clear();
  cache.set(hash, { value: row, expiresAtMs: nowMs + API_KEY_CACHE_TTL_MS });
  return row;
}

export async function revokeApiKey(params: { db: Executor; workspaceId: string; keyId: string }): Promise<boolean> {
  const rows = await params.db
    .update(schema.apiKeys)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(schema.apiKeys.workspaceId, params.workspaceId),
        eq(schema.apiKeys.id, params.keyId),
        isNull(schema.apiKeys.revokedAt),
      ),
    )
    .returning({ id: schema.apiKeys.id });
  // Refused on this process's very next request, even while a cached lookup is still fresh.
  const nowMs = Date.now();
  for (const [keyId, atMs] of recentlyRevoked) if (nowMs - atMs > 2 * API_KEY_CACHE_TTL_MS) recentlyRevoked.delete(keyId);
  recentlyRevoked.set(params.keyId, nowMs);
  return rows.length > 0;
}
