import {
  deleteExpiredExports,
  deleteOrphanAttachments,
  EXPORT_FILE_TTL_MS,
  EXPORT_JOB_ATTEMPTS,
  findStalledExportJobs,
  JOB_RUN_EXPORT,
  listWorkspacesWithRetention,
  purgeExpiredMessages,
  retentionDaysOf,
  runExportJob,
  type RunExportJobPayload,
} from '@reusable-chat/core';
import type { BlobStore, JobQueue } from '@reusable-chat/core/ports';
import { schema, type Database } from '@reusable-chat/db';
import { eq } from 'drizzle-orm';
import { WORKER_JOB_ATTEMPTS } from './worker-constants.ts';
import type { WorkerLogger } from './worker-logger.ts';

export const JOB_RETENTION_PURGE = 'retention.purge';
export const JOB_ATTACHMENTS_GC = 'attachments.gc';
/** Uploads never attached to a message are kept this long (the client may still be composing), then collected (U-11). */
export const ORPHAN_ATTACHMENT_TTL_MS = 24 * 3_600_000;
/** How often the maintenance jobs are scheduled; the jobId bucket makes every worker's schedule one job on BullMQ. */
export const MAINTENANCE_BUCKET_MS = 3_600_000;

export interface RetentionPurgeJob {
  readonly workspaceId: string;
}

export interface MaintenanceContext {
  readonly db: Database;
  readonly queue: JobQueue;
  readonly blobStore: BlobStore;
  readonly now: () => Date;
  readonly log: WorkerLogger;
}

/**
 * The schedule: one retention job per workspace that sets `retention_days` and one orphan-upload GC job, per hour
 * bucket. Overlapping workers enqueue the same jobIds, so each runs once per bucket cluster-wide (BullMQ dedupes).
 */
export async function scheduleMaintenanceJobs(ctx: MaintenanceContext, options: { now?: boolean } = {}): Promise<number> {
  // An on-demand run (scheduleMaintenanceNow) gets ids of its own, so the hour's scheduled jobs do not swallow it.
  const bucket = options.now ? `now-${ctx.now().getTime()}` : String(Math.floor(ctx.now().getTime() / MAINTENANCE_BUCKET_MS));
  const workspaces = await listWorkspacesWithRetention({ db: ctx.db });
  for (const w of workspaces) {
    await ctx.queue.enqueue(JOB_RETENTION_PURGE, { workspaceId: w.workspaceId } satisfies RetentionPurgeJob, {
      jobId: `retention:${w.workspaceId}:${bucket}`,
      attempts: WORKER_JOB_ATTEMPTS,
    });
  }
  await ctx.queue.enqueue(JOB_ATTACHMENTS_GC, {}, { jobId: `attachments-gc:${bucket}`, attempts: WORKER_JOB_ATTEMPTS });
  return workspaces.length + 1;
}

/** `retention.purge` (checklist G-07): re-reads the setting, so a workspace that turned retention off is left alone. */
export async function runRetentionPurgeJob(ctx: MaintenanceContext, job: RetentionPurgeJob): Promise<void> {
  if (!job.workspaceId) return;
  const [workspace] = await ctx.db
    .select({ settings: schema.workspaces.settings })
    .from(schema.workspaces)
    .where(eq(schema.workspaces.id, job.workspaceId));
  const days = workspace ? retentionDaysOf(workspace.settings) : null;
  if (days === null) return;
  const result = await purgeExpiredMessages({ db: ctx.db, blobStore: ctx.blobStore, workspaceId: job.workspaceId, retentionDays: days, now: ctx.now() });
  if (result.messages > 0) ctx.log.info({ workspaceId: job.workspaceId, messages: result.messages, attachments: result.attachments }, 'retention purge');
}

/**
 * `attachments.gc`: uploads never attached to a message, older than the TTL, rows and objects (U-11); and finished
 * export files past their TTL (they copy personal data, G-01/G-03).
 */
export async function runAttachmentsGcJob(ctx: MaintenanceContext): Promise<void> {
  const expiredExports = await deleteExpiredExports({ db: ctx.db, blobStore: ctx.blobStore, olderThan: new Date(ctx.now().getTime() - EXPORT_FILE_TTL_MS) });
  if (expiredExports > 0) ctx.log.info({ count: expiredExports }, 'expired export files deleted');
  const olderThan = new Date(ctx.now().getTime() - ORPHAN_ATTACHMENT_TTL_MS);
  for (;;) {
    const n = await deleteOrphanAttachments({ db: ctx.db, blobStore: ctx.blobStore, olderThan, limit: 500 });
    if (n > 0) ctx.log.info({ count: n }, 'orphan uploads collected');
    if (n < 500) return;
  }
}

/** An export request whose job never reached the queue (Redis down at request time) is picked up after this. */
const EXPORT_ENQUEUE_GRACE_MS = 60_000;

/** Re-enqueues exports that are pending past the grace period or running on a worker that died (G-01). */
export async function sweepStalledExports(ctx: MaintenanceContext): Promise<number> {
  const now = ctx.now();
  const stalled = await findStalledExportJobs({ db: ctx.db, now, olderThan: new Date(now.getTime() - EXPORT_ENQUEUE_GRACE_MS) });
  for (const job of stalled) {
    // A new id per minute: a sweep's job that already ran (and found the row taken) does not block a later one.
    await ctx.queue.enqueue(JOB_RUN_EXPORT, job, { jobId: `export:${job.exportId}:sweep:${Math.floor(now.getTime() / 60_000)}`, attempts: EXPORT_JOB_ATTEMPTS });
  }
  return stalled.length;
}

/** `exports.run`: writes the file and marks the export ready (idempotent, see runExportJob). */
export async function runExportQueueJob(ctx: MaintenanceContext, job: RunExportJobPayload): Promise<void> {
  const outcome = await runExportJob({ db: ctx.db, blobStore: ctx.blobStore, job, now: ctx.now() });
  if (outcome.outcome === 'failed') ctx.log.error({ exportId: job.exportId, workspaceId: job.workspaceId, error: outcome.error }, 'export failed');
}
