import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { AppError, notFound } from '../errors/registry.ts';
import type { JobQueue } from '../ports/queue.ts';
import { cursorString, decodeCursor, encodeCursor } from '../shared/cursor.ts';
import { invalidateWebhookEndpointCaches } from './webhook-endpoint-cache.ts';
import { generateWebhookSecret } from './webhook-signing.ts';
import { isWebhookEventType, type WebhookEventType } from './webhook-events.ts';

export type WebhookEndpointRow = typeof schema.webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof schema.webhookDeliveries.$inferSelect;

/** Abuse cap: fan-out cost grows with endpoints per event. */
export const MAX_WEBHOOK_ENDPOINTS_PER_WORKSPACE = 20;
/** How long the previous secret keeps signing after a rotation unless the caller says otherwise (Svix uses 24 h). */
export const DEFAULT_SECRET_OVERLAP_S = 24 * 3600;
export const JOB_DELIVER_WEBHOOK = 'webhooks.deliver';

export interface WebhookEndpointView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabled_at: string | null;
  consecutive_failures: number;
  previous_secret_expires_at: string | null;
  created_at: string;
}

export interface WebhookDeliveryView {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: WebhookDeliveryRow['status'];
  attempts: number;
  response_status: number | null;
  latency_ms: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The secret is never part of a view: it is shown once, on create and on rotation. */
export function toWebhookEndpointView(row: WebhookEndpointRow, now: Date = new Date()): WebhookEndpointView {
  const overlapActive = row.previousSecretExpiresAt && row.previousSecretExpiresAt > now;
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    enabled: row.disabledAt === null,
    disabled_at: iso(row.disabledAt),
    consecutive_failures: row.consecutiveFailures,
    previous_secret_expires_at: overlapActive ? iso(row.previousSecretExpiresAt) : null,
    created_at: row.createdAt.toISOString(),
  };
}

export function toWebhookDeliveryView(row: WebhookDeliveryRow): WebhookDeliveryView {
  return {
    id: row.id,
    endpoint_id: row.endpointId,
    event_id: row.eventId,
    event_type: row.eventType,
    status: row.status,
    attempts: row.attempts,
    response_status: row.responseStatus,
    latency_ms: row.latencyMs,
    last_error: row.lastError,
    next_attempt_at: iso(row.nextAttemptAt),
    delivered_at: iso(row.deliveredAt),
    created_at: row.createdAt.toISOString(),
  };
}

function normaliseEvents(events: readonly string[]): WebhookEventType[] {
  const unknown = events.filter((e) => !isWebhookEventType(e));
  if (unknown.length > 0) {
    throw new AppError('validation_failed', 'Unknown webhook event type.', { unknown_events: unknown });
  }
  return [...new Set(events as WebhookEventType[])];
}

async function findEndpoint(db: Executor, workspaceId: string, endpointId: string): Promise<WebhookEndpointRow> {
  const [row] = await db
    .select()
    .from(schema.webhookEndpoints)
    .where(and(eq(schema.webhookEndpoints.workspaceId, workspaceId), eq(schema.webhookEndpoints.id, endpointId)))
    .limit(1);
  // Another workspace's endpoint id answers exactly like a missing one (SPEC §3: 404, never 403).
  if (!row) throw notFound('Webhook endpoint');
  return row;
}

/** `url` must already have passed the caller's URL policy (scheme, private addresses). */
export async function createWebhookEndpoint(params: {
  db: Executor;
  workspaceId: string;
  url: string;
  events: readonly string[];
}): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
  const events = normaliseEvents(params.events);
  const existing = await params.db
    .select({ id: schema.webhookEndpoints.id })
    .from(schema.webhookEndpoints)
    .where(eq(schema.webhookEndpoints.workspaceId, params.workspaceId))
    .limit(MAX_WEBHOOK_ENDPOINTS_PER_WORKSPACE);
  if (existing.length >= MAX_WEBHOOK_ENDPOINTS_PER_WORKSPACE) {
    throw new AppError('validation_failed', `A workspace can have at most ${MAX_WEBHOOK_ENDPOINTS_PER_WORKSPACE} webhook endpoints.`);
  }
  const secret = generateWebhookSecret();
  const [row] = await params.db
    .insert(schema.webhookEndpoints)
    .values({ workspaceId: params.workspaceId, url: params.url, events, secret })
    .returning();
  if (!row) throw new Error('webhook endpoint insert returned no row');
  invalidateWebhookEndpointCaches(params.workspaceId);
  return { endpoint: toWebhookEndpointView(row), secret };
}

export async function listWebhookEndpoints(params: { db: Executor; workspaceId: string }): Promise<WebhookEndpointView[]> {
  const rows = await params.db
    .select()
    .from(schema.webhookEndpoints)
    .where(eq(schema.webhookEndpoints.workspaceId, params.workspaceId))
    .orderBy(desc(schema.webhookEndpoints.id))
    .limit(MAX_WEBHOOK_ENDPOINTS_PER_WORKSPACE);
  const now = new Date();
  return rows.map((r) => toWebhookEndpointView(r, now));
}

export async function getWebhookEndpoint(params: {
  db: Executor;
  workspaceId: string;
  endpointId: string;
}): Promise<WebhookEndpointView> {
  return toWebhookEndpointView(await findEndpoint(params.db, params.workspaceId, params.endpointId));
}

/** Re-enabling an endpoint the worker disabled resets its failure count. */
export async function updateWebhookEndpoint(params: {
  db: Executor;
  workspaceId: string;
  endpointId: string;
  url?: string;
  events?: readonly string[];
  enabled?: boolean;
}): Promise<WebhookEndpointView> {
  await findEndpoint(params.db, params.workspaceId, params.endpointId);
  const patch: Partial<typeof schema.webhookEndpoints.$inferInsert> = {};
  if (params.url !== undefined) patch.url = params.url;
  if (params.events !== undefined) patch.events = normaliseEvents(params.events);
  if (params.enabled === true) {
    patch.disabledAt = null;
    patch.consecutiveFailures = 0;
  } else if (params.enabled === false) {
    patch.disabledAt = new Date();
  }
  if (Object.keys(patch).length === 0) return getWebhookEndpoint(params);
  const [row] = await params.db
    .update(schema.webhookEndpoints)
    .set(patch)
    .where(and(eq(schema.webhookEndpoints.workspaceId, params.workspaceId), eq(schema.webhookEndpoints.id, params.endpointId)))
    .returning();
  if (!row) throw notFound('Webhook endpoint');
  invalidateWebhookEndpointCaches(params.workspaceId);
  return toWebhookEndpointView(row);
}

export async function deleteWebhookEndpoint(params: { db: Executor; workspaceId: string; endpointId: string }): Promise<void> {
  const rows = await params.db
    .delete(schema.webhookEndpoints)
    .where(and(eq(schema.webhookEndpoints.workspaceId, params.workspaceId), eq(schema.webhookEndpoints.id, params.endpointId)))
    .returning({ id: schema.webhookEndpoints.id });
  if (rows.length === 0) throw notFound('Webhook endpoint');
  invalidateWebhookEndpointCaches(params.workspaceId);
}

/**
 * New signing secret, returned once. The old one keeps signing for `overlapS` seconds: during that window every
 * delivery carries both signatures, space-separated as Standard Webhooks allows, so the receiver can switch at
 * its own pace. `overlapS: 0` retires the old secret at once (e.g. after a leak).
 */
export async function rotateWebhookSecret(params: {
  db: Executor;
  workspaceId: string;
  endpointId: string;
  overlapS?: number;
  now?: Date;
}): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
  const current = await findEndpoint(params.db, params.workspaceId, params.endpointId);
  const now = params.now ?? new Date();
  const overlapS = params.overlapS ?? DEFAULT_SECRET_OVERLAP_S;
  const secret = generateWebhookSecret();
  const [row] = await params.db
    .update(schema.webhookEndpoints)
    .set({
      secret,
      previousSecret: overlapS > 0 ? current.secret : null,
      previousSecretExpiresAt: overlapS > 0 ? new Date(now.getTime() + overlapS * 1000) : null,
    })
    .where(and(eq(schema.webhookEndpoints.workspaceId, params.workspaceId), eq(schema.webhookEndpoints.id, params.endpointId)))
    .returning();
  if (!row) throw notFound('Webhook endpoint');
  invalidateWebhookEndpointCaches(params.workspaceId);
  return { endpoint: toWebhookEndpointView(row, now), secret };
}

/** Delivery log, newest first, with opaque cursors bound to this workspace and endpoint (UUIDv7 ids sort by creation). */
export async function listWebhookDeliveries(params: {
  db: Executor;
  workspaceId: string;
  endpointId: string;
  limit: number;
  cursor?: string;
  cursorSecret: string;
}): Promise<{ data: WebhookDeliveryView[]; next_cursor: string | null }> {
  await findEndpoint(params.db, params.workspaceId, params.endpointId);
  const scope = { secret: params.cursorSecret, workspaceId: params.workspaceId, list: `webhook-deliveries:${params.endpointId}` };
  const conditions = [
    eq(schema.webhookDeliveries.workspaceId, params.workspaceId),
    eq(schema.webhookDeliveries.endpointId, params.endpointId),
  ];
  if (params.cursor) conditions.push(lt(schema.webhookDeliveries.id, cursorString(decodeCursor(scope, params.cursor), 'before')));
  const rows = await params.db
    .select()
    .from(schema.webhookDeliveries)
    .where(and(...conditions))
    .orderBy(desc(schema.webhookDeliveries.id))
    .limit(params.limit + 1);
  const page = rows.slice(0, params.limit);
  const last = page[page.length - 1];
  return {
    data: page.map(toWebhookDeliveryView),
    next_cursor: rows.length > params.limit && last ? encodeCursor(scope, { before: last.id }) : null,
  };
}

/**
 * Manual replay: the same event, the same `webhook-id` (receivers that already processed it can dedupe), a fresh
 * timestamp and signature. The row goes back to pending and is due now; if the queue is unreachable the worker's
 * sweep picks it up, so the replay is never lost.
 */
export async function replayWebhookDelivery(params: {
  db: Executor;
  queue: JobQueue;
  workspaceId: string;
  endpointId: string;
  deliveryId: string;
  now?: Date;
}): Promise<WebhookDeliveryView> {
  const endpoint = await findEndpoint(params.db, params.workspaceId, params.endpointId);
  if (endpoint.disabledAt) throw new AppError('conflict', 'The webhook endpoint is disabled; enable it first.');
  const now = params.now ?? new Date();
  const [row] = await params.db
    .update(schema.webhookDeliveries)
    .set({ status: 'pending', nextAttemptAt: now, lastError: null })
    .where(
      and(
        eq(schema.webhookDeliveries.workspaceId, params.workspaceId),
        eq(schema.webhookDeliveries.endpointId, params.endpointId),
        eq(schema.webhookDeliveries.id, params.deliveryId),
        // A pending delivery is queued or in flight already; replaying it would race the running attempt.
        inArray(schema.webhookDeliveries.status, ['succeeded', 'failed', 'dead']),
      ),
    )
    .returning();
  if (!row) {
    const [exists] = await params.db
      .select({ id: schema.webhookDeliveries.id })
      .from(schema.webhookDeliveries)
      .where(
        and(
          eq(schema.webhookDeliveries.workspaceId, params.workspaceId),
          eq(schema.webhookDeliveries.endpointId, params.endpointId),
          eq(schema.webhookDeliveries.id, params.deliveryId),
        ),
      )
      .limit(1);
    if (!exists) throw notFound('Webhook delivery');
    throw new AppError('conflict', 'This delivery is already queued.');
  }
  await params.queue
    .enqueue(JOB_DELIVER_WEBHOOK, { deliveryId: row.id, workspaceId: row.workspaceId }, {
      jobId: `delivery:${row.id}:${row.attempts + 1}:replay:${now.getTime()}`,
    })
    .catch(() => undefined);
  return toWebhookDeliveryView(row);
}
