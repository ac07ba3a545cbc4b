import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { schema, type Executor, type JsonObject } from '@reusable-chat/db';
import { notFound } from '../errors/registry.ts';
import type { OutboundHttpClient } from '../ports/outbound-http.ts';
import type { WebhookEvent } from './webhook-events.ts';
import { invalidateWebhookEndpointCaches, loadEnabledWebhookEndpoints, type FanOutEndpoint } from './webhook-endpoint-cache.ts';
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

/** The endpoint columns an attempt needs (URL, secrets, failure count); a full row satisfies it. */
export type WebhookTarget = Pick<
  typeof schema.webhookEndpoints.$inferSelect,
  'id' | 'url' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt' | 'consecutiveFailures' | 'disabledAt'
>;

/** A delivery row this process holds the lease of, with everything needed to send it without another query. */
export interface ClaimedWebhookDelivery {
  readonly id: string;
  readonly workspaceId: string;
  readonly eventId: string;
  readonly payload: JsonObject;
  /** 1-based number of the attempt the lease is for. */
  readonly attempt: number;
  readonly endpoint: WebhookTarget;
}

export interface FannedOutDelivery {
  readonly id: string;
  readonly workspaceId: string;
  /** Set when the row was created already leased to the caller (`claim`): send it now, no deliver job needed. */
  readonly claimed: ClaimedWebhookDelivery | null;
}

/**
 * Creates one delivery per enabled endpoint of the event's workspace that subscribed to its type. Scoped by
 * workspace (checklist T-17: another tenant's endpoints are never considered). Idempotent: the unique
 * (endpoint_id, event_id) index turns a second fan-out of the same event into a no-op. Returns the new rows.
 *
 * `claim(n)` is told how many endpoints matched and answers how many of the new rows the caller will attempt at
 * once; those are inserted already leased for their first attempt (attempts = 1, next_attempt_at = now + lease),
 * exactly as attemptWebhookDelivery would have claimed them, so the first attempt needs no claim query, no
 * endpoint query and no job. The rest stay due now for deliver jobs. A crash before the send leaves a lease that
 * expires, after which the sweep retries (same rule as a worker killed mid-attempt).
 */
export async function fanOutWebhookEvent(params: {
  db: Executor;
  workspaceId: string;
  event: WebhookEvent;
  now?: Date;
  claim?: (matching: number) => number;
  leaseMs?: number;
  /** Where the workspace's enabled endpoints come from; default a read per call (the worker passes its cache). */
  endpoints?: (workspaceId: string) => Promise<readonly FanOutEndpoint[]>;
}): Promise<FannedOutDelivery[]> {
  const endpoints = params.endpoints ? await params.endpoints(params.workspaceId) : await loadEnabledWebhookEndpoints(params.db, params.workspaceId);
  const targets = endpoints.filter((e) => e.events.includes(params.event.type));
  if (targets.length === 0) return [];
  const now = params.now ?? new Date();
  const claimCount = Math.max(0, Math.min(targets.length, params.claim?.(targets.length) ?? 0));
  const leaseUntil = new Date(now.getTime() + (params.leaseMs ?? DEFAULT_WEBHOOK_DELIVERY_POLICY.leaseMs));
  const payload: JsonObject = { type: params.event.type, timestamp: params.event.timestamp, data: params.event.data };
  const rows = await params.db
    .insert(schema.webhookDeliveries)
    .values(
      targets.map((t, i) => ({
        workspaceId: params.workspaceId,
        endpointId: t.id,
        eventId: params.event.id,
        eventType: params.event.type,
        payload,
        status: 'pending' as const,
        attempts: i < claimCount ? 1 : 0,
        nextAttemptAt: i < claimCount ? leaseUntil : now,
      })),
    )
    .onConflictDoNothing({ target: [schema.webhookDeliveries.endpointId, schema.webhookDeliveries.eventId] })
    .returning({
      id: schema.webhookDeliveries.id,
      workspaceId: schema.webhookDeliveries.workspaceId,
      endpointId: schema.webhookDeliveries.endpointId,
      attempts: schema.webhookDeliveries.attempts,
    });
  const byId = new Map(targets.map((t) => [t.id, t]));
  return rows.map((r) => {
    const endpoint = byId.get(r.endpointId);
    return {
      id: r.id,
      workspaceId: r.workspaceId,
      claimed:
        r.attempts === 1 && endpoint
          ? { id: r.id, workspaceId: r.workspaceId, eventId: params.event.id, payload, attempt: 1, endpoint }
          : null,
    };
  });
}

/**
 * Records successful attempts. The default writes each at once; the worker passes a batching writer
 * (DeliverySuccessWriter) so a busy endpoint's successes cost one UPDATE per batch, not one per delivery.
 */
export type RecordDeliverySuccess = (success: DeliverySuccess) => Promise<void>;

export interface DeliverySuccess {
  readonly id: string;
  readonly responseStatus: number;
  readonly latencyMs: number;
  readonly deliveredAt: Date;
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
  recordSuccess?: RecordDeliverySuccess;
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
    .returning({ id: d.id, workspaceId: d.workspaceId, endpointId: d.endpointId, eventId: d.eventId, payload: d.payload, attempts: d.attempts });
  if (!claimed) return { outcome: 'skipped' };

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
    return { outcome: 'dead', attempt: claimed.attempts, reason: 'endpoint_disabled' };
  }
  return deliverClaimedWebhook({
    db: params.db,
    http: params.http,
    delivery: { id: claimed.id, workspaceId: claimed.workspaceId, eventId: claimed.eventId, payload: claimed.payload, attempt: claimed.attempts, endpoint },
    now,
    policy,
    ...(params.recordSuccess ? { recordSuccess: params.recordSuccess } : {}),
  });
}

/** Sign, POST and record one attempt of a delivery whose lease the caller holds (fan-out claim or attemptWebhookDelivery). */
export async function deliverClaimedWebhook(params: {
  db: Executor;
  http: OutboundHttpClient;
  delivery: ClaimedWebhookDelivery;
  now?: Date;
  policy?: WebhookDeliveryPolicy;
  recordSuccess?: RecordDeliverySuccess;
}): Promise<DeliveryOutcome> {
  const policy = params.policy ?? DEFAULT_WEBHOOK_DELIVERY_POLICY;
  const now = params.now ?? new Date();
  const d = schema.webhookDeliveries;
  const { delivery, endpoint } = { delivery: params.delivery, endpoint: params.delivery.endpoint };
  const attempt = delivery.attempt;

  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) {
    secrets.push(endpoint.previousSecret);
  }
  const body = JSON.stringify(delivery.payload);
  const headers = buildWebhookHeaders({
    secrets,
    id: delivery.eventId,
    timestampS: Math.floor(Date.now() / 1000),
    body,
  });
  const result = await params.http.post({ url: endpoint.url, headers, body, timeoutMs: policy.requestTimeoutMs });
  const finishedAt = new Date(now.getTime() + result.latencyMs);
  const responseStatus = result.ok ? result.status : null;

  if (result.ok && result.status >= 200 && result.status < 300) {
    const success: DeliverySuccess = { id: delivery.id, responseStatus: result.status, latencyMs: result.latencyMs, deliveredAt: finishedAt };
    await (params.recordSuccess ?? ((s: DeliverySuccess) => writeDeliverySuccesses(params.db, [s])))(success);
    // Only when there is something to reset: an unconditional write would serialise every success of an endpoint on
    // its row lock.
    if (endpoint.consecutiveFailures > 0) {
      const reset = await params.db
        .update(schema.webhookEndpoints)
        .set({ consecutiveFailures: 0 })
        .where(and(eq(schema.webhookEndpoints.id, endpoint.id), sql`${schema.webhookEndpoints.consecutiveFailures} > 0`))
        .returning({ id: schema.webhookEndpoints.id });
      // Cached copies still say "failing": the next success would reset again (a wasted write) until they expire.
      if (reset.length > 0) invalidateWebhookEndpointCaches(delivery.workspaceId);
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
  // The first failure after a success (a cached copy with a zero count would skip the reset on the next success),
  // and an auto-disable (no more fan-outs to it), must reach cached endpoint lists.
  if (endpointDisabled || counted?.failures === 1) invalidateWebhookEndpointCaches(delivery.workspaceId);

  // A refused target (private address, bad URL) will not change by waiting: dead at once, no 24 h of retries.
  const isPermanent = !result.ok && (result.failure === 'blocked_address' || result.failure === 'invalid_url');
  const delayMs = isPermanent ? undefined : policy.retryScheduleMs[attempt - 1];
  if (delayMs === undefined || endpointDisabled) {
    await params.db
      .update(d)
      .set({ status: 'dead', responseStatus, latencyMs: result.latencyMs, lastError, nextAttemptAt: null })
      .where(eq(d.id, delivery.id));
    return { outcome: 'dead', attempt, reason: endpointDisabled ? 'endpoint_disabled' : lastError };
  }
  const nextAttemptAt = new Date(finishedAt.getTime() + delayMs);
  await params.db
    .update(d)
    .set({ status: 'failed', responseStatus, latencyMs: result.latencyMs, lastError, nextAttemptAt })
    .where(eq(d.id, delivery.id));
  return { outcome: 'retry', attempt, nextAttemptAt, delayMs };
}

/** Marks deliveries succeeded, any number in one statement (UPDATE … FROM VALUES). */
export async function writeDeliverySuccesses(db: Executor, successes: readonly DeliverySuccess[]): Promise<void> {
  if (successes.length === 0) return;
  const values = sql.join(
    successes.map((s) => sql`(${s.id}::uuid, ${s.responseStatus}::int, ${s.latencyMs}::int, ${s.deliveredAt.toISOString()}::timestamptz)`),
    sql`, `,
  );
  await db.execute(sql`
    update webhook_deliveries as d
       set status = 'succeeded', response_status = v.rs, latency_ms = v.lat, last_error = null,
           next_attempt_at = null, delivered_at = v.at
      from (values ${values}) as v(id, rs, lat, at)
     where d.id = v.id`);
}

/**
 * Batches delivery-log writes of successful attempts: records that arrive while a write is running go out together
 * in the next one, so the cost per delivery falls as the rate rises and an idle worker adds no delay (the first
 * record is written at once). A record resolves once its row is written; if the write fails it rejects, and the
 * row keeps its lease until the sweep retries it (at-least-once, the same webhook-id).
 */
export class DeliverySuccessWriter {
  private pending: { success: DeliverySuccess; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly db: Executor,
    private readonly maxBatch = 200,
  ) {}

  readonly record: RecordDeliverySuccess = (success) =>
    new Promise<void>((resolve, reject) => {
      this.pending.push({ success, resolve, reject });
      this.kick();
    });

  private kick(): void {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    void (async () => {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          await writeDeliverySuccesses(
            this.db,
            batch.map((b) => b.success),
          );
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
      this.flushing = false;
    })();
  }
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
