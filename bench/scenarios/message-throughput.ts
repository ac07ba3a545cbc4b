/**
 * Consumer-API message posts per second (SPEC §9 "persisted messages per second"), on PGlite and on
 * PostgreSQL, through the real HTTP server in its own process, with autocannon in this process holding
 * CONNECTIONS keep-alive connections that post round-robin into CONVERSATIONS conversations.
 * Baseline: pgbench inserting one row per transaction into a scratch table on the same PostgreSQL server,
 * in the same run — the ceiling a message insert (which also bumps seq under a row lock, writes the
 * message with its indexes and serialises the answer) is compared against.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { startBenchStack } from '../lib/bench-stack.ts';
import type { BenchTenant } from '../lib/fixtures.ts';
import { createScratchDatabase, pgbenchPath } from '../lib/postgres.ts';
import type { ServerChild } from '../lib/process.ts';
import { ratioOf, type BenchRow } from '../lib/report.ts';
import { round, sleep } from '../lib/stats.ts';

const CONNECTIONS = 16;
const CONVERSATIONS = 8;
const WARMUP_S = 2;
const DURATION_S = 10;
const PGBENCH_CLIENTS = 8;
const PGBENCH_THREADS = 2;
const PGBENCH_DURATION_S = 10;


interface PostRate {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly failed: number;
  readonly via: 'http' | 'core';
}

export async function benchMessageThroughput(postgresUrl: string | undefined): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const pgbench = postgresUrl ? await runPgbench(postgresUrl) : null;
  const baseline = pgbench
    ? { label: `pgbench 1-row INSERT (-c ${PGBENCH_CLIENTS} -j ${PGBENCH_THREADS})`, value: round(pgbench.tps, 0), unit: 'tx/s' }
    : { label: 'pgbench', value: null, unit: 'tx/s' };

  for (const kind of ['pglite', 'postgres'] as const) {
    const label = kind === 'pglite' ? 'PGlite' : 'PostgreSQL';
    if (kind === 'postgres' && !postgresUrl) {
      rows.push({ scenario: `message posts (${label})`, metric: 'posts/s', value: null, unit: '/s', note: 'not available: no BENCH_DATABASE_URL/TEST_DATABASE_URL' });
      continue;
    }
    const { http, core } = await measureBackend(kind, postgresUrl);
    for (const r of [http, core]) {
      if (!r) continue;
      const path = r.via === 'http' ? 'HTTP consumer API' : 'core sendMessage in the server process (no HTTP, no auth)';
      rows.push({
        scenario: `message posts (${label}), ${r.via === 'http' ? 'HTTP' : 'core only'}`,
        metric: 'posts/s',
        value: round(r.perSecond, 0),
        unit: '/s',
        baseline,
        ratio: ratioOf(r.perSecond, pgbench?.tps ?? null),
        note: `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms; ${CONNECTIONS} concurrent → ${CONVERSATIONS} conversations; ${path}; failed ${r.failed}`,
        detail: { ...r, ...(kind === 'postgres' ? { pgbench } : {}) },
      });
    }
  }
  return rows;
}

/**
 * The HTTP route, then — on the same server and database — the same load straight into core's sendMessage
 * inside the server process: the gap between the two is the HTTP/auth/validation share, the gap between
 * core and pgbench the use-case's own queries.
 */
async function measureBackend(kind: 'pglite' | 'postgres', serverUrl: string | undefined): Promise<{ http: PostRate | null; core: PostRate }> {
  const stack = await startBenchStack(kind, serverUrl, CONVERSATIONS);
  try {
    const { server, tenant } = stack;
    const http = (await hasMessageRoute(server.url, tenant)) ? await loadHttp(server.url, tenant) : null;
    return { http, core: await loadCore(server, tenant) };
  } finally {
    await stack.close();
  }
}

function messagePath(conversationId: string): string {
  return `/api/v1/conversations/${conversationId}/messages`;
}

/** The consumer API route may not exist yet in this tree: a 404 route_not_found means "use core". */
async function hasMessageRoute(baseUrl: string, tenant: BenchTenant): Promise<boolean> {
  const c = tenant.conversations[0]!;
  const res = await fetch(baseUrl + messagePath(c.id), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': tenant.apiKey },
    body: JSON.stringify({ sender_external_id: c.externalId, content: 'route probe' }),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  if (res.status === 404 && body.error?.code === 'route_not_found') return false;
  if (res.status !== 201) throw new Error(`message route answered ${res.status}: ${JSON.stringify(body)}`);
  return true;
}

async function loadHttp(baseUrl: string, tenant: BenchTenant): Promise<PostRate> {
  let n = 0;
  const run = (durationS: number) =>
    autocannon({
      url: baseUrl,
      connections: CONNECTIONS,
      duration: durationS,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const c = tenant.conversations[n++ % tenant.conversations.length]!;
            return {
              ...req,
              path: messagePath(c.id),
              headers: { 'content-type': 'application/json', 'x-api-key': tenant.apiKey },
              body: JSON.stringify({ sender_external_id: c.externalId, content: `bench message ${n}` }),
            };
          },
        },
      ],
    });
  await run(WARMUP_S);
  const r = await run(DURATION_S);
  // autocannon stops at the deadline without waiting for answers in flight; let them finish before the
  // server is stopped so its shutdown is measured by nobody and disturbs nothing.
  await sleep(1_000);
  const ok = r['2xx'];
  return {
    perSecond: ok / DURATION_S,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    ok,
    failed: r.non2xx + r.errors + r.timeouts,
    via: 'http',
  };
}

async function loadCore(server: ServerChild, tenant: BenchTenant): Promise<PostRate> {
  const targets = tenant.conversations.map((c) => ({ conversationId: c.id, chatUserId: c.chatUserId }));
  const base = { type: 'core-send', workspaceId: tenant.workspaceId, targets, concurrency: CONNECTIONS };
  await server.request({ ...base, durationS: WARMUP_S }, 'core-send-result');
  const r = await server.request<{ count: number; errors: number; p50Ms: number; p99Ms: number; perSecond: number }>(
    { ...base, durationS: DURATION_S },
    'core-send-result',
  );
  return { perSecond: r.perSecond, p50Ms: r.p50Ms, p99Ms: r.p99Ms, ok: r.count, failed: r.errors, via: 'core' };
}

export interface PgbenchResult {
  readonly tps: number;
  readonly latencyAvgMs: number | null;
  readonly transactions: number | null;
  readonly command: string;
}

/** pgbench -n -f insert.sql: one single-row INSERT per transaction into a scratch table, throw-away database. */
export async function runPgbench(serverUrl: string): Promise<PgbenchResult | null> {
  const bin = pgbenchPath();
  if (!bin) return null;
  const scratch = await createScratchDatabase(serverUrl, 'pgbench');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rc-pgbench-'));
  try {
    const sql = postgres(scratch.url, { max: 1, onnotice: () => undefined });
    // Shape close to a message row: uuid keys, text body, timestamp, a secondary index on (conversation, seq).
    await sql.unsafe(`create table scratch_messages (
      id bigserial primary key,
      conversation_id uuid not null,
      seq integer not null,
      content text not null,
      created_at timestamptz not null default now()
    );
    create index scratch_messages_conv_idx on scratch_messages (conversation_id, seq);`);
    await sql.end();
    const script = path.join(dir, 'insert.sql');
    writeFileSync(
      script,
      "\\set seq random(1, 1000000000)\nINSERT INTO scratch_messages (conversation_id, seq, content) VALUES ('0190a8f0-0000-7000-8000-000000000001', :seq, 'bench message');\n",
    );
    const args = ['-n', '-f', script, '-c', String(PGBENCH_CLIENTS), '-j', String(PGBENCH_THREADS), '-T', String(PGBENCH_DURATION_S), scratch.url];
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: (PGBENCH_DURATION_S + 30) * 1000 });
    if (r.status !== 0) throw new Error(`pgbench failed: ${r.stderr}`);
    const tps = /tps = ([\d.]+)/.exec(r.stdout);
    const lat = /latency average = ([\d.]+) ms/.exec(r.stdout);
    const tx = /number of transactions actually processed: (\d+)/.exec(r.stdout);
    if (!tps) throw new Error(`cannot read pgbench output:\n${r.stdout}`);
    return {
      tps: Number(tps[1]),
      latencyAvgMs: lat ? Number(lat[1]) : null,
      transactions: tx ? Number(tx[1]) : null,
      command: `pgbench ${args.slice(0, -1).join(' ')} <scratch db>`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await scratch.drop();
  }
}
