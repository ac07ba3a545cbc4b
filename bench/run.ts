/**
 * `npm run bench` (SPEC §9): every scenario prints its number beside a baseline measured in the same run on
 * the same machine, writes bench/results/latest.json and regenerates the results section of BENCHMARKS.md.
 * Loopback only, bounded counts and durations; the whole suite stops itself (SUITE_DEADLINE_MS).
 *
 *   npm run bench                 all scenarios
 *   npm run bench -- posts rss    only the named ones (rss, posts, widget, history, realtime, widget-ui, webhooks); results go to
 *                                 bench/results/partial-*.tmp.json and BENCHMARKS.md is left alone
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DATABASE_URL, describePostgres, isPostgresReachable } from './lib/postgres.ts';
import { REPO_ROOT } from './lib/process.ts';
import { renderTable, type BenchRow } from './lib/report.ts';

/** Hard stop for the whole suite (the brief: ≤ 10 min); a scenario that hangs cannot keep it running. */
/** A quiet full run takes ≈ 7–9 min (the realtime restart phases alone ≈ 2 min); the rest is margin for a busy box. */
const SUITE_DEADLINE_MS = 15 * 60_000;
const MARKER_START = '<!-- bench:results:start -->';
const MARKER_END = '<!-- bench:results:end -->';

type ScenarioName = 'posts' | 'rss' | 'history' | 'widget' | 'realtime' | 'widget-ui' | 'webhooks';
const ALL: ScenarioName[] = ['rss', 'posts', 'widget', 'history', 'realtime', 'widget-ui', 'webhooks'];


interface BenchResult {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: {
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    platform: string;
    node: string;
    postgres: { version: string; synchronousCommit: string } | null;
    loadAverage1m: { start: number; end: number };
  };
  readonly rows: BenchRow[];
  readonly failures: { scenario: string; error: string }[];
}

// `npm run bench -- --render`: regenerate the BENCHMARKS.md section from bench/results/latest.json, measure nothing.
if (process.argv.includes('--render')) {
  updateBenchmarksMd(JSON.parse(readFileSync(path.join(REPO_ROOT, 'bench', 'results', 'latest.json'), 'utf8')) as BenchResult);
  process.exit(0);
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-')) as ScenarioName[];
const selected = wanted.length > 0 ? ALL.filter((s) => wanted.includes(s)) : ALL;
const postgresUrl = (await isPostgresReachable(BENCH_DATABASE_URL)) ? BENCH_DATABASE_URL : undefined;
if (!postgresUrl) console.log('bench: no reachable PostgreSQL (BENCH_DATABASE_URL / TEST_DATABASE_URL): PostgreSQL scenarios report "not available"');

const rows: BenchRow[] = [];
const failures: { scenario: string; error: string }[] = [];
const startedAt = new Date();
/** Other work on the machine skews every number; the 1-minute load average is recorded beside them. */
const loadAtStart = os.loadavg()[0]!;
const postgresInfo = postgresUrl ? await describePostgres(postgresUrl) : null;
let currentScenario: ScenarioName | undefined;

// The suite stops itself: a scenario that hangs is recorded as failed and everything measured so far is written.
const deadline = setTimeout(() => {
  console.error(`bench: suite exceeded ${SUITE_DEADLINE_MS / 60_000} min, stopping`);
  failures.push({ scenario: currentScenario ?? 'suite', error: `suite deadline of ${SUITE_DEADLINE_MS / 60_000} min exceeded` });
  finish(2);
}, SUITE_DEADLINE_MS);
deadline.unref();

async function scenario(name: ScenarioName, fn: () => Promise<BenchRow[]>): Promise<void> {
  if (!selected.includes(name)) return;
  const t0 = performance.now();
  currentScenario = name;
  console.log(`bench: ${name} …`);
  try {
    const got = await fn();
    rows.push(...got);
    console.log(renderTable(got));
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    failures.push({ scenario: name, error: message });
    console.error(`bench: ${name} failed: ${message}`);
  }
  console.log(`bench: ${name} done in ${Math.round((performance.now() - t0) / 1000)} s\n`);
}

await scenario('rss', async () => (await import('./scenarios/idle-rss.ts')).benchIdleRss());
await scenario('posts', async () => (await import('./scenarios/message-throughput.ts')).benchMessageThroughput(postgresUrl));
await scenario('widget', async () => (await import('./scenarios/widget-delivery.ts')).benchWidgetDelivery(postgresUrl));
await scenario('history', async () => (await import('./scenarios/history-page.ts')).benchHistoryPage(postgresUrl));
await scenario('webhooks', async () => (await import('./scenarios/webhook-delivery.ts')).benchWebhookDelivery(postgresUrl));
await scenario('realtime', async () => {
  const file = path.join(REPO_ROOT, 'bench', 'realtime', 'index.ts');
  if (!existsSync(file)) {
    console.log('realtime: not available');
    return [{ scenario: 'realtime', metric: '—', value: null, unit: '', note: 'not available (bench/realtime/index.ts not present)' }];
  }
  const mod = (await import(pathToFileURL(file).href)) as { runRealtimeBench?: (opts: { postgresUrl?: string }) => Promise<unknown> };
  if (typeof mod.runRealtimeBench !== 'function') throw new Error('bench/realtime/index.ts does not export runRealtimeBench()');
  return toRows('realtime', await mod.runRealtimeBench({ postgresUrl }));
});

// Widget bundle sizes (gzip) and page load → interactive in Chromium (bench/widget, issue 5).
await scenario('widget-ui', async () => {
  const mod = await import('./widget/index.ts');
  return toRows('widget-ui', await mod.runWidgetBench({ postgresUrl }));
});

finish(failures.length > 0 ? 1 : 0);

function finish(exitCode: number): never {
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    platform: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: postgresInfo,
    loadAverage1m: { start: Math.round(loadAtStart * 100) / 100, end: Math.round(os.loadavg()[0]! * 100) / 100 },
  };
  const result: BenchResult & { scenarios: ScenarioName[] } = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    scenarios: selected,
    machine,
    rows,
    failures,
  };
  mkdirSync(path.join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  // A partial run must not replace the full results that BENCHMARKS.md was generated from (.tmp.json is git-ignored).
  const isFullRun = selected.length === ALL.length;
  const resultFile = isFullRun ? 'latest.json' : `partial-${selected.join('-')}.tmp.json`;
  writeFileSync(path.join(REPO_ROOT, 'bench', 'results', resultFile), JSON.stringify(result, null, 2) + '\n');
  console.log(`bench: wrote bench/results/${resultFile}`);
  if (isFullRun) updateBenchmarksMd(result);
  else console.log('bench: partial run — BENCHMARKS.md left unchanged (run without arguments to regenerate it)');
  console.log('\n' + renderTable(rows));
  if (failures.length > 0) console.error(`\nbench: ${failures.length} scenario(s) failed: ${failures.map((f) => f.scenario).join(', ')}`);
  process.exit(exitCode);
}

/** REALTIME owns its scenario's shape: rows like ours are taken as they are, anything else is kept verbatim. */
function toRows(scenarioName: string, value: unknown): BenchRow[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    const r = item as Partial<BenchRow> | null;
    if (r && typeof r.scenario === 'string' && typeof r.metric === 'string' && 'value' in r) {
      return { ...r, unit: r.unit ?? '' } as BenchRow;
    }
    return { scenario: scenarioName, metric: 'result', value: null, unit: '', note: JSON.stringify(item).slice(0, 300), detail: { raw: item } };
  });
}

function updateBenchmarksMd(result: BenchResult): void {
  const { machine, rows, failures } = result;
  const file = path.join(REPO_ROOT, 'BENCHMARKS.md');
  const generated = [
    MARKER_START,
    `<!-- generated by \`npm run bench\` — edits between these markers are overwritten -->`,
    '',
    `Run ${result.startedAt} → ${result.finishedAt} on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB RAM, ${machine.platform}, Node ${machine.node}` +
      (machine.postgres ? `, PostgreSQL ${machine.postgres.version} (synchronous_commit=${machine.postgres.synchronousCommit})` : ', no PostgreSQL') +
      `; 1-minute load average ${machine.loadAverage1m.start} at start, ${machine.loadAverage1m.end} at end.`,
    '',
    renderTable(rows),
    '',
    failures.length > 0 ? `Failed scenarios: ${failures.map((f) => f.scenario).join(', ')} (see bench/results/latest.json).` : 'All scenarios completed.',
    MARKER_END,
  ].join('\n');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmarks\n\n${MARKER_START}\n${MARKER_END}\n`;
  const start = current.indexOf(MARKER_START);
  const end = current.indexOf(MARKER_END);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + generated + current.slice(end + MARKER_END.length)
      : `${current.trimEnd()}\n\n${generated}\n`;
  writeFileSync(file, next);
  console.log('bench: BENCHMARKS.md updated');
}
