import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { WebhookTarget } from './deliver-webhook.ts';

/** An enabled endpoint as the fan-out needs it: what to send to, how to sign, and which events it wants. */
export type FanOutEndpoint = WebhookTarget & { readonly events: readonly string[] };

/** The enabled endpoints of one workspace (T-17: scoped by workspace, another tenant's are never read). */
export async function loadEnabledWebhookEndpoints(db: Executor, workspaceId: string): Promise<FanOutEndpoint[]> {
  const e = schema.webhookEndpoints;
  return db
    .select({
      id: e.id,
      events: e.events,
      url: e.url,
      secret: e.secret,
      previousSecret: e.previousSecret,
      previousSecretExpiresAt: e.previousSecretExpiresAt,
      consecutiveFailures: e.consecutiveFailures,
      disabledAt: e.disabledAt,
    })
    .from(e)
    .where(and(eq(e.workspaceId, workspaceId), isNull(e.disabledAt)));
}

/** Every cache of this process, so an endpoint change made here reaches each at once (weakly held: no leak). */
const caches = new Set<WeakRef<WebhookEndpointCache>>();

/**
 * Drops the cached endpoints of a workspace in every cache of this process. Called by every endpoint write
 * (create, update, enable/disable, delete, secret rotation) and by the worker when an endpoint's failure count
 * leaves or returns to zero or it is auto-disabled.
 */
export function invalidateWebhookEndpointCaches(workspaceId: string): void {
  for (const ref of caches) {
    const cache = ref.deref();
    if (cache) cache.invalidate(workspaceId);
    else caches.delete(ref);
  }
}

/**
 * The worker's per-workspace cache of enabled endpoints, so a fan-out does not read webhook_endpoints for every
 * event (about 0.14 ms of worker CPU per event on PostgreSQL, 0.36 ms on PGlite — a tenth of a 4-endpoint event's
 * delivery cost, more with one endpoint).
 *
 * Freshness: writes made in this process invalidate at once (invalidateWebhookEndpointCaches). Writes made by
 * another process (an API node while the worker runs as `reusable-chat worker`) are seen within `ttlMs`, 1 s by
 * default — the same bound as the API-key cache (checklist A-03). A short TTL rather than LISTEN/NOTIFY: no trigger
 * or migration, nothing to lose while a listening connection reconnects, and at any steady event rate the cost is
 * one read per workspace per second. What a second of staleness can do is bounded: an event may still go to an
 * endpoint disabled or re-pointed less than a second ago (a fan-out racing the write could do that before), a
 * secret rotated with no overlap signs with the old secret for at most that second, and a deleted endpoint makes
 * the fan-out's insert fail its foreign key, after which the job is retried with fresh endpoints.
 */
export class WebhookEndpointCache {
  private readonly entries = new Map<string, { readonly at: number; readonly rows: Promise<FanOutEndpoint[]> }>();

  constructor(
    private readonly options: { readonly ttlMs?: number; readonly maxWorkspaces?: number; readonly now?: () => number } = {},
  ) {
    caches.add(new WeakRef(this));
  }

  /** The workspace's enabled endpoints, read at most once per TTL (concurrent callers share one read). */
  get(db: Executor, workspaceId: string): Promise<FanOutEndpoint[]> {
    const now = (this.options.now ?? Date.now)();
    const hit = this.entries.get(workspaceId);
    if (hit && now - hit.at < (this.options.ttlMs ?? 1_000)) return hit.rows;
    const entry = { at: now, rows: loadEnabledWebhookEndpoints(db, workspaceId) };
    // Re-inserted at the end: Map order is then least recently loaded first, which is what is evicted.
    this.entries.delete(workspaceId);
    this.entries.set(workspaceId, entry);
    if (this.entries.size > (this.options.maxWorkspaces ?? 10_000)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    // A failed read is not cached.
    entry.rows.catch(() => {
      if (this.entries.get(workspaceId) === entry) this.entries.delete(workspaceId);
    });
    return entry.rows;
  }

  /** Forget a workspace's endpoints (the stored promise goes too, so a read in flight is not kept either). */
  invalidate(workspaceId: string): void {
    this.entries.delete(workspaceId);
  }
}
