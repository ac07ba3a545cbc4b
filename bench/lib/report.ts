/** One line of the results table: a measured number beside the baseline measured in the same run. */
export interface BenchRow {
  readonly scenario: string;
  readonly metric: string;
  readonly value: number | null;
  readonly unit: string;
  readonly baseline?: { readonly label: string; readonly value: number | null; readonly unit: string };
  /** value / baseline.value, when both are numbers in the same unit. */
  readonly ratio?: number | null;
  readonly note?: string;
  /** Everything else the scenario measured (latency percentiles, counts, settings). */
  readonly detail?: Record<string, unknown>;
}

export function ratioOf(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || baseline === 0 || !Number.isFinite(value) || !Number.isFinite(baseline)) return null;
  return Number((value / baseline).toPrecision(3));
}

function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return String(Math.round(n * 100) / 100);
}

/** Two significant digits below 1, so a 0.7 % ratio reads 0.0071×, not 0×. */
function fmtRatio(n: number): string {
  return Math.abs(n) < 1 ? String(Number(n.toPrecision(2))) : fmt(n);
}

/** A Markdown table (also readable in a terminal). */
export function renderTable(rows: readonly BenchRow[]): string {
  const header = ['scenario', 'metric', 'value', 'baseline (same run)', 'ratio', 'note'];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) =>
      [
        r.scenario,
        r.metric,
        `${fmt(r.value)} ${r.unit}`,
        r.baseline ? `${r.baseline.label}: ${fmt(r.baseline.value)} ${r.baseline.unit}` : '—',
        r.ratio === undefined || r.ratio === null ? '—' : `${fmtRatio(r.ratio)}×`,
        r.note ?? '',
      ]
        .map((c) => c.replaceAll('|', '\\|'))
        .join(' | '),
    ).map((l) => `| ${l} |`),
  ];
  return lines.join('\n');
}
