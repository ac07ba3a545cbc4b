/**
 * The ceiling: a bare `ws` server that frames each broadcast once and writes the same bytes to every socket —
 * no protocol, no auth, no channel bookkeeping beyond one Set.
 */
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveCommands } from './child-protocol.ts';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, clientTracking: false, maxPayload: 64 * 1024 });
const subscribers = new Set<WebSocket>();
wss.on('connection', (ws) => {
  ws.on('message', () => {
    subscribers.add(ws);
    ws.send('{"ok":1}');
  });
  ws.on('close', () => subscribers.delete(ws));
});
await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
const address = wss.address();
if (address === null || typeof address === 'string') throw new Error('no port');
process.send!({ type: 'ready', port: address.port, pid: process.pid });

function frame(text: string): Buffer {
  const body = Buffer.from(text);
  const header = body.length < 126 ? 2 : 4;
  const out = Buffer.allocUnsafe(header + body.length);
  out[0] = 0x81;
  if (header === 2) out[1] = body.length;
  else {
    out[1] = 126;
    out.writeUInt16BE(body.length, 2);
  }
  body.copy(out, header);
  return out;
}

serveCommands({
  async publish(cmd) {
    for (let i = 0; i < cmd.count; i++) {
      const bytes = frame(JSON.stringify({ event: cmd.event, channel: cmd.channel, data: cmd.data }));
      for (const ws of subscribers) (ws as unknown as { _socket: Duplex })._socket.write(bytes);
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
  },
  stop: async () => {
    wss.close();
  },
});
