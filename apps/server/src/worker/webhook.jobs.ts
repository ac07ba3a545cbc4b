import {
  attemptWebhookDelivery,
  fanOutWebhookEvent,
  findDueWebhookDeliveries,
  JOB_DELIVER_WEBHOOK,
  type OutboxJobPayload,
  type WebhookDeliveryPolicy,
  type WebhookEvent,
} from '@reusable-chat/core';
import type { JobQueue, OutboundHttpClient } from '@reusable-chat/core/ports';
import type { Database } from '@reusable-chat/db';
import { WORKER_JOB_ATTEMPTS } from './worker-constants.ts';
import type { WorkerLogger } from './worker-logger.ts';

export interface DeliverWebhookJob {
  readonly deliveryId: string;
  readonly workspaceId: string;
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
   * must not take every delivery slot). Jobs over the limit wait a moment in the queue instead of a slot.
   */
  readonly perTenantLimit: number;
  readonly tenantInFlight: Map<string, number>;
}

/** How long a delivery over its tenant's in-flight limit waits before it asks again. */
const TENANT_BUSY_DELAY_MS = 100;

/** jobId per (delivery, attempt): a retry enqueued twice is one job; the row's lease guards the rest. */
const deliverJobId = (deliveryId: string, attempt: number): string => `delivery:${deliveryId}:${attempt}`;

/**
 * `webhooks.fan-out` (from the outbox): one delivery row per subscribed endpoint of the event's workspace, then a
 * deliver job each. A failed enqueue is not an error: the row is due and the sweep enqueues it (nothing lost).
 */
export async function runWebhookFanOutJob(ctx: WebhookJobContext, job: OutboxJobPayload): Promise<void> {
  const event = job.payload.event as WebhookEvent | undefined;
  if (!job.workspaceId || !event) {
    ctx.log.warn({ outboxId: job.outboxId }, 'webhook fan-out job without workspace or event; dropped');
    return;
  }
  const created = await fanOutWebhookEvent({ db: ctx.db, workspaceId: job.workspaceId, event, now: ctx.now() });
  for (const delivery of created) {
    await ctx.queue
      .enqueue(JOB_DELIVER_WEBHOOK, { deliveryId: delivery.id, workspaceId: delivery.workspaceId } satisfies DeliverWebhookJob, {
        jobId: deliverJobId(delivery.id, 1),
        attempts: WORKER_JOB_ATTEMPTS,
      })
      .catch((err: unknown) => ctx.log.warn({ err, deliveryId: delivery.id }, 'deliver job not enqueued; the sweep will'));
  }
}

/** `webhooks.deliver`: one attempt; on failure the next attempt is a delayed job of its own (durable schedule in the row). */
export async function runWebhookDeliverJob(ctx: WebhookJobContext, job: DeliverWebhookJob): Promise<void> {
  const running = ctx.tenantInFlight.get(job.workspaceId) ?? 0;
  if (running >= ctx.perTenantLimit) {
    // The row is not claimed, so if this re-enqueue fails the sweep still finds the delivery due.
    await ctx.queue
      .enqueue(JOB_DELIVER_WEBHOOK, job, {
        jobId: `delivery:${job.deliveryId}:busy:${Date.now()}:${Math.random()}`,
        delayMs: TENANT_BUSY_DELAY_MS,
        attempts: WORKER_JOB_ATTEMPTS,
      })
      .catch((err: unknown) => ctx.log.warn({ err, deliveryId: job.deliveryId }, 'busy delivery not re-enqueued; the sweep will'));
    return;
  }
  ctx.tenantInFlight.set(job.workspaceId, running + 1);
  let outcome: Awaited<ReturnType<typeof attemptWebhookDelivery>>;
  try {
    outcome = await attemptWebhookDelivery({ db: ctx.db, http: ctx.http, deliveryId: job.deliveryId, now: ctx.now(), policy: ctx.policy });
  } finally {
    const left = (ctx.tenantInFlight.get(job.workspaceId) ?? 1) - 1;
    if (left <= 0) ctx.tenantInFlight.delete(job.workspaceId);
    else ctx.tenantInFlight.set(job.workspaceId, left);
  }
  if (outcome.outcome === 'retry') {
    await ctx.queue
      .enqueue(JOB_DELIVER_WEBHOOK, job, {
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
