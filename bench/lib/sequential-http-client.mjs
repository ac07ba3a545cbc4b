// A lean load generator for latency measured one request at a time (the history page): its own process,
// plain Node without the TypeScript loader, node:http on one keep-alive connection per server, native
// promises only. Run inside the bench process, the same loop's samples carried that process's garbage
// collection: its young generation held what the earlier phases (postgres.js) had left to copy, so its
// scavenges took 4–6 ms, and those pauses landed inside the timed requests as if the server were slow.
//
// Messages (IPC): { type: 'run', id, url, path, headers, count } → { type: 'samples', id, samples, badStatus }
//                 { type: 'stop' } → exits.
import http from 'node:http';

const agents = new Map();

function agentFor(origin) {
  let agent = agents.get(origin);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.set(origin, agent);
  }
  return agent;
}

function get(url, path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path, headers, agent: agentFor(url.origin) }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

process.on('message', (m) => {
  if (m.type === 'stop') {
    for (const agent of agents.values()) agent.destroy();
    process.exit(0);
  }
  if (m.type !== 'run') return;
  const url = new URL(m.url);
  const samples = new Float64Array(m.count);
  let badStatus = 0;
  void (async () => {
    for (let i = 0; i < m.count; i++) {
      const t0 = performance.now();
      const status = await get(url, m.path, m.headers);
      samples[i] = performance.now() - t0;
      if (status !== 200) badStatus = status;
    }
    process.send({ type: 'samples', id: m.id, samples: Array.from(samples), badStatus });
  })().catch((err) => process.send({ type: 'error', id: m.id, message: String(err?.stack ?? err) }));
});
process.send({ type: 'ready' });
