/** The common alternative: a Socket.IO server (WebSocket transport only) broadcasting to a room. */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { serveCommands } from './child-protocol.ts';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
io.on('connection', (socket) => {
  socket.on('join', (room: string, ack: () => void) => {
    void socket.join(room);
    ack();
  });
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
const address = http.address();
if (address === null || typeof address === 'string') throw new Error('no port');
process.send!({ type: 'ready', port: address.port, pid: process.pid });

serveCommands({
  async publish(cmd) {
    for (let i = 0; i < cmd.count; i++) {
      io.to(cmd.channel).emit(cmd.event, cmd.data);
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
  },
  stop: async () => {
    await io.close();
  },
});
