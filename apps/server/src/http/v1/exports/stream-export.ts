import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { toCsvLine, type ExportRow } from '@reusable-chat/core';

export const exportQuerySchema = {
  format: z.enum(['jsonl', 'csv']).default('jsonl').describe('JSON Lines (one object per line) or CSV with a header row'),
  since: z.iso.datetime({ offset: true }).optional().describe('Created at or after (ISO-8601)'),
  until: z.iso.datetime({ offset: true }).optional().describe('Created before (ISO-8601)'),
};

/**
 * Sends rows as they are read (keyset batches in core), so memory stays flat for any export size.
 * A failure mid-stream ends the response early; the client sees a truncated file, never a partial
 * success status for a different body.
 */
export function streamExport(params: {
  reply: FastifyReply;
  name: string;
  format: 'jsonl' | 'csv';
  columns: readonly string[];
  rows: AsyncGenerator<ExportRow>;
}): FastifyReply {
  const { reply, format, columns, rows } = params;
  async function* lines(): AsyncGenerator<string> {
    if (format === 'csv') yield toCsvLine(columns);
    for await (const row of rows) {
      yield format === 'csv' ? toCsvLine(columns.map((c) => row[c] ?? null)) : `${JSON.stringify(row)}\n`;
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  reply
    .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
    .header('content-disposition', `attachment; filename="${params.name}-${stamp}.${format}"`)
    .header('cache-control', 'no-store');
  return reply.send(Readable.from(lines()));
}
