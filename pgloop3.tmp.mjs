import postgres from 'postgres';
import { PerformanceObserver } from 'node:perf_hooks';
const mode = process.argv[2];
const gcs=[]; new PerformanceObserver(l=>{for(const e of l.getEntries()) if (e.detail?.kind===1) gcs.push(e.duration)}).observe({entryTypes:['gc']});
const sql = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, prepare: mode !== 'noprep' });
const q = "select g as seq, 'history message ' || g as content from generate_series(1,51) g";
for (let i=0;i<5000;i++){
  if (mode==='unsafe') await sql.unsafe(q);
  else if (mode==='values') await sql`select g as seq, 'history message ' || g as content from generate_series(1,51) g`.values();
  else if (mode==='one') await sql`select 1 as x`;
  else await sql`select g as seq, 'history message ' || g as content from generate_series(1,51) g`;
}
gcs.sort((a,b)=>a-b); console.log(mode, 'n', gcs.length, 'med', gcs[gcs.length>>1]?.toFixed(2));
await sql.end();
