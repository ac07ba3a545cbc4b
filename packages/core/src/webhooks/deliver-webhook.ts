import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { schema, type Executor, type JsonObject } from '@reusable-chat/db';
import { notFound } from '../errors/registry.ts';
import type { OutboundHttpClient } from '../ports/outbound-http.ts';
import type { WebhookEvent } from './webhook-events.ts';
import { buildWebhookHeaders } from './webhook-signing.ts';

/**
 * Wait after the n-th failed attempt. Exponential-ish and capped so the last retry lands just under 24 h after
 * the first (SPEC issue: retries for up to 24 h; checklist F-13): 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h,
 * 4 h, 8 h, 8 h ≈ 23.7 h, 11 attempts in all. Tests inject a short schedule.
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 28_800_000,
];

export interface WebhookDeliveryPolicy {
  /** Delay after each failed attempt; its length + 1 is the attempt limit, after which the delivery is dead. */
  readonly retryScheduleMs: readonly number[];
  /**
   * While an attempt runs its row is leased: next_attempt_at moves this far ahead, so a duplicate job (sweep,
   * re-enqueue after a crash) finds nothing to claim. Longer than the request timeout.
   */
  readonly leaseMs: number;
  /** Consecutive failed attempts across deliveries after which the endpoint is disabled. */
  readonly disableAfterFailures: number;
  readonly requestTimeoutMs: number;
}

export const DEFAULT_WEBHOOK_DELIVERY_POLICY: WebhookDeliveryPolicy = {
  retryScheduleMs: DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS,
  leaseMs: 60_000,
  // About five days of an endpoint failing every attempt of every event at a steady event rate.
  disableAfterFailures: 100,
  requestTimeoutMs: 10_000,
};

export type DeliveryOutcome =
  | { readonly outcome: 'succeeded'; readonly attempt: number }
  | { readonly outcome: 'retry'; readonly attempt: number; readonly nextAttemptAt: Date; readonly delayMs: number }
  | { readonly outcome: 'dead'; readonly attempt: number; readonly reason: string }
  /** Nothing to do: already delivered, dead, leased by a concurrent attempt, or not due yet (idempotency, F-11). */
  | { readonly outcome: 'skipped' };

/**
 * Creates one delivery per enabled endpoint of the event's workspace that subscribed to its type. Scoped by
 * workspace (checklist T-17: another tenant's endpoints are never considered). Idempotent: the unique
 * (endpoint_id, event_id) index turns a second fan-out of the same event into a no-op. Returns the new rows.
 */
export async function fanOutWebhookEvent(params: {
  db: Executor;
  workspaceId: string;
  event: WebhookEvent;
  now?: Date;
}): Promise<{ id: string; workspaceId: string }[]> {
  const endpoints = await params.db
    .select({ id: schema.webhookEndpoints.id, events: schema.webhookEndpoints.events })
    .from(schema.webhookEndpoints)
    .where(and(eq(schema.webhookEndpoints.workspaceId, params.workspaceId), isNull(schema.webhookEndpoints.disabledAt)));
  const targets = endpoints.filter((e) => e.events.includes(params.event.type));
  if (targets.length === 0) return [];
  const now = params.now ?? new Date();
  const payload: JsonObject = { type: params.event.type, timestamp: params.event.timestamp, data: params.event.data };
  return params.db
    .insert(schema.webhookDeliveries)
    .values(
      targets.map((t) => ({
        workspaceId: params.workspaceId,
        endpointId: t.id,
        eventId: params.event.id,
        eventType: params.event.type,
        payload,
        status: 'pending' as const,
        nextAttemptAt: now,
      })),
    )
    .onConflictDoNothing({ target: [schema.webhookDeliveries.endpointId, schema.webhookDeliveries.eventId] })
    .returning({ id: schema.webhookDeliveries.id, workspaceId: schema.webhookDeliveries.workspaceId });
}

/**
 * One attempt of one delivery: claim (lease), sign, POST, record. Safe to call any number of times for the same
 * delivery — only a due, unleased, unfinished row is attempted, so a job that runs twice sends once.
 * The `webhook-id` is the event id on every attempt; the timestamp and signatures are fresh per attempt.
 * A worker killed mid-request leaves the lease to expire, after which the sweep retries: the receiver may then
 * see that webhook-id twice (at-least-once; the id lets it dedupe).
 */
export async function attemptWebhookDelivery(params: {
  db: Executor;
  http: OutboundHttpClient;
  deliveryId: string;
  now?: Date;
  policy?: WebhookDeliveryPolicy;
}): Promise<DeliveryOutcome> {
  const policy = params.policy ?? DEFAULT_WEBHOOK_DELIVERY_POLICY;
  const now = params.now ?? new Date();
  const d = schema.webhookDeliveries;
  const [claimed] = await params.db
    .update(d)
    .set({ attempts: sql`${d.attempts} + 1`, nextAttemptAt: new Date(now.getTime() + policy.leaseMs) })
    .where(
      and(
        eq(d.id, params.deliveryId),
        inArray(d.status, ['pending', 'failed']),
        or(isNull(d.nextAttemptAt), lte(d.nextAttemptAt, now)),
      ),
    )
    .returning();
  if (!claimed) return { outcome: 'skipped' };
  const attempt = claimed.attempts;

  const [endpoint] = await params.db
    .select()
    .from(schema.webhookEndpoints)
    .where(and(eq(schema.webhookEndpoints.workspaceId, claimed.workspaceId), eq(schema.webhookEndpoints.id, claimed.endpointId)))
    .limit(1);
  if (!endpoint || endpoint.disabledAt) {
    await params.db
      .update(d)
      .set({ status: 'dead', nextAttemptAt: null, lastError: 'endpoint_disabled' })
      .where(eq(d.id, claimed.id));
    return { outcome: 'dead', attempt, reason: 'endpoint_disabled' };
  }

  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) {
    secrets.push(endpoint.previousSecret);
  }
  const body = JSON.stringify(claimed.payload);
  const headers = buildWebhookHeaders({
    secrets,
    id: claimed.eventId,
    timestampS: Math.floor(Date.now() / 1000),
    body,
  });
  const result = await params.http.post({ url: endpoint.url, headers, body, timeoutMs: policy.requestTimeoutMs });
  const finishedAt = new Date(now.getTime() + result.latencyMs);
  const responseStatus = result.ok ? result.status : null;

  if (result.ok && result.status >= 200 && result.status < 300) {
    await params.db
      .update(d)
      .set({
        status: 'succeeded',
        responseStatus,
        latencyMs: result.latencyMs,
        lastError: null,
        nextAttemptAt: null,
        deliveredAt: finishedAt,
      })
      .where(eq(d.id, claimed.id));
    // Only when there is something to reset: an unconditional write would serialise every success of an endpoint on
    // its row lock.
    if (endpoint.consecutiveFailures > 0) {
      await params.db
        .update(schema.webhookEndpoints)
        .set({ consecutiveFailures: 0 })
        .where(and(eq(schema.webhookEndpoints.id, endpoint.id), sql`${schema.webhookEndpoints.consecutiveFailures} > 0`));
    }
    return { outcome: 'succeeded', attempt };
  }

  // Only the status or the failure kind is kept, never the response body (checklist O-05).
  const lastError = result.ok ? `http_${result.status}` : result.failure;
  const [counted] = await params.db
    .update(schema.webhookEndpoints)
    .set({ consecutiveFailures: sql`${schema.webhookEndpoints.consecutiveFailures} + 1` })
    .where(eq(schema.webhookEndpoints.id, endpoint.id))
    .returning({ failures: schema.webhookEndpoints.consecutiveFailures });
  let endpointDisabled = false;
  if (counted && counted.failures >= policy.disableAfterFailures) {
    await params.db
      .update(schema.webhookEndpoints)
      .set({ disabledAt: finishedAt })
      .where(and(eq(schema.webhookEndpoints.id, endpoint.id), isNull(schema.webhookEndpoints.disabledAt)));
    endpointDisabled = true;
  }

  // A refused target (private address, bad URL) will not change by waiting: dead at once, no 24 h of retries.
  const isPermanent = !result.ok && (result.failure === 'blocked_address' || result.failure === 'invalid_url');
  const delayMs = isPermanent ? undefined : policy.retryScheduleMs[attempt - 1];
  if (delayMs === undefined || endpointDisabled) {
    await params.db
      .update(d)
      .set({ status: 'dead', responseStatus, latencyMs: result.latencyMs, lastError, nextAttemptAt: null })
      .where(eq(d.id, claimed.id));
    return { outcome: 'dead', attempt, reason: endpointDisabled ? 'endpoint_disabled' : lastError };
  }
  const nextAttemptAt = new Date(finishedAt.getTime() + delayMs);
  await params.db
    .update(d)
    .set({ status: 'failed', responseStatus, latencyMs: result.latencyMs, lastError, nextAttemptAt })
    .where(eq(d.id, claimed.id));
  return { outcome: 'retry', attempt, nextAttemptAt, delayMs };
}

/**
 * Deliveries whose attempt is due but may have no job: the worker restarted (in-process queue), a retry could
 * not be enqueued, or a worker died mid-attempt and its lease expired. The worker's sweep re-enqueues them.
 */
export async function findDueWebhookDeliveries(params: {
  db: Executor;
  dueBefore: Date;
  limit?: number;
}): Promise<{ id: string; workspaceId: string; attempts: number; nextAttemptAt: Date | null }[]> {
  const d = schema.webhookDeliveries;
  return params.db
    .select({ id: d.id, workspaceId: d.workspaceId, attempts: d.attempts, nextAttemptAt: d.nextAttemptAt })
    .from(d)
    .where(and(inArray(d.status, ['pending', 'failed']), lte(d.nextAttemptAt, params.dueBefore)))
    .orderBy(asc(d.nextAttemptAt))
    .limit(params.limit ?? 200);
}

/**
 * `POST /webhooks/{id}/test`: one signed `webhook.test` event, sent now, outside the delivery log. The answer is
 * the status and latency only — never the target's body or headers (checklist O-05).
 */
export async function sendWebhookPing(params: {
  db: Executor;
  http: OutboundHttpClient;
  workspaceId: string;
  endpointId: string;
  eventId: string;
  now: Date;
  timeoutMs: number;
}): Promise<{ ok: boolean; status: number | null; latency_ms: number; error: string | null }> {
  const [endpoint] = await params.db
    .select()
    .from(schema.webhookEndpoints)
    .where(and(eq(schema.webhookEndpoints.workspaceId, params.workspaceId), eq(schema.webhookEndpoints.id, params.endpointId)))
    .limit(1);
  if (!endpoint) throw notFound('Webhook endpoint');
  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > params.now) {
    secrets.push(endpoint.previousSecret);
  }
  const body = JSON.stringify({
    type: 'webhook.test',
    timestamp: params.now.toISOString(),
    data: { endpoint_id: endpoint.id, workspace_id: endpoint.workspaceId },
  });
  const headers = buildWebhookHeaders({ secrets, id: params.eventId, timestampS: Math.floor(Date.now() / 1000), body });
  const result = await params.http.post({ url: endpoint.url, headers, body, timeoutMs: params.timeoutMs });
  if (!result.ok) return { ok: false, status: null, latency_ms: result.latencyMs, error: result.failure };
  const ok = result.status >= 200 && result.status < 300;
  return { ok, status: result.status, latency_ms: result.latencyMs, error: ok ? null : `http_${result.status}` };
}

/** Delivery log retention: finished deliveries (succeeded or dead) older than `olderThan` are deleted in batches. */
export async function purgeWebhookDeliveries(params: { db: Executor; olderThan: Date; limit?: number }): Promise<number> {
  const d = schema.webhookDeliveries;
  const victims = params.db
    .select({ id: d.id })
    .from(d)
    .where(and(inArray(d.status, ['succeeded', 'dead']), lt(d.createdAt, params.olderThan)))
    .limit(params.limit ?? 1_000);
  const deleted = await params.db.delete(d).where(inArray(d.id, victims)).returning({ id: d.id });
  return deleted.length;
}
