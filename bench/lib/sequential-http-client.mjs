// A lean load generator for latency measured one request at a time (the history page): its own process,
// plain Node without the TypeScript loader, one keep-alive HTTP/1.1 connection per server on a bare socket,
// native promises only. Run inside the bench process, the same loop's samples carried that process's garbage
// collection: its young generation held what the earlier phases (postgres.js) had left to copy, so its
// scavenges took 4–6 ms, and those pauses landed inside the timed requests as if the server were slow.
// A bare socket instead of node:http: node:http spent ≈ 120–190 µs of CPU per 35 kB answer here, a raw
// socket ≈ 40–50 µs (measured with a fixed-body server), and every µs of it sat inside the timed request.
// It reads exactly what such a client needs — the status, Content-Length and that many body bytes — and
// refuses anything else (a chunked answer, a closed connection) instead of guessing.
//
// Messages (IPC): { type: 'run', id, url, path, headers, count } → { type: 'samples', id, samples, badStatus }
//                 { type: 'stop' } → exits.
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection; `get` sends a request and resolves with the status once the whole body is in. */
class Connection {
  constructor(host, port) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.chunks = [];
    this.buffered = 0;
    this.pending = null;
    this.socket.on('data', (data) => this.onData(data));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  get(request) {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, status: 0, total: -1 };
      this.socket.write(request);
    });
  }

  fail(err) {
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  onData(data) {
    const p = this.pending;
    if (!p) return this.fail(new Error('bytes arrived with no request open'));
    this.chunks.push(data);
    this.buffered += data.length;
    if (p.total < 0) {
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      this.chunks = [all];
      const end = all.indexOf(HEADER_END);
      if (end < 0) return;
      const head = all.toString('latin1', 0, end);
      p.status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length) return this.fail(new Error(`an answer without Content-Length: ${head.split('\r\n')[0]}`));
      p.total = end + HEADER_END.length + Number(length[1]);
    }
    if (this.buffered < p.total) return;
    if (this.buffered > p.total) return this.fail(new Error('more bytes than the answer announced'));
    this.chunks = [];
    this.buffered = 0;
    this.pending = null;
    p.resolve(p.status);
  }

  close() {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }
}

const connections = new Map();

async function connectionFor(url) {
  let connection = connections.get(url.origin);
  if (!connection) {
    connection = new Connection(url.hostname, Number(url.port));
    connections.set(url.origin, connection);
  }
  await connection.ready;
  return connection;
}

process.on('message', (m) => {
  if (m.type === 'stop') {
    for (const connection of connections.values()) connection.close();
    process.exit(0);
  }
  if (m.type !== 'run') return;
  const url = new URL(m.url);
  const headerLines = Object.entries(m.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  const request = Buffer.from(`GET ${m.path} HTTP/1.1\r\nhost: ${url.host}\r\n${headerLines}\r\n`, 'latin1');
  const samples = new Float64Array(m.count);
  let badStatus = 0;
  void (async () => {
    const connection = await connectionFor(url);
    for (let i = 0; i < m.count; i++) {
      const t0 = performance.now();
      const status = await connection.get(request);
      samples[i] = performance.now() - t0;
      if (status !== 200) badStatus = status;
    }
    process.send({ type: 'samples', id: m.id, samples: Array.from(samples), badStatus });
  })().catch((err) => process.send({ type: 'error', id: m.id, message: String(err?.stack ?? err) }));
});
process.send({ type: 'ready' });
