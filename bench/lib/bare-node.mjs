// Baseline for idle RSS: an empty Node process (the floor under every number in that scenario).
import { readFileSync } from 'node:fs';

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
process.send({ type: 'ready' });
process.on('message', (m) => {
  if (m.type === 'rss') process.send({ type: 'rss', rss: rss() });
  if (m.type === 'stop') process.exit(0);
});
