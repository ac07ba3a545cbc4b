import net from 'node:net';
import postgres from 'postgres';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectWithoutDelay, createDatabase, noDelaySocketOption } from '@reusable-chat/db';
import { TEST_DATABASE_URL } from '@reusable-chat/testing';

/**
 * PostgreSQL connections are opened with TCP_NODELAY (packages/db/src/tcp-no-delay.ts): postgres.js leaves
 * Nagle's algorithm on, which held back the send path's pipelined batches. Node cannot read the option back
 * from a socket, so the tests watch what net.connect is asked for, and that the connection then works.
 */
describe('TCP_NODELAY on PostgreSQL connections', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is offered for a single TCP host, and left to postgres.js for Unix sockets and host lists', () => {
    expect(noDelaySocketOption('postgres://app@127.0.0.1:5432/chat').socket).toBe(connectWithoutDelay);
    expect(noDelaySocketOption('postgresql://app:secret@db.internal/chat?sslmode=require').socket).toBe(connectWithoutDelay);
    expect(noDelaySocketOption('postgres://app@%2Fvar%2Frun%2Fpostgresql/chat')).toEqual({});
    expect(noDelaySocketOption('postgres://app@/chat?host=/var/run/postgresql')).toEqual({});
    expect(noDelaySocketOption('postgres://app@db1:5432,db2:5432/chat')).toEqual({});
  });

  it('refuses at once when nothing listens, instead of handing postgres.js a dead socket', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(connectWithoutDelay({ host: ['127.0.0.1'], port: [port], connect_timeout: 5 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // Through postgres.js: the query fails with the connection's error, as without the factory.
    const url = `postgres://app@127.0.0.1:${port}/chat`;
    const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => undefined, ...noDelaySocketOption(url) });
    await expect(sql`select 1`).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await sql.end({ timeout: 1 });
  });

  it('answers a connected socket tagged with its host and port, asked for with noDelay', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const connect = vi.spyOn(net, 'connect');
    const socket = (await connectWithoutDelay({ host: ['127.0.0.1'], port: [port], connect_timeout: 5 })) as net.Socket & { host?: string; port?: number };
    expect(connect).toHaveBeenCalledWith({ host: '127.0.0.1', port, noDelay: true });
    expect(socket.readyState).toBe('open');
    expect([socket.host, socket.port]).toEqual(['127.0.0.1', port]);
    socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // PostgreSQL only (registered when TEST_DATABASE_URL is set, as CI does).
  if (TEST_DATABASE_URL) {
    it('carries queries for postgres.js, and every connection of a database handle is opened with it', async () => {
      const connect = vi.spyOn(net, 'connect');
      const sql = postgres(TEST_DATABASE_URL!, { max: 1, idle_timeout: 0.2, onnotice: () => undefined, ...noDelaySocketOption(TEST_DATABASE_URL!) });
      try {
        expect((await sql`select 41 + 1 as answer`)[0]).toEqual({ answer: 42 });
        expect(connect).toHaveBeenCalledTimes(1);
        // A connection closed (here: idle past idle_timeout) is opened again through the factory.
        const backendPid = async () => (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
        const pid = await backendPid();
        await new Promise((resolve) => setTimeout(resolve, 600));
        expect(await backendPid()).not.toBe(pid);
        expect(connect).toHaveBeenCalledTimes(2);
      } finally {
        await sql.end({ timeout: 5 });
      }

      connect.mockClear();
      const handle = await createDatabase({ kind: 'postgres', url: TEST_DATABASE_URL! });
      try {
        await handle.ping();
        expect(connect).toHaveBeenCalled();
        for (const [options] of connect.mock.calls) expect(options).toMatchObject({ noDelay: true });
      } finally {
        await handle.close();
      }
    });
  }
});
