import {
  findMissedMessageCandidates,
  isMissedMessageBatchDue,
  JOB_MISSED_MESSAGE_EMAIL,
  sendMissedMessageEmail,
  type MissedMessageJob,
  type MissedMessageOutcome,
} from '@reusable-chat/core';
import type { JobQueue, Mailer, RateLimiter } from '@reusable-chat/core/ports';
import type { Database } from '@reusable-chat/db';
import { WORKER_JOB_ATTEMPTS } from './worker-constants.ts';
import type { WorkerLogger } from './worker-logger.ts';

export interface MissedMessageContext {
  readonly db: Database;
  readonly queue: JobQueue;
  readonly mailer: Mailer;
  readonly appUrl: string;
  readonly secret: string;
  readonly now: () => Date;
  readonly isOnline?: (workspaceId: string, chatUserId: string) => Promise<boolean>;
  /** Per-workspace daily email counter (F-15); the RateLimiter port makes it atomic and cluster-wide with Redis. */
  readonly rateLimiter?: RateLimiter;
  readonly log: WorkerLogger;
}

/** The smallest delay a configuration can set (policy.schema.ts: delay_minutes ≥ 1): the scan's pre-filter. */
const MIN_POLICY_DELAY_MS = 60_000;
/** A batch deferred because its user was online is looked at again in the next bucket. */
const RESCAN_BUCKET_MS = 10 * 60_000;

/**
 * The scan: one job per participant with an unread, un-emailed batch. The jobId names the batch's start
 * (`fromSeq`), so new messages arriving in the same batch do not make a second job, and every worker's scan
 * of the same batch is one job on BullMQ; the time bucket lets a batch deferred (user online) be looked at again.
 */
export async function scanMissedMessages(ctx: MissedMessageContext, batchLimit = 500): Promise<number> {
  const now = ctx.now();
  const candidates = await findMissedMessageCandidates({ db: ctx.db, now, minDelayMs: MIN_POLICY_DELAY_MS, limit: batchLimit });
  const bucket = Math.floor(now.getTime() / RESCAN_BUCKET_MS);
  let enqueued = 0;
  for (const job of candidates) {
    // Only batches past their configuration's delay: a job made too early would use up its dedupe id.
    if (!(await isMissedMessageBatchDue({ db: ctx.db, job, now }))) continue;
    await ctx.queue.enqueue(JOB_MISSED_MESSAGE_EMAIL, job, {
      jobId: `missed:${job.conversationId}:${job.chatUserId}:${job.fromSeq}:${bucket}`,
      attempts: WORKER_JOB_ATTEMPTS,
    });
    enqueued += 1;
  }
  return enqueued;
}

export async function runMissedMessageJob(ctx: MissedMessageContext, job: MissedMessageJob): Promise<MissedMessageOutcome> {
  const limiter = ctx.rateLimiter;
  const outcome = await sendMissedMessageEmail({
    db: ctx.db,
    mailer: ctx.mailer,
    job,
    now: ctx.now(),
    appUrl: ctx.appUrl,
    secret: ctx.secret,
    isOnline: ctx.isOnline,
    reserveDailySlot: limiter
      ? async (workspaceId, cap, day) => (await limiter.hit(`email-daily:${workspaceId}:${day}`, cap, 86_400)).allowed
      : undefined,
  });
  if (outcome.outcome === 'skipped' && outcome.reason === 'daily_cap') {
    ctx.log.warn({ workspaceId: job.workspaceId }, 'missed-message email skipped: workspace daily cap reached');
  }
  return outcome;
}
