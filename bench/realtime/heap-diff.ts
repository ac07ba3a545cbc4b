/**
 * Diffs two V8 heap snapshots by (node type, constructor/name): count and self size, sorted by the size added.
 * `npx tsx bench/realtime/heap-diff.ts before.heapsnapshot after.heapsnapshot [perN]` — with perN, divides by
 * the number of connections added, so each row reads "objects and bytes per connection".
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

function tally(file: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    let name = snap.strings[snap.nodes[i + iName]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (name.length > 60) name = `${name.slice(0, 60)}…`;
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count += 1;
    e.size += snap.nodes[i + iSize]!;
    out.set(key, e);
  }
  return out;
}

const [a, b, perArg] = process.argv.slice(2);
const per = Number(perArg ?? 1);
const before = tally(a!);
const after = tally(b!);
const rows = [...after].map(([k, v]) => {
  const o = before.get(k) ?? { count: 0, size: 0 };
  return { key: k, count: (v.count - o.count) / per, bytes: (v.size - o.size) / per };
});
rows.sort((x, y) => y.bytes - x.bytes);
let total = 0;
for (const r of rows) total += r.bytes;
console.log(`total self size added: ${total.toFixed(0)}${per > 1 ? ' per unit' : ''}`);
for (const r of rows.slice(0, 60)) console.log(`${r.bytes.toFixed(1).padStart(10)}  ${r.count.toFixed(2).padStart(8)}  ${r.key}`);
