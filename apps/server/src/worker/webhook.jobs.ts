import {
  attemptWebhookDelivery,
  deliverClaimedWebhook,
  fanOutWebhookEvent,
  type ClaimedWebhookDelivery,
  type DeliveryOutcome,
  type RecordDeliverySuccess,
  findDueWebhookDeliveries,
  JOB_DELIVER_WEBHOOK,
  loadOutboxPayload,
  type OutboxJobPayload,
  type WebhookDeliveryPolicy,
  type WebhookEvent,
  type WebhookEndpointCache,
} from '@reusable-chat/core';
import type { JobQueue, OutboundHttpClient } from '@reusable-chat/core/ports';
import type { Database } from '@reusable-chat/db';
import { WORKER_JOB_ATTEMPTS } from './worker-constants.ts';
import type { WorkerLogger } from './worker-logger.ts';

export interface DeliverWebhookJob {
  readonly deliveryId: string;
  readonly workspaceId: string;
  /** How many times this delivery was deferred as a delayed job because its workspace's waiting list was full. */
  readonly deferrals?: number;
}

export interface WebhookJobContext {
  readonly db: Database;
  readonly queue: JobQueue;
  readonly http: OutboundHttpClient;
  readonly policy: WebhookDeliveryPolicy;
  readonly now: () => Date;
  readonly log: WorkerLogger;
  /**
   * Attempts one workspace may have in flight in this process (checklist F-13: one tenant's slow or dead endpoint
   * must not take every delivery slot). Deliver jobs over the limit give their queue slot back and wait in the
   * workspace's waiting list (tenantWaiting) until one of its attempts ends.
   */
  readonly perTenantLimit: number;
  readonly tenantInFlight: Map<string, number>;
  /**
   * Deliver jobs that found every slot of their workspace taken, per workspace in arrival order (keyed by delivery,
   * so a duplicate job waits once). Released one per freed slot: no polling, no re-enqueue. The list lives in this
   * process only; the row stays unclaimed and due, so if the process dies the sweep re-enqueues it. Without a map
   * (tests that build a bare context) a busy job is deferred as a delayed job instead.
   */
  readonly tenantWaiting?: Map<string, Map<string, DeliverWebhookJob>>;
  /** Deliveries one workspace may have waiting in this process; beyond it they are deferred (delayed job, back-off). */
  readonly maxWaitingPerTenant?: number;
  /** Set on stop: waiting deliveries are no longer started (their rows stay due for the sweep of the next worker). */
  readonly lifecycle?: { stopping: boolean };
  /** Enabled endpoints per workspace, cached between events (WebhookEndpointCache); default a read per fan-out. */
  readonly endpointCache?: WebhookEndpointCache;
  /** Batched delivery-log writes of successes (DeliverySuccessWriter); default one UPDATE per success. */
  readonly recordSuccess?: RecordDeliverySuccess;
  /** First attempts started by fan-out jobs and still running; the worker waits for them on stop. */
  readonly inlineAttempts?: Set<Promise<void>>;
}

function acquireTenantSlots(ctx: WebhookJobContext, workspaceId: string, n: number): void {
  if (n > 0) ctx.tenantInFlight.set(workspaceId, (ctx.tenantInFlight.get(workspaceId) ?? 0) + n);
}

function releaseTenantSlots(ctx: WebhookJobContext, workspaceId: string, n: number): void {
  if (n <= 0) return;
  const left = (ctx.tenantInFlight.get(workspaceId) ?? n) - n;
  if (left <= 0) ctx.tenantInFlight.delete(workspaceId);
  else ctx.tenantInFlight.set(workspaceId, left);
  startWaitingDeliveries(ctx, workspaceId);
}

/** Waiting deliveries per workspace and process: bounded memory under a flood (a few hundred bytes each). */
export const DEFAULT_MAX_WAITING_PER_TENANT = 10_000;
/** First delay of a delivery deferred because its workspace's waiting list is full; doubles per deferral. */
const DEFER_BASE_MS = 250;
const DEFER_MAX_MS = 30_000;

/** Starts as many waiting deliveries of the workspace as it has free slots, oldest first. */
function startWaitingDeliveries(ctx: WebhookJobContext, workspaceId: string): void {
  const waiting = ctx.tenantWaiting?.get(workspaceId);
  if (!waiting) return;
  if (ctx.lifecycle?.stopping) {
    waiting.clear();
  }
  for (const [deliveryId, job] of waiting) {
    if ((ctx.tenantInFlight.get(workspaceId) ?? 0) >= ctx.perTenantLimit) break;
    waiting.delete(deliveryId);
    acquireTenantSlots(ctx, workspaceId, 1);
    track(
      ctx,
      attemptHoldingSlot(ctx, job).catch((err: unknown) =>
        // Not a queue job any more, so no queue retry: the row is unclaimed or leased, and due again later for the sweep.
        ctx.log.warn({ err, deliveryId }, 'waiting webhook delivery failed; the sweep will retry it'),
      ),
    );
  }
  if (waiting.size === 0) ctx.tenantWaiting?.delete(workspaceId);
}

function track(ctx: WebhookJobContext, run: Promise<void>): void {
  ctx.inlineAttempts?.add(run);
  void run.finally(() => ctx.inlineAttempts?.delete(run));
}

/**
 * A deliver job whose workspace has no free slot: it waits in the workspace's list and the job ends, so the queue
 * slot goes to other tenants' deliveries (F-13) and nothing polls. A full list (or no list) defers the job instead,
 * as a delayed job with exponential back-off, so a flood costs a handful of re-enqueues per delivery, not one per 100 ms.
 */
async function waitForTenantSlot(ctx: WebhookJobContext, job: DeliverWebhookJob): Promise<void> {
  const waitingMap = ctx.tenantWaiting;
  if (waitingMap && !ctx.lifecycle?.stopping) {
    let waiting = waitingMap.get(job.workspaceId);
    if (!waiting) waitingMap.set(job.workspaceId, (waiting = new Map()));
    if (waiting.has(job.deliveryId) || waiting.size < (ctx.maxWaitingPerTenant ?? DEFAULT_MAX_WAITING_PER_TENANT)) {
      // No slot can free between the caller's check and here (no await in between): the next release starts it.
      waiting.set(job.deliveryId, { deliveryId: job.deliveryId, workspaceId: job.workspaceId });
      return;
    }
  }
  const deferrals = (job.deferrals ?? 0) + 1;
  // The row is not claimed, so if this enqueue fails the sweep still finds the delivery due.
  await ctx.queue
    .enqueue(JOB_DELIVER_WEBHOOK, { deliveryId: job.deliveryId, workspaceId: job.workspaceId, deferrals } satisfies DeliverWebhookJob, {
      jobId: `delivery:${job.deliveryId}:deferred:${deferrals}:${Date.now()}`,
      delayMs: Math.min(DEFER_MAX_MS, DEFER_BASE_MS * 2 ** (deferrals - 1)),
      attempts: WORKER_JOB_ATTEMPTS,
    })
    .catch((err: unknown) => ctx.log.warn({ err, deliveryId: job.deliveryId }, 'busy delivery not re-enqueued; the sweep will'));
}

/** One attempt for a delivery whose tenant slot the caller acquired; the slot is released when the request ends. */
async function attemptHoldingSlot(ctx: WebhookJobContext, job: DeliverWebhookJob): Promise<void> {
  let outcome: DeliveryOutcome;
  try {
    outcome = await attemptWebhookDelivery({
      db: ctx.db,
      http: ctx.http,
      deliveryId: job.deliveryId,
      now: ctx.now(),
      policy: ctx.policy,
      ...(ctx.recordSuccess ? { recordSuccess: ctx.recordSuccess } : {}),
    });
  } finally {
    releaseTenantSlots(ctx, job.workspaceId, 1);
  }
  await afterAttempt(ctx, job, outcome);
}

/** jobId per (delivery, attempt): a retry enqueued twice is one job; the row's lease guards the rest. */
const deliverJobId = (deliveryId: string, attempt: number): string => `delivery:${deliveryId}:${attempt}`;

/**
 * `webhooks.fan-out` (from the outbox): one delivery row per subscribed endpoint of the event's workspace. As many
 * as the workspace has free delivery slots in this process are created already leased and attempted right here,
 * without a job (no claim query, no endpoint query, no queue round trip); the job does not wait for those requests,
 * so a hanging endpoint never holds a fan-out slot, and the per-tenant limit still bounds them (F-13). The rest get
 * a deliver job each. A failed enqueue is not an error: the row is due and the sweep enqueues it (nothing lost).
 */
export async function runWebhookFanOutJob(ctx: WebhookJobContext, job: OutboxJobPayload): Promise<void> {
  // The job carries the row's id, not its personal data (see OutboxJobPayload); a row already gone has nothing to send.
  const payload = job.payload ?? (job.workspaceId ? await loadOutboxPayload(ctx.db, job.outboxId, job.workspaceId) : null);
  const event = payload?.event as WebhookEvent | undefined;
  if (!job.workspaceId || !event) {
    ctx.log.warn({ outboxId: job.outboxId }, 'webhook fan-out job without workspace, outbox row or event; dropped');
    return;
  }
  const workspaceId = job.workspaceId;
  let reserved = 0;
  let created: Awaited<ReturnType<typeof fanOutWebhookEvent>>;
  try {
    created = await fanOutWebhookEvent({
      db: ctx.db,
      workspaceId,
      event,
      now: ctx.now(),
      leaseMs: ctx.policy.leaseMs,
      ...(ctx.endpointCache ? { endpoints: (id: string) => ctx.endpointCache!.get(ctx.db, id) } : {}),
      claim: (matching) => {
        // Reserved synchronously, before the insert round trip, so concurrent jobs of this tenant see them taken.
        reserved = Math.min(matching, Math.max(0, ctx.perTenantLimit - (ctx.tenantInFlight.get(workspaceId) ?? 0)));
        acquireTenantSlots(ctx, workspaceId, reserved);
        return reserved;
      },
    });
  } catch (err) {
    releaseTenantSlots(ctx, workspaceId, reserved);
    // E.g. an endpoint deleted by another process less than a TTL ago (foreign key): the retry reads them afresh.
    ctx.endpointCache?.invalidate(workspaceId);
    throw err;
  }
  const claimed = created.flatMap((c) => (c.claimed ? [c.claimed] : []));
  // Rows a concurrent duplicate of this job inserted first are not ours: their slots go back.
  releaseTenantSlots(ctx, workspaceId, reserved - claimed.length);
  for (const delivery of claimed) startInlineAttempt(ctx, delivery);
  for (const delivery of created) {
    if (delivery.claimed) continue;
    await ctx.queue
      .enqueue(JOB_DELIVER_WEBHOOK, { deliveryId: delivery.id, workspaceId: delivery.workspaceId } satisfies DeliverWebhookJob, {
        jobId: deliverJobId(delivery.id, 1),
        attempts: WORKER_JOB_ATTEMPTS,
      })
      .catch((err: unknown) => ctx.log.warn({ err, deliveryId: delivery.id }, 'deliver job not enqueued; the sweep will'));
  }
}

/** Runs the first attempt of a delivery the fan-out claimed; its tenant slot is already held and released here. */
function startInlineAttempt(ctx: WebhookJobContext, delivery: ClaimedWebhookDelivery): void {
  track(ctx, (async () => {
    try {
      const outcome = await deliverClaimedWebhook({
        db: ctx.db,
        http: ctx.http,
        delivery,
        now: ctx.now(),
        policy: ctx.policy,
        ...(ctx.recordSuccess ? { recordSuccess: ctx.recordSuccess } : {}),
      });
      await afterAttempt(ctx, { deliveryId: delivery.id, workspaceId: delivery.workspaceId }, outcome);
    } catch (err) {
      // The row keeps its lease; once it expires the sweep retries it with the same webhook-id.
      ctx.log.warn({ err, deliveryId: delivery.id }, 'webhook attempt failed to record; the sweep will retry it');
    } finally {
      releaseTenantSlots(ctx, delivery.workspaceId, 1);
    }
  })());
}

/** Schedules the next attempt of a failed delivery (a delayed job of its own; the row holds the durable schedule). */
async function afterAttempt(ctx: WebhookJobContext, job: DeliverWebhookJob, outcome: DeliveryOutcome): Promise<void> {
  if (outcome.outcome === 'retry') {
    await ctx.queue
      .enqueue(JOB_DELIVER_WEBHOOK, { deliveryId: job.deliveryId, workspaceId: job.workspaceId } satisfies DeliverWebhookJob, {
        jobId: deliverJobId(job.deliveryId, outcome.attempt + 1),
        delayMs: outcome.delayMs,
        attempts: WORKER_JOB_ATTEMPTS,
      })
      .catch((err: unknown) => ctx.log.warn({ err, deliveryId: job.deliveryId }, 'retry not enqueued; the sweep will'));
  } else if (outcome.outcome === 'dead') {
    // Dead letter (checklist F-12): the row stays in the delivery log with status dead and can be replayed.
    ctx.log.error({ deliveryId: job.deliveryId, workspaceId: job.workspaceId, attempt: outcome.attempt, reason: outcome.reason }, 'webhook delivery dead-lettered');
  }
}

/**
 * `webhooks.deliver`: one attempt; on failure the next attempt is a delayed job of its own (durable schedule in the
 * row). Over the workspace's in-flight limit the job waits for a slot without holding a queue slot (waitForTenantSlot).
 */
export async function runWebhookDeliverJob(ctx: WebhookJobContext, job: DeliverWebhookJob): Promise<void> {
  if ((ctx.tenantInFlight.get(job.workspaceId) ?? 0) >= ctx.perTenantLimit) {
    await waitForTenantSlot(ctx, job);
    return;
  }
  acquireTenantSlots(ctx, job.workspaceId, 1);
  await attemptHoldingSlot(ctx, job);
}

/**
 * Re-enqueues deliveries that are due but lost their job (process restart with the in-process queue, a failed
 * enqueue, or a worker killed mid-attempt whose lease expired). `graceMs` leaves scheduled jobs time to fire on
 * their own first; a duplicate is harmless (the lease makes the second run a no-op).
 */
export async function sweepDueWebhookDeliveries(ctx: WebhookJobContext, graceMs: number): Promise<number> {
  const now = ctx.now();
  const due = await findDueWebhookDeliveries({ db: ctx.db, dueBefore: new Date(now.getTime() - graceMs) });
  let enqueued = 0;
  for (const d of due) {
    try {
      await ctx.queue.enqueue(JOB_DELIVER_WEBHOOK, { deliveryId: d.id, workspaceId: d.workspaceId } satisfies DeliverWebhookJob, {
        // Stable while the row is unchanged, so repeated sweeps of a backlog add one job, not one per sweep;
        // the hour bucket lets a job that failed before claiming (database outage) be tried again later.
        jobId: `${deliverJobId(d.id, d.attempts + 1)}:sweep:${d.nextAttemptAt?.getTime() ?? 0}:${Math.floor(now.getTime() / 3_600_000)}`,
        attempts: WORKER_JOB_ATTEMPTS,
      });
      enqueued += 1;
    } catch (err) {
      ctx.log.warn({ err }, 'sweep could not enqueue; queue unavailable');
      break;
    }
  }
  return enqueued;
}
