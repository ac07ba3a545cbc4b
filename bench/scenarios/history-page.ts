/**
 * History page latency (SPEC §9 "history page latency on a database holding millions of messages"):
 * the newest 50 messages of one conversation in a PostgreSQL database holding 1 000 000 messages
 * (1 000 conversations × 1 000; a few reactions and an attachment on the page), measured on three layers:
 * - HTTP: GET /api/v1/conversations/{id}/messages?limit=50 on the real server (what the target is about),
 * - core: listMessages inside the server process (the statement plus building the message objects),
 * - raw SQL: the bare index read of the same 51 rows (what the index alone costs),
 * and the HTTP/core layers once more with DATABASE_PREPARED_STATEMENTS=true, in the same run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { createBenchTenant } from '../lib/fixtures.ts';
import { createMigratedDatabase } from '../lib/postgres.ts';
import { startSequentialClient, startServerChild, type SequentialClient, type ServerChild } from '../lib/process.ts';
import { ratioOf, type BenchRow } from '../lib/report.ts';
import { round, summarize } from '../lib/stats.ts';
import { BENCH_APP_SECRET } from '../lib/bench-stack.ts';

const CONVERSATIONS = 1_000;
const MESSAGES_PER_CONVERSATION = 1_000;
const PAGE = 50;
const WARMUP = 30;
/** Enough samples that p99 is the 20th-slowest request, not the 5th (one stray pause moved it before). */
const ITERATIONS = 2_000;
/** HTTP requests per batch; batches alternate between the two servers. */
const BATCH = 50;
/** Linux clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every mainstream kernel). */
const CLOCK_TICKS_PER_S = 100;

/** User + system CPU time a process has used so far, from /proc (Linux). */
function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

export async function benchHistoryPage(postgresUrl: string | undefined): Promise<BenchRow[]> {
  if (!postgresUrl) {
    return [{ scenario: 'history page (1M messages, PostgreSQL)', metric: 'p50', value: null, unit: 'ms', note: 'not available: no PostgreSQL' }];
  }
  const { scratch, handle } = await createMigratedDatabase(postgresUrl, 'history');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-bench-history-'));
  const servers: ServerChild[] = [];
  let monitor: postgres.Sql | undefined;
  let client: SequentialClient | undefined;
  try {
    const tenant = await createBenchTenant(handle.db, { conversations: 1 });
    await handle.close();
    const target = tenant.conversations[0]!;

    const sql = postgres(scratch.url, { max: 1, onnotice: () => undefined });
    monitor = sql;
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

    // A page is rarely all plain text: a few reactions and one attachment on the newest page make the
    // per-message aggregation part of what is measured (the summary JSON; the v1 API signs no URLs).
    await sql`insert into reactions (message_id, workspace_id, chat_user_id, emoji, created_at)
      select m.id, m.workspace_id, ${target.chatUserId}, e.emoji, now() - make_interval(secs => e.age)
      from messages m cross join (values ('👍', 2), ('🎉', 1)) e(emoji, age)
      where m.conversation_id = ${target.id} and m.seq > ${MESSAGES_PER_CONVERSATION - PAGE} and m.seq % 10 = 0`;
    await sql`insert into attachments (id, workspace_id, conversation_id, message_id, uploader_user_id, storage_key, content_type, extension, size_bytes, original_name, width, height)
      select gen_random_uuid(), m.workspace_id, m.conversation_id, m.id, ${target.chatUserId}, 'workspaces/' || m.workspace_id || '/attachments/' || gen_random_uuid() || '.png',
             'image/png', 'png', 2048, 'photo.png', 64, 48
      from messages m where m.conversation_id = ${target.id} and m.seq = ${MESSAGES_PER_CONVERSATION - 3}`;
    // Measure a settled database, not one still digesting a bulk load: without this, autovacuum's
    // insert-triggered VACUUM of the 1 M rows and the checkpoint that the load's WAL forces ran during the
    // timed requests and set the p99 of the bare index read too.
    await sql`vacuum (analyze) messages`;
    await sql`analyze`;
    await sql`checkpoint`.catch(() => undefined); // superuser only; without it the run still works

    // Baseline: the page's index read alone (newest first, one extra row for next_cursor), no joins, no JSON.
    const rawSamples: number[] = [];
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      const t0 = performance.now();
      const page = await sql`select * from messages
        where workspace_id = ${tenant.workspaceId} and conversation_id = ${target.id} and is_internal = false
        order by seq desc limit ${PAGE + 1}`;
      // Emptied once read, as the server's history path does (releaseRows in @reusable-chat/db): a postgres.js
      // result that is awaited and then dropped kept its rows alive through young-generation collections,
      // whose copying (4–6 ms pauses) then set this baseline's p99.
      page.length = 0;
      if (i >= WARMUP) rawSamples.push(performance.now() - t0);
    }
    const raw = summarize(rawSamples);
    // The PostgreSQL side of a page: CPU of the backends serving the scratch database (same machine, /proc),
    // so that work moved between Node and the database shows up on both sides, not only as less server CPU.
    const ownBackend = (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
    const backendCpuMs = async (): Promise<number | null> => {
      const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend' and pid <> ${ownBackend}`;
      try {
        return rows.reduce((sum, r) => sum + cpuTimeMs(r.pid), 0);
      } catch {
        return null; // PostgreSQL on another host (or no /proc): not measured
      }
    };

    // Two servers side by side, the same but for DATABASE_PREPARED_STATEMENTS, measured in alternating
    // batches so that load from other processes on the machine hits both alike.
    const variants = ['false', 'true'] as const;
    // BENCH_SERVER_NODE_OPTIONS, e.g. `--import /tmp/profile.mjs` starting the inspector's profiler (--cpu-prof
    // itself is refused in NODE_OPTIONS): where does a page's CPU go?
    const profile: Record<string, string> = process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {};
    for (const prepared of variants) {
      servers.push(
        await startServerChild({
          NODE_ENV: 'production',
          APP_SECRET: BENCH_APP_SECRET,
          DATA_DIR: dataDir,
          DATABASE_URL: scratch.url,
          DATABASE_PREPARED_STATEMENTS: prepared,
          HOST: '127.0.0.1',
          PORT: '0',
          LOG_LEVEL: 'warn',
          ...profile,
        }),
      );
    }
    const pagePath = `/api/v1/conversations/${target.id}/messages?limit=${PAGE}`;
    const headers = { 'x-api-key': tenant.apiKey };
    for (const server of servers) {
      const probe = await fetch(`${server.url}${pagePath}`, { headers });
      const probeBody = (await probe.json().catch(() => ({}))) as { data?: unknown[] };
      if (probe.status !== 200) throw new Error(`history route answered ${probe.status}: ${JSON.stringify(probeBody)}`);
      if (probeBody.data?.length !== PAGE) throw new Error(`expected a page of ${PAGE} messages, got ${probeBody.data?.length}`);
    }
    // The timed requests come from a lean client process of their own (bench/lib/sequential-http-client.mjs):
    // this process's garbage-collection pauses are the load generator's noise, not the server's latency.
    client = await startSequentialClient();
    const getPages = (v: number, count: number) => client!.run(servers[v]!.url, pagePath, headers, count);
    for (const v of servers.keys()) await getPages(v, WARMUP);
    const httpSamples: number[][] = servers.map(() => []);
    const cpuMs = servers.map(() => 0);
    const pgCpuMs: (number | null)[] = servers.map(() => 0);
    for (let batchNo = 0; batchNo < ITERATIONS / BATCH; batchNo++) {
      for (const [v, server] of servers.entries()) {
        const cpu0 = cpuTimeMs(server.pid);
        // Only this server's connections are busy during its batch (the other one waits its turn).
        const pg0 = await backendCpuMs();
        httpSamples[v]!.push(...(await getPages(v, BATCH)));
        cpuMs[v]! += cpuTimeMs(server.pid) - cpu0;
        const pg1 = await backendCpuMs();
        pgCpuMs[v] = pg0 === null || pg1 === null || pgCpuMs[v] === null ? null : pgCpuMs[v]! + (pg1 - pg0);
      }
    }
    await sql.end();
    // The same page through core listMessages inside each server process: no HTTP, no auth, no JSON text.
    const coreSamples: number[][] = [];
    for (const server of servers) {
      const r = await server.request<{ samplesMs: number[]; rows: number }>(
        { type: 'core-history', workspaceId: tenant.workspaceId, conversationId: target.id, limit: PAGE, warmup: WARMUP, iterations: ITERATIONS },
        'core-history-result',
      );
      if (r.rows !== PAGE) throw new Error(`expected a page of ${PAGE} messages from core, got ${r.rows}`);
      coreSamples.push(r.samplesMs);
    }
    const http = httpSamples.map((s) => summarize(s));
    const core = coreSamples.map((s) => summarize(s));
    const cpuPerRequestMs = cpuMs.map((ms) => round(ms / ITERATIONS, 3));
    const pgCpuPerRequestMs = pgCpuMs.map((ms) => (ms === null ? null : round(ms / ITERATIONS, 3)));

    const scenarioName = 'history page (1M messages, PostgreSQL)';
    const common = `${count.toLocaleString('en-US')} messages in DB (bulk-loaded in ${loadS} s); ${ITERATIONS} sequential requests after ${WARMUP} warm-up`;
    const httpWhat = `GET /api/v1/conversations/{id}/messages?limit=${PAGE} end to end, one at a time from a client process of its own: HTTP on 127.0.0.1, Fastify, API-key auth (cached), access check + page in one statement, JSON`;
    const coreWhat = 'core listMessages in the server process: the statement and the message JSON objects, no HTTP/auth/serialisation';
    const rows: BenchRow[] = [];
    for (const metric of ['p50', 'p99'] as const) {
      const key = metric === 'p50' ? 'p50Ms' : 'p99Ms';
      rows.push({
        scenario: scenarioName,
        metric,
        value: http[0]![key],
        unit: 'ms',
        baseline: { label: `raw SQL page query ${metric}`, value: raw[key], unit: 'ms' },
        ratio: ratioOf(http[0]![key], raw[key]),
        note: `${httpWhat}; default DATABASE_PREPARED_STATEMENTS=false; ${common}`,
        ...(metric === 'p50' ? { detail: { http: http[0], core: core[0], raw, serverCpuMsPerRequest: cpuPerRequestMs[0], postgresCpuMsPerRequest: pgCpuPerRequestMs[0], messages: count, loadS } } : {}),
      });
    }
    for (const metric of ['p50', 'p99'] as const) {
      const key = metric === 'p50' ? 'p50Ms' : 'p99Ms';
      rows.push({
        scenario: `${scenarioName}, core only`,
        metric,
        value: core[0]![key],
        unit: 'ms',
        baseline: { label: `raw SQL page query ${metric}`, value: raw[key], unit: 'ms' },
        ratio: ratioOf(core[0]![key], raw[key]),
        note: `${coreWhat}; DATABASE_PREPARED_STATEMENTS=false`,
      });
    }
    for (const metric of ['p50', 'p99'] as const) {
      const key = metric === 'p50' ? 'p50Ms' : 'p99Ms';
      rows.push({
        scenario: `${scenarioName}, prepared statements`,
        metric,
        value: http[1]![key],
        unit: 'ms',
        baseline: { label: `same page, prepared statements off, ${metric}`, value: http[0]![key], unit: 'ms' },
        ratio: ratioOf(http[1]![key], http[0]![key]),
        note: `HTTP as above with DATABASE_PREPARED_STATEMENTS=true (core only: p50 ${core[1]!.p50Ms} ms, p99 ${core[1]!.p99Ms} ms); batches of ${BATCH} alternating with the default server`,
        ...(metric === 'p50' ? { detail: { http: http[1], core: core[1], serverCpuMsPerRequest: cpuPerRequestMs[1], postgresCpuMsPerRequest: pgCpuPerRequestMs[1] } } : {}),
      });
    }
    rows.push({
      scenario: scenarioName,
      metric: 'server CPU per page',
      value: cpuPerRequestMs[0]!,
      unit: 'ms',
      baseline: { label: 'with prepared statements', value: cpuPerRequestMs[1]!, unit: 'ms' },
      ratio: ratioOf(cpuPerRequestMs[0]!, cpuPerRequestMs[1]!),
      note: 'user+system CPU of the server process over the HTTP requests (/proc), divided by their number; PostgreSQL not included',
    });
    if (pgCpuPerRequestMs[0] !== null && pgCpuPerRequestMs[1] !== null) {
      rows.push({
        scenario: scenarioName,
        metric: 'PostgreSQL CPU per page',
        value: pgCpuPerRequestMs[0]!,
        unit: 'ms',
        baseline: { label: 'with prepared statements', value: pgCpuPerRequestMs[1]!, unit: 'ms' },
        ratio: ratioOf(pgCpuPerRequestMs[0]!, pgCpuPerRequestMs[1]!),
        note: "user+system CPU of the PostgreSQL backends serving the bench database over the same requests (/proc, same host), divided by their number: the database's share of a page (the statement's parse and plan included)",
      });
    }
    return rows;
  } finally {
    await monitor?.end({ timeout: 1 }).catch(() => undefined);
    client?.stop();
    await Promise.all(servers.map((server) => server.stop()));
    await handle.close().catch(() => undefined);
    await scratch.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
