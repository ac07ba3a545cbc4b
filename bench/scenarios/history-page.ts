/**
 * History page latency (SPEC §9 "history page latency on a database holding millions of messages"):
 * the newest 50 messages of one conversation in a PostgreSQL database holding 1 000 000 messages
 * (1 000 conversations × 1 000), read through GET /api/v1/conversations/{id}/messages?limit=50 on the real
 * server, beside the raw SQL for the same page on the same database (baseline: what the index alone costs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { createBenchTenant } from '../lib/fixtures.ts';
import { createMigratedDatabase } from '../lib/postgres.ts';
import { startServerChild, type ServerChild } from '../lib/process.ts';
import { ratioOf, type BenchRow } from '../lib/report.ts';
import { round, summarize } from '../lib/stats.ts';
import { BENCH_APP_SECRET } from '../lib/bench-stack.ts';

const CONVERSATIONS = 1_000;
const MESSAGES_PER_CONVERSATION = 1_000;
const PAGE = 50;
const WARMUP = 30;
const ITERATIONS = 500;

export async function benchHistoryPage(postgresUrl: string | undefined): Promise<BenchRow[]> {
  if (!postgresUrl) {
    return [{ scenario: 'history page (1M messages, PostgreSQL)', metric: 'p50', value: null, unit: 'ms', note: 'not available: no PostgreSQL' }];
  }
  const { scratch, handle } = await createMigratedDatabase(postgresUrl, 'history');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-bench-history-'));
  let server: ServerChild | undefined;
  try {
    const tenant = await createBenchTenant(handle.db, { conversations: 1 });
    await handle.close();
    const target = tenant.conversations[0]!;

    const sql = postgres(scratch.url, { max: 1, onnotice: () => undefined });
    const loadT0 = performance.now();
    // One statement each: the other 999 conversations, then 1 000 messages in every conversation.
    await sql`insert into conversations (id, workspace_id, type, name, last_seq, last_message_at)
      select gen_random_uuid(), ${tenant.workspaceId}, 'group', 'filler ' || g, ${MESSAGES_PER_CONVERSATION}, now()
      from generate_series(2, ${CONVERSATIONS}) g`;
    // Secondary indexes are rebuilt after the load (the same definitions, read from pg_indexes): building a
    // GIN index once is far cheaper than maintaining it row by row, and the end state is identical.
    const indexes = await sql<{ indexname: string; indexdef: string }[]>`
      select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = 'messages' and indexname <> 'messages_pkey'`;
    for (const ix of indexes) await sql.unsafe(`drop index "${ix.indexname}"`);
    // The rows reference existing conversations/users by construction: skip the per-row foreign-key
    // triggers (3 lookups per row) for the load when allowed (superuser); the schema is unchanged.
    await sql`set session_replication_role = replica`.catch(() => undefined);
    await sql`insert into messages (id, workspace_id, conversation_id, seq, sender_type, sender_user_id, type, content, created_at)
      select gen_random_uuid(), c.workspace_id, c.id, s.seq, 'user', ${target.chatUserId}, 'text',
             'history message ' || s.seq || ' in ' || c.name, now() - make_interval(secs => ${MESSAGES_PER_CONVERSATION} - s.seq)
      from conversations c cross join generate_series(1, ${MESSAGES_PER_CONVERSATION}) s(seq)
      where c.workspace_id = ${tenant.workspaceId}`;
    await sql`set session_replication_role = origin`.catch(() => undefined);
    await sql`set maintenance_work_mem = '256MB'`;
    for (const ix of indexes) await sql.unsafe(ix.indexdef);
    await sql`update conversations set last_seq = ${MESSAGES_PER_CONVERSATION}, last_message_at = now() where id = ${target.id}`;
    await sql`analyze`;
    const loadS = round((performance.now() - loadT0) / 1000, 1);
    const [{ count } = { count: 0 }] = await sql<{ count: number }[]>`select count(*)::int as count from messages`;

    // Baseline: the page query alone, as the route's repository issues it (newest first, one extra row for next_cursor).
    const rawSamples: number[] = [];
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      const t0 = performance.now();
      await sql`select * from messages
        where workspace_id = ${tenant.workspaceId} and conversation_id = ${target.id} and is_internal = false
        order by seq desc limit ${PAGE + 1}`;
      if (i >= WARMUP) rawSamples.push(performance.now() - t0);
    }
    await sql.end();
    const raw = summarize(rawSamples);

    server = await startServerChild({
      NODE_ENV: 'production',
      APP_SECRET: BENCH_APP_SECRET,
      DATA_DIR: dataDir,
      DATABASE_URL: scratch.url,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
    });
    const url = `${server.url}/api/v1/conversations/${target.id}/messages?limit=${PAGE}`;
    const headers = { 'x-api-key': tenant.apiKey };
    const probe = await fetch(url, { headers });
    const probeBody = (await probe.json().catch(() => ({}))) as { data?: unknown[]; error?: { code?: string } };
    let samples: number[];
    let via: 'http' | 'core';
    let rows: number;
    if (probe.status === 404 && probeBody.error?.code === 'route_not_found') {
      const r = await server.request<{ samplesMs: number[]; rows: number }>(
        { type: 'core-history', workspaceId: tenant.workspaceId, conversationId: target.id, limit: PAGE, warmup: WARMUP, iterations: ITERATIONS },
        'core-history-result',
      );
      samples = r.samplesMs;
      rows = r.rows;
      via = 'core';
    } else {
      if (probe.status !== 200) throw new Error(`history route answered ${probe.status}: ${JSON.stringify(probeBody)}`);
      samples = [];
      rows = probeBody.data?.length ?? 0;
      for (let i = 0; i < WARMUP + ITERATIONS; i++) {
        const t0 = performance.now();
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`history route answered ${res.status}`);
        if (i >= WARMUP) samples.push(performance.now() - t0);
      }
      via = 'http';
    }
    if (rows !== PAGE) throw new Error(`expected a page of ${PAGE} messages, got ${rows}`);
    const api = summarize(samples);
    const common = `${count.toLocaleString('en-US')} messages in DB (bulk-loaded in ${loadS} s); ${ITERATIONS} sequential requests after ${WARMUP} warm-up; via ${via}`;
    return [
      {
        scenario: 'history page (1M messages, PostgreSQL)',
        metric: 'p50',
        value: api.p50Ms,
        unit: 'ms',
        baseline: { label: 'raw SQL page query p50', value: raw.p50Ms, unit: 'ms' },
        ratio: ratioOf(api.p50Ms, raw.p50Ms),
        note: common,
        detail: { api, raw, messages: count, loadS, via },
      },
      {
        scenario: 'history page (1M messages, PostgreSQL)',
        metric: 'p99',
        value: api.p99Ms,
        unit: 'ms',
        baseline: { label: 'raw SQL page query p99', value: raw.p99Ms, unit: 'ms' },
        ratio: ratioOf(api.p99Ms, raw.p99Ms),
        note: common,
      },
    ];
  } finally {
    await server?.stop();
    await handle.close().catch(() => undefined);
    await scratch.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
