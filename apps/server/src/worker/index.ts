import pino from 'pino';
import {
  DEFAULT_WEBHOOK_DELIVERY_POLICY,
  DeliverySuccessWriter,
  JOB_DELIVER_WEBHOOK,
  JOB_MISSED_MESSAGE_EMAIL,
  JOB_RUN_EXPORT,
  type MissedMessageJob,
  OUTBOX_TOPICS,
  purgeDispatchedOutbox,
  purgeWebhookDeliveries,
  relayOutbox,
  type OutboxJobPayload,
  type RunExportJobPayload,
  type WebhookDeliveryPolicy,
  WebhookEndpointCache,
} from '@reusable-chat/core';
import type { JobHandler, OutboundHttpClient } from '@reusable-chat/core/ports';
import { schema } from '@reusable-chat/db';
import { SafeHttpClient } from '@reusable-chat/drivers';
import { ProductChannel } from '@reusable-chat/protocol';
import type { AppDeps } from '../deps.ts';
import { runMissedMessageJob, scanMissedMessages, type MissedMessageContext } from './missed-message.jobs.ts';
import {
  JOB_ATTACHMENTS_GC,
  JOB_RETENTION_PURGE,
  runAttachmentsGcJob,
  runExportQueueJob,
  sweepStalledExports,
  runRetentionPurgeJob,
  scheduleMaintenanceJobs,
  type MaintenanceContext,
  type RetentionPurgeJob,
} from './maintenance.jobs.ts';
import { onOutboxRecorded } from './outbox-hook.ts';
import { listenForOutboxRows } from './outbox-notify.ts';
import { PollLoop } from './poll-loop.ts';
import { runWebhookDeliverJob, runWebhookFanOutJob, sweepDueWebhookDeliveries, type DeliverWebhookJob, type WebhookJobContext } from './webhook.jobs.ts';
import { WORKER_JOB_ATTEMPTS } from './worker-constants.ts';
import type { WorkerLogger } from './worker-logger.ts';

export { installOutboxListener } from './outbox-hook.ts';
export type { WorkerLogger } from './worker-logger.ts';

export { WORKER_JOB_ATTEMPTS } from './worker-constants.ts';
const OUTBOX_BATCH = 100;
/** Delivery slots per worker process (deliver jobs plus the first attempts fan-out jobs start themselves). */
const DEFAULT_DELIVER_CONCURRENCY = 32;
/** Dispatched outbox rows are kept a week for inspection; the delivery log (succeeded/dead) 30 days. */
const OUTBOX_RETENTION_MS = 7 * 24 * 3_600_000;
const DELIVERY_LOG_RETENTION_MS = 30 * 24 * 3_600_000;

export interface WorkerOptions {
  readonly logger?: WorkerLogger;
  /** Outbound HTTP for webhooks; default: the SSRF-safe client, private targets only with WEBHOOKS_ALLOW_PRIVATE. */
  readonly http?: OutboundHttpClient;
  /** Overrides of the delivery policy (tests inject a short retry schedule). */
  readonly webhookPolicy?: Partial<WebhookDeliveryPolicy>;
  /** Outbox poll period, a safety net: rows written in this process, or by any process on PostgreSQL (NOTIFY), are relayed at once. */
  readonly relayIntervalMs?: number;
  /** Cap of the relay's back-off while the queue (Redis) is down; default 30 s (tests shorten it). */
  readonly relayMaxBackoffMs?: number;
  /** How often due deliveries without a job are looked for, and how overdue they must be. */
  readonly sweepIntervalMs?: number;
  readonly sweepGraceMs?: number;
  readonly concurrency?: { readonly fanOut?: number; readonly deliver?: number; readonly email?: number };
  /** Delivery attempts one workspace may run at once in this process (F-13); default all deliver slots but two. */
  readonly perTenantDeliveryConcurrency?: number;
  /** Deliveries one workspace may have waiting for a slot in this process before they are deferred; default 10 000. */
  readonly maxWaitingDeliveriesPerTenant?: number;
  /** How often participants with unread, un-emailed messages are looked for (missed-message email). */
  readonly missedMessageScanIntervalMs?: number;
  /**
   * Whether a chat user is connected right now; default: a subscription to their `private-user.{id}` channel in
   * deps.channelState (cluster-wide with Redis). Without a channel state every user counts as offline.
   */
  readonly isOnline?: (workspaceId: string, chatUserId: string) => Promise<boolean>;
  /** How often retention purges (G-07) and the orphan-upload GC are scheduled; default hourly. */
  readonly maintenanceIntervalMs?: number;
}

export interface RunningWorker {
  /** Relays pending outbox rows now (tests; a flush before shutdown). */
  relayNow(): Promise<void>;
  /** Re-enqueues overdue deliveries now. */
  sweepNow(): Promise<void>;
  /** Looks for missed messages now. */
  scanMissedMessagesNow(): Promise<void>;
  /** Schedules the retention purges and the orphan-upload GC now (they run as queue jobs). */
  scheduleMaintenanceNow(): Promise<void>;
  /** Webhook deliveries waiting for a slot of their workspace in this process, and attempts in flight (tests, metrics). */
  webhookSlots(): { waiting: number; inFlight: number };
  /** Graceful: stops polling, lets a running relay/sweep round finish. Jobs drain when the queue closes (deps.dispose). */
  stop(): Promise<void>;
}

/**
 * The worker role (SPEC §1: `reusable-chat worker`, or `serve --roles …,worker`): job handlers on deps.queue, the
 * outbox relay and the delivery sweep. Every handler is idempotent (checklist F-11), so at-least-once queues and
 * overlapping workers never send a webhook twice for one attempt.
 */
export async function startWorker(deps: AppDeps, options: WorkerOptions = {}): Promise<RunningWorker> {
  const log: WorkerLogger = options.logger ?? pino({ level: deps.config.logLevel, name: 'worker' });
  const db = deps.database.db;
  const policy: WebhookDeliveryPolicy = { ...DEFAULT_WEBHOOK_DELIVERY_POLICY, ...options.webhookPolicy };
  const http =
    options.http ??
    new SafeHttpClient({ allowPrivate: deps.config.webhooksAllowPrivate, defaultTimeoutMs: policy.requestTimeoutMs });
  // Deliveries wait on the network, not the CPU: many slots keep a keep-alive connection per endpoint busy.
  const deliverConcurrency = options.concurrency?.deliver ?? DEFAULT_DELIVER_CONCURRENCY;
  const inlineAttempts = new Set<Promise<void>>();
  const lifecycle = { stopping: false };
  const ctx: WebhookJobContext = {
    db,
    queue: deps.queue,
    http,
    policy,
    now: () => deps.clock.now(),
    log,
    // All but two slots: a single busy tenant keeps most of the throughput, and two slots always stay free for others.
    perTenantLimit: options.perTenantDeliveryConcurrency ?? Math.max(1, deliverConcurrency - 2),
    tenantInFlight: new Map(),
    tenantWaiting: new Map(),
    ...(options.maxWaitingDeliveriesPerTenant !== undefined ? { maxWaitingPerTenant: options.maxWaitingDeliveriesPerTenant } : {}),
    lifecycle,
    endpointCache: new WebhookEndpointCache(),
    recordSuccess: new DeliverySuccessWriter(db).record,
    inlineAttempts,
  };

  const deadLettering =
    <T>(name: string, run: (payload: T) => Promise<void>): JobHandler =>
    async (payload, meta) => {
      try {
        await run(payload as T);
      } catch (err) {
        if (meta.attempt >= WORKER_JOB_ATTEMPTS) await recordDeadJob(name, meta.jobId, payload, err);
        throw err;
      }
    };

  /** Dead letter with an alert (checklist F-12): an error log line and an audit entry the tenant's admins can see. */
  async function recordDeadJob(name: string, jobId: string, payload: unknown, err: unknown): Promise<void> {
    const workspaceId = (payload as { workspaceId?: unknown } | null)?.workspaceId;
    log.error({ job: name, jobId, err }, 'job dead-lettered after its last attempt');
    await db
      .insert(schema.auditLog)
      .values({
        workspaceId: typeof workspaceId === 'string' ? workspaceId : null,
        actorType: 'system',
        action: 'worker.job_dead_lettered',
        targetType: 'job',
        targetId: jobId,
        metadata: { job: name, error: err instanceof Error ? err.message.slice(0, 500) : 'unknown' },
      })
      .catch(() => undefined);
  }

  deps.queue.process(
    OUTBOX_TOPICS.webhookEvent,
    deadLettering<OutboxJobPayload>(OUTBOX_TOPICS.webhookEvent, (job) => runWebhookFanOutJob(ctx, job)),
    { concurrency: options.concurrency?.fanOut ?? 4 },
  );
  // Each attempt is bounded by the request timeout, retries are delayed jobs rather than sleeping workers, and one
  // workspace holds at most perTenantLimit slots, so a tenant's dead endpoint cannot stall the others (F-13).
  deps.queue.process(
    JOB_DELIVER_WEBHOOK,
    deadLettering<DeliverWebhookJob>(JOB_DELIVER_WEBHOOK, (job) => runWebhookDeliverJob(ctx, job)),
    { concurrency: deliverConcurrency },
  );

  const channelState = deps.channelState;
  const isOnline =
    options.isOnline ??
    (channelState
      ? async (_workspaceId: string, chatUserId: string) =>
          // Presence unknown (Redis down) counts as offline: an email too many beats a missed one.
          (await channelState.channelCounts(ProductChannel.user(chatUserId)).catch(() => ({ subscriptionCount: 0 }))).subscriptionCount > 0
      : undefined);
  const mailCtx: MissedMessageContext = {
    db,
    queue: deps.queue,
    mailer: deps.mailer,
    appUrl: deps.config.appUrl,
    secret: deps.appSecret,
    now: () => deps.clock.now(),
    isOnline,
    rateLimiter: deps.rateLimiter,
    log,
  };
  deps.queue.process(
    JOB_MISSED_MESSAGE_EMAIL,
    deadLettering<MissedMessageJob>(JOB_MISSED_MESSAGE_EMAIL, async (job) => {
      await runMissedMessageJob(mailCtx, job);
    }),
    { concurrency: options.concurrency?.email ?? 2 },
  );

  const maintenanceCtx: MaintenanceContext = { db, queue: deps.queue, blobStore: deps.blobStore, now: () => deps.clock.now(), log };
  deps.queue.process(
    JOB_RETENTION_PURGE,
    deadLettering<RetentionPurgeJob>(JOB_RETENTION_PURGE, (job) => runRetentionPurgeJob(maintenanceCtx, job)),
    { concurrency: 1 },
  );
  deps.queue.process(
    JOB_RUN_EXPORT,
    deadLettering<RunExportJobPayload>(JOB_RUN_EXPORT, (job) => runExportQueueJob(maintenanceCtx, job)),
    { concurrency: 1 },
  );
  deps.queue.process(JOB_ATTACHMENTS_GC, deadLettering(JOB_ATTACHMENTS_GC, () => runAttachmentsGcJob(maintenanceCtx)), { concurrency: 1 });

  const relayIntervalMs = options.relayIntervalMs ?? 1_000;
  const relay = new PollLoop(
    async () => {
      const result = await relayOutbox({ db, queue: deps.queue, limit: OUTBOX_BATCH, jobAttempts: WORKER_JOB_ATTEMPTS });
      if (result.queueFailed) throw new Error('queue unavailable; outbox rows stay pending');
      return result.dispatched >= OUTBOX_BATCH ? 'more' : 'idle';
    },
    { intervalMs: relayIntervalMs, maxBackoffMs: options.relayMaxBackoffMs ?? 30_000, onError: (err) => log.warn({ err }, 'outbox relay round failed; backing off') },
  );
  const sweepGraceMs = options.sweepGraceMs ?? 60_000;
  const sweep = new PollLoop(
    async () => {
      const n = await sweepDueWebhookDeliveries(ctx, sweepGraceMs);
      if (n > 0) log.info({ count: n }, 're-enqueued overdue webhook deliveries');
      const exports = await sweepStalledExports(maintenanceCtx);
      if (exports > 0) log.info({ count: exports }, 're-enqueued stalled exports');
      return 'idle';
    },
    { intervalMs: options.sweepIntervalMs ?? 15_000, maxBackoffMs: 120_000, onError: (err) => log.warn({ err }, 'delivery sweep failed') },
  );
  const missedScan = new PollLoop(
    async () => {
      await scanMissedMessages(mailCtx);
      return 'idle';
    },
    {
      intervalMs: options.missedMessageScanIntervalMs ?? 60_000,
      maxBackoffMs: 600_000,
      onError: (err) => log.warn({ err }, 'missed-message scan failed'),
    },
  );
  const housekeeping = new PollLoop(
    async () => {
      const now = deps.clock.now().getTime();
      const outbox = await purgeDispatchedOutbox({ db, olderThan: new Date(now - OUTBOX_RETENTION_MS) });
      const deliveries = await purgeWebhookDeliveries({ db, olderThan: new Date(now - DELIVERY_LOG_RETENTION_MS) });
      // A full batch means more is waiting: go again at once rather than in ten minutes.
      return outbox >= 1_000 || deliveries >= 1_000 ? 'more' : 'idle';
    },
    { intervalMs: 10 * 60_000, maxBackoffMs: 3_600_000, onError: (err) => log.warn({ err }, 'housekeeping failed') },
  );
  const maintenance = new PollLoop(
    async () => {
      await scheduleMaintenanceJobs(maintenanceCtx);
      return 'idle';
    },
    { intervalMs: options.maintenanceIntervalMs ?? 3_600_000, maxBackoffMs: 3_600_000, onError: (err) => log.warn({ err }, 'maintenance scheduling failed') },
  );
  const unsubscribe = onOutboxRecorded(deps, () => relay.wake());
  // Rows committed by other processes (API nodes when this worker runs alone) wake the relay through NOTIFY.
  const stopListening = await listenForOutboxRows(db, () => relay.wake(), log);
  relay.start();
  sweep.start();
  missedScan.start();
  housekeeping.start();
  maintenance.start();
  log.info({ queue: deps.config.redis ? 'bullmq' : 'memory' }, 'worker started');

  return {
    relayNow: () => relay.runOnce(),
    sweepNow: () => sweep.runOnce(),
    scanMissedMessagesNow: () => missedScan.runOnce(),
    scheduleMaintenanceNow: async () => {
      await scheduleMaintenanceJobs(maintenanceCtx, { now: true });
    },
    webhookSlots: () => {
      let waiting = 0;
      for (const list of ctx.tenantWaiting?.values() ?? []) waiting += list.size;
      let inFlight = 0;
      for (const n of ctx.tenantInFlight.values()) inFlight += n;
      return { waiting, inFlight };
    },
    async stop() {
      // Waiting deliveries are not started any more; their rows stay due, so the next worker's sweep sends them.
      lifecycle.stopping = true;
      for (const list of ctx.tenantWaiting?.values() ?? []) list.clear();
      unsubscribe();
      await stopListening();
      await Promise.all([relay.stop(), sweep.stop(), missedScan.stop(), housekeeping.stop(), maintenance.stop()]);
      // First attempts started by fan-out jobs, and waiting deliveries already started, are not queue jobs: wait for
      // them (each is bounded by the request timeout).
      while (inlineAttempts.size > 0) await Promise.allSettled([...inlineAttempts]);
      log.info({}, 'worker stopped');
    },
  };
}
