import { createWriteStream, createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { and, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { schema, type Database, type JsonObject } from '@reusable-chat/db';
import { notFound } from '../errors/registry.ts';
import { recordAudit, type AuditActor } from '../moderation/record-audit.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import {
  CONVERSATION_EXPORT_COLUMNS,
  exportConversations,
  exportMessages,
  MESSAGE_EXPORT_COLUMNS,
  toCsvLine,
  type ExportFilter,
  type ExportRow,
} from './export-rows.ts';

export type ExportJobRow = typeof schema.exportJobs.$inferSelect;
export type ExportType = ExportJobRow['type'];
export type ExportFormat = ExportJobRow['format'];

export const JOB_RUN_EXPORT = 'exports.run';
/** A download link lives this long (G-01: "expiring, signed download link"). */
export const EXPORT_DOWNLOAD_TTL_S = 300;
/** A job marked running longer than this belongs to a worker that died; it may be claimed again. */
const EXPORT_STALE_RUNNING_MS = 15 * 60_000;
/** Queue attempts of one export job; after the last the row is marked failed with the error. */
export const EXPORT_JOB_ATTEMPTS = 3;

export interface RunExportJobPayload {
  readonly exportId: string;
  readonly workspaceId: string;
}

export interface ExportJobJson {
  id: string;
  type: ExportType;
  format: ExportFormat;
  status: ExportJobRow['status'];
  row_count: number | null;
  size_bytes: number | null;
  created_at: string;
  completed_at: string | null;
  error: string | null;
}

export function exportJobJson(row: ExportJobRow): ExportJobJson {
  return {
    id: row.id,
    type: row.type,
    format: row.format,
    status: row.status,
    row_count: row.rowCount,
    size_bytes: row.sizeBytes,
    created_at: row.createdAt.toISOString(),
    completed_at: row.completedAt?.toISOString() ?? null,
    error: row.error,
  };
}

/** The object key: inside the workspace's prefix, so workspace offboarding (G-05) removes exports with the rest. */
export const exportStorageKey = (row: Pick<ExportJobRow, 'workspaceId' | 'id' | 'format'>): string =>
  `workspaces/${row.workspaceId}/exports/${row.id}.${row.format}`;

/** A request becomes a pending row and an audit entry; the caller enqueues JOB_RUN_EXPORT after commit. */
export async function requestExport(params: {
  db: Database;
  workspaceId: string;
  type: ExportType;
  format: ExportFormat;
  filter: { since?: string; until?: string; conversation_id?: string };
  actor: AuditActor;
  ip?: string | null;
}): Promise<ExportJobRow> {
  return params.db.transaction(async (tx) => {
    const filter: JsonObject = {};
    for (const [k, v] of Object.entries(params.filter)) if (v !== undefined) filter[k] = v;
    const [row] = await tx
      .insert(schema.exportJobs)
      .values({ workspaceId: params.workspaceId, type: params.type, format: params.format, filter })
      .returning();
    await recordAudit({
      db: tx,
      workspaceId: params.workspaceId,
      actor: params.actor,
      action: 'export.requested',
      targetType: 'export',
      targetId: row!.id,
      ip: params.ip ?? null,
      metadata: { type: params.type, format: params.format, filter },
    });
    return row!;
  });
}

/** Another workspace's export id is 404, like every other resource (T-13). */
export async function getExportJob(params: { db: Database; workspaceId: string; exportId: string }): Promise<ExportJobRow> {
  const [row] = await params.db
    .select()
    .from(schema.exportJobs)
    .where(and(eq(schema.exportJobs.workspaceId, params.workspaceId), eq(schema.exportJobs.id, params.exportId)));
  if (!row) throw notFound('Export');
  return row;
}

/** Exports that no job is working on: pending past `olderThan` (lost enqueue) or running with a dead worker. */
export async function findStalledExportJobs(params: { db: Database; now: Date; olderThan: Date; limit?: number }): Promise<RunExportJobPayload[]> {
  const e = schema.exportJobs;
  const rows = await params.db
    .select({ exportId: e.id, workspaceId: e.workspaceId })
    .from(e)
    .where(
      or(
        and(eq(e.status, 'pending'), lt(e.createdAt, params.olderThan)),
        and(eq(e.status, 'running'), lt(e.startedAt, new Date(params.now.getTime() - EXPORT_STALE_RUNNING_MS))),
      ),
    )
    .limit(params.limit ?? 100);
  return rows;
}

export type ExportJobOutcome = { outcome: 'ready'; rows: number; sizeBytes: number } | { outcome: 'skipped' } | { outcome: 'failed'; error: string };

/**
 * The worker side (G-01): claims the row (pending, or running with a dead worker), writes the rows to a temporary
 * file and then to storage with a known length, marks it ready and audits the counts. Idempotent (F-11): a ready,
 * failed or freshly claimed row is skipped, and a rerun overwrites the same key. A failure is recorded on the row
 * after the last attempt and rethrown before it so the queue retries.
 */
export async function runExportJob(params: {
  db: Database;
  blobStore: BlobStore;
  job: RunExportJobPayload;
  now: Date;
}): Promise<ExportJobOutcome> {
  const { db, job } = params;
  if (!job.exportId || !job.workspaceId) return { outcome: 'skipped' };
  const e = schema.exportJobs;
  const [claimed] = await db
    .update(e)
    .set({ status: 'running', startedAt: params.now, attempts: sql`${e.attempts} + 1` })
    .where(
      and(
        eq(e.workspaceId, job.workspaceId),
        eq(e.id, job.exportId),
        or(
          eq(e.status, 'pending'),
          and(eq(e.status, 'running'), or(isNull(e.startedAt), lt(e.startedAt, new Date(params.now.getTime() - EXPORT_STALE_RUNNING_MS)))),
        ),
      ),
    )
    .returning();
  if (!claimed) return { outcome: 'skipped' };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rc-export-'));
  try {
    const file = path.join(dir, `export.${claimed.format}`);
    const rows = await writeExportFile({ db, row: claimed, file });
    const { size } = await stat(file);
    const key = exportStorageKey(claimed);
    await params.blobStore.put(key, createReadStream(file), {
      contentType: claimed.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      sizeBytes: size,
      disposition: 'attachment',
    });
    await db.transaction(async (tx) => {
      await tx
        .update(e)
        .set({ status: 'ready', storageKey: key, rowCount: rows, sizeBytes: size, completedAt: new Date(), error: null })
        .where(and(eq(e.workspaceId, claimed.workspaceId), eq(e.id, claimed.id)));
      await recordAudit({
        db: tx,
        workspaceId: claimed.workspaceId,
        actor: { type: 'system', id: null },
        action: 'export.completed',
        targetType: 'export',
        targetId: claimed.id,
        metadata: { type: claimed.type, format: claimed.format, rows, size_bytes: size },
      });
    });
    return { outcome: 'ready', rows, sizeBytes: size };
  } catch (err) {
    const message = err instanceof Error ? err.message.slice(0, 500) : 'unknown error';
    const final = claimed.attempts >= EXPORT_JOB_ATTEMPTS;
    await db
      .update(e)
      .set(final ? { status: 'failed', error: message, completedAt: new Date() } : { status: 'pending', error: message })
      .where(and(eq(e.workspaceId, claimed.workspaceId), eq(e.id, claimed.id)));
    if (final) return { outcome: 'failed', error: message };
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeExportFile(params: { db: Database; row: ExportJobRow; file: string }): Promise<number> {
  const { row } = params;
  const f = row.filter as { since?: string; until?: string; conversation_id?: string };
  const filter: ExportFilter = {
    ...(f.since ? { since: new Date(f.since) } : {}),
    ...(f.until ? { until: new Date(f.until) } : {}),
    ...(f.conversation_id ? { conversationId: f.conversation_id } : {}),
  };
  const columns = row.type === 'messages' ? MESSAGE_EXPORT_COLUMNS : CONVERSATION_EXPORT_COLUMNS;
  const source: AsyncGenerator<ExportRow> =
    row.type === 'messages'
      ? exportMessages({ db: params.db, workspaceId: row.workspaceId, filter })
      : exportConversations({ db: params.db, workspaceId: row.workspaceId, filter });
  const out = createWriteStream(params.file);
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  let count = 0;
  try {
    if (row.format === 'csv') await write(toCsvLine(columns));
    for await (const r of source) {
      await write(row.format === 'csv' ? toCsvLine(columns.map((c) => r[c] ?? null)) : `${JSON.stringify(r)}\n`);
      count += 1;
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return count;
}

/** A finished export file is kept this long, then deleted with its row: it copies personal data (G-01, G-03). */
export const EXPORT_FILE_TTL_MS = 24 * 3_600_000;

/**
 * Deletes exports finished before `olderThan`: the row first, then the object (a failed object delete leaves an
 * unreferenced object, never a row pointing at nothing). Erased people's data thus leaves stored exports within a day.
 */
export async function deleteExpiredExports(params: { db: Database; blobStore: BlobStore; olderThan: Date; limit?: number }): Promise<number> {
  const e = schema.exportJobs;
  const gone = await params.db
    .delete(e)
    .where(
      inArray(
        e.id,
        params.db
          .select({ id: e.id })
          .from(e)
          .where(and(inArray(e.status, ['ready', 'failed']), lt(e.completedAt, params.olderThan)))
          .limit(params.limit ?? 500),
      ),
    )
    .returning({ storageKey: e.storageKey });
  for (const row of gone) if (row.storageKey) await params.blobStore.delete(row.storageKey).catch(() => undefined);
  return gone.length;
}
