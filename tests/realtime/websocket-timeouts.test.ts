/**
 * Time-based parts of the WebSocket protocol on nodes of their own: a 5 s activity timeout (heartbeat,
 * authorization timeout), a small capacity, an Origin allowlist, and graceful shutdown.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@reusable-chat/testing';
import { APP, byEvent, decode, eventually, openRaw, rawSubscribe, startRealtimeNode, uuid, type RealtimeNode } from '../conformance/support.ts';

describe.each(backends)('Pusher WebSocket limits with a short activity timeout (%s)', (backend) => {
  let node: RealtimeNode;
  const ALLOWED = 'https://good.example';
  beforeAll(async () => {
    node = await startRealtimeNode({
      backend,
      env: { REALTIME_ACTIVITY_TIMEOUT_S: '5', REALTIME_MAX_CONNECTIONS: '4', REALTIME_ALLOWED_ORIGINS: ALLOWED },
    });
  });
  afterAll(async () => {
    await node?.close();
  });
  const url = () => `${node.wsUrl}/app/${APP.key}?protocol=7`;

  it('W-03: a browser Origin outside the allowlist is closed 4009; the allowed origin and non-browser clients connect', async () => {
    const evil = await openRaw(url(), { headers: { Origin: 'https://evil.example' }, expectRefusal: true });
    expect(decode(await evil.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4009 });
    expect((await evil.closed).code).toBe(4009);
    const good = await openRaw(url(), { headers: { Origin: ALLOWED } });
    const noOrigin = await openRaw(url());
    expect(good.socketId).not.toBe(noOrigin.socketId);
    good.close();
    noOrigin.close();
    await Promise.all([good.closed, noOrigin.closed]);
  });

  it('W-21: connection N+1 over the node capacity gets 4100; existing sockets are unaffected', async () => {
    await eventually(() => node.app.realtimeServer.connectionCount === 0, 3_000, 'drained');
    const sockets = await Promise.all(Array.from({ length: 4 }, () => openRaw(url())));
    const extra = await openRaw(url(), { expectRefusal: true });
    expect(decode(await extra.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4100 });
    expect((await extra.closed).code).toBe(4100);
    for (const s of sockets) expect(node.app.realtimeServer.isConnected(s.socketId)).toBe(true);
    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed));
  });

  it('W-19 and W-20: advertises the timeout, pings an idle socket, closes 4201 without a pong and 4009 when never authorized', async () => {
    await eventually(() => node.app.realtimeServer.connectionCount === 0, 3_000, 'drained');
    const silent = await openRaw(url());
    expect(decode(silent.frames[0]!)).toMatchObject({ activity_timeout: 5 });
    // Authorized by a private subscription, so only the heartbeat applies to it.
    await rawSubscribe(silent, node.sdk, `private-conversation.${uuid()}`);
    const unauthorized = await openRaw(url());
    const answering = await openRaw(url());
    await rawSubscribe(answering, node.sdk, `private-conversation.${uuid()}`);
    answering.ws.on('message', (data) => {
      if (String(data).includes('"pusher:ping"')) answering.send({ event: 'pusher:pong', data: {} });
    });

    expect((await unauthorized.closed).code).toBe(4009);
    await silent.waitFor(byEvent('pusher:ping'), 8_000);
    const closed = await silent.closed;
    expect(closed.code).toBe(4201);
    expect(node.app.realtimeServer.isConnected(answering.socketId)).toBe(true);
    answering.close();
  }, 20_000);
});

describe.each(backends)('graceful shutdown (%s)', (backend) => {
  it('W-23: closing the server tells clients 4200 (reconnect), never 4000-4099', async () => {
    const node = await startRealtimeNode({ backend });
    try {
      const c = await openRaw(`${node.wsUrl}/app/${APP.key}?protocol=7`);
      await rawSubscribe(c, node.sdk, `private-conversation.${uuid()}`);
      const closed = c.closed;
      await node.app.close();
      expect((await closed).code).toBe(4200);
    } finally {
      await node.close();
    }
  });

  it('W-23: once shutdown has begun, a reconnecting client is refused with 503 instead of joining a closing node', async () => {
    const node = await startRealtimeNode({ backend });
    try {
      const url = `${node.wsUrl}/app/${APP.key}?protocol=7`;
      const c = await openRaw(url);
      const closed = c.closed;
      // The node's preClose step, on its own: the HTTP server still listens, as it does during the grace period.
      await node.app.realtimeServer.shutdown();
      expect((await closed).code).toBe(4200);
      const status = await new Promise<number | string>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 'no status'));
        ws.on('open', () => resolve('opened'));
        ws.on('error', (err) => resolve(err.message));
      });
      expect(status).toBe(503);
      expect(node.app.realtimeServer.connectionCount).toBe(0);
    } finally {
      await node.close();
    }
  });
});
