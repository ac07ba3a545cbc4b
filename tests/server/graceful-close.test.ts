import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createTenant, startStack, type TestStack } from '@reusable-chat/testing';

/**
 * A keep-alive request still running when the server starts to close must not hold the close open: its answer
 * says `Connection: close` and the connection is closed once it has been answered (without this, Node's
 * server.close() left it idle for Fastify's 72 s keep-alive timeout).
 */
describe('graceful close with a keep-alive request in flight', () => {
  let stack: TestStack | undefined;
  afterAll(async () => {
    await stack?.close();
  });

  it('answers the request with Connection: close and lets close() finish', async () => {
    stack = await startStack({ backend: 'pglite' });
    const tenant = await createTenant(stack.db);
    const { port } = new URL(await stack.listen());
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    const ended = new Promise<void>((resolve) => socket.once('end', resolve));

    // A request whose body has not fully arrived is in flight: not idle when close() begins.
    const body = JSON.stringify({ external_id: 'closing-user', name: 'Closing' });
    const head = `POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nX-API-Key: ${tenant.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    // The server has parsed the head (the request is in flight) before the close starts.
    const received = new Promise<void>((resolve) => stack!.app.server.once('request', () => resolve()));
    socket.write(head + body.slice(0, 10));
    await received;

    const closing = stack.close();
    stack = undefined;
    socket.write(body.slice(10));

    await ended;
    await closing;
    expect(answer).toMatch(/^HTTP\/1\.1 20[01] /);
    expect(answer.toLowerCase()).toContain('connection: close');
    socket.destroy();
  });
});
