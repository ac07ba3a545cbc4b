/**
 * The Pusher HTTP API's signature and limits (checklist W-24, W-25, T-18), with requests signed by the
 * protocol package exactly as the `pusher` SDK signs them, then tampered with.
 */
import PusherServer from 'pusher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@reusable-chat/testing';
import { apiStringToSign, hmacHex, md5Hex, signApiRequest } from '@reusable-chat/protocol';
import { openRaw, rawSubscribe, startRealtimeNode, type RealtimeNode } from '../conformance/support.ts';

// The rest-api.md credentials, so the reference request itself can be replayed (pusher-protocol.md §1.5).
const VECTOR_APP = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };
const VECTOR_BODY = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';

describe.each(backends)('Pusher HTTP API (%s)', (backend) => {
  let node: RealtimeNode;
  beforeAll(async () => {
    node = await startRealtimeNode({
      backend,
      env: { REVERB_APP_ID: VECTOR_APP.id, REVERB_APP_KEY: VECTOR_APP.key, REVERB_APP_SECRET: VECTOR_APP.secret },
    });
  });
  afterAll(async () => {
    await node?.close();
  });

  const send = (method: 'GET' | 'POST', path: string, params: Record<string, string>, body?: string) =>
    node.app.inject({
      method,
      url: `${path}?${Object.entries(params).map(([k, v]) => `${k}=${v}`).join('&')}`,
      ...(body !== undefined ? { payload: body, headers: { 'content-type': 'application/json' } } : {}),
    });
  const signed = (method: 'GET' | 'POST', path: string, body?: string, options: { params?: Record<string, string>; timestampS?: number; app?: typeof VECTOR_APP } = {}) =>
    send(method, path, signApiRequest(options.app ?? VECTOR_APP, { method, path, body, params: options.params, timestampS: options.timestampS }), body);

  it('W-24: the reference request is accepted when fresh, and its original 2012 timestamp is refused', async () => {
    expect(md5Hex(VECTOR_BODY)).toBe('ec365a775a4cd0599faeb73354201b6f');
    expect((await signed('POST', '/apps/3/events', VECTOR_BODY)).statusCode).toBe(200);
    const replay = await send('POST', '/apps/3/events', {
      auth_key: VECTOR_APP.key,
      auth_timestamp: '1353088179',
      auth_version: '1.0',
      body_md5: 'ec365a775a4cd0599faeb73354201b6f',
      auth_signature: 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c',
    }, VECTOR_BODY);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.code).toBe('unauthenticated');
  });

  it('W-24: tampered, stale, future, unversioned, reordered and foreign signatures are all 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const path = '/apps/3/events';
    expect((await signed('POST', path, VECTOR_BODY, { timestampS: now - 590 })).statusCode).toBe(200);
    expect((await signed('POST', path, VECTOR_BODY, { timestampS: now + 590 })).statusCode).toBe(200);
    // 605, not 601: the test's clock read and the server's may straddle a second boundary on a busy machine.
    expect((await signed('POST', path, VECTOR_BODY, { timestampS: now - 605 })).statusCode).toBe(401);
    expect((await signed('POST', path, VECTOR_BODY, { timestampS: now + 605 })).statusCode).toBe(401);

    const params = signApiRequest(VECTOR_APP, { method: 'POST', path, body: VECTOR_BODY });
    expect((await send('POST', path, params, VECTOR_BODY.replace('foo', 'bar'))).statusCode).toBe(401); // body_md5 mismatch
    const { auth_version: _v, ...unversioned } = params;
    expect((await send('POST', path, unversioned, VECTOR_BODY)).statusCode).toBe(401);
    expect((await send('POST', path, { ...params, auth_signature: params.auth_signature!.toUpperCase() }, VECTOR_BODY)).statusCode).toBe(401);
    expect((await send('POST', path, { ...params, auth_signature: '' }, VECTOR_BODY)).statusCode).toBe(401);
    expect((await signed('POST', path, VECTOR_BODY, { app: { ...VECTOR_APP, secret: 'another-apps-secret' } })).statusCode).toBe(401);
    expect((await signed('POST', path, VECTOR_BODY, { app: { ...VECTOR_APP, key: 'another-key' } })).statusCode).toBe(401);

    // A client that signed the parameters in the wrong order or with uppercase keys.
    const base = { auth_key: VECTOR_APP.key, auth_timestamp: String(now), auth_version: '1.0', body_md5: md5Hex(VECTOR_BODY) };
    const unsorted = `POST\n${path}\nauth_version=1.0&auth_key=${VECTOR_APP.key}&auth_timestamp=${now}&body_md5=${base.body_md5}`;
    expect((await send('POST', path, { ...base, auth_signature: hmacHex(VECTOR_APP.secret, unsorted) }, VECTOR_BODY)).statusCode).toBe(401);
    const upper = { AUTH_KEY: VECTOR_APP.key, AUTH_TIMESTAMP: String(now), AUTH_VERSION: '1.0', BODY_MD5: base.body_md5 };
    const upperSig = hmacHex(VECTOR_APP.secret, `POST\n${path}\nAUTH_KEY=${upper.AUTH_KEY}&AUTH_TIMESTAMP=${now}&AUTH_VERSION=1.0&BODY_MD5=${base.body_md5}`);
    expect((await send('POST', path, { ...upper, auth_signature: upperSig }, VECTOR_BODY)).statusCode).toBe(401);
    // A parameter given twice has no single signed value.
    const dup = await node.app.inject({ method: 'POST', url: `${path}?${new URLSearchParams(params).toString()}&auth_key=x`, payload: VECTOR_BODY, headers: { 'content-type': 'application/json' } });
    expect(dup.statusCode).toBe(401);
    // The string the server rebuilds is the documented one.
    expect(apiStringToSign('POST', path, params)).toContain(`auth_key=${VECTOR_APP.key}&auth_timestamp=`);
  });

  it('W-25: 10 KB data → 413, >100 channels → 400, >10 per batch → 400, unknown app → 404', async () => {
    const event = (data: string, channels = ['c']) => JSON.stringify({ name: 'e', channels, data });
    expect((await signed('POST', '/apps/3/events', event('x'.repeat(10_240)))).statusCode).toBe(200);
    const big = await signed('POST', '/apps/3/events', event('x'.repeat(10_241)));
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');
    expect((await signed('POST', '/apps/3/events', event('x', Array.from({ length: 100 }, (_, i) => `c${i}`)))).statusCode).toBe(200);
    expect((await signed('POST', '/apps/3/events', event('x', Array.from({ length: 101 }, (_, i) => `c${i}`)))).statusCode).toBe(400);
    const batch = (n: number) => JSON.stringify({ batch: Array.from({ length: n }, (_, i) => ({ channel: `c${i}`, name: 'e', data: '{}' })) });
    expect((await signed('POST', '/apps/3/batch_events', batch(10))).statusCode).toBe(200);
    expect((await signed('POST', '/apps/3/batch_events', batch(11))).statusCode).toBe(400);
    expect((await signed('POST', '/apps/999/events', event('x'))).statusCode).toBe(404);
    expect((await signed('POST', '/apps/3/events', '{"name":')).statusCode).toBe(400);
    expect((await signed('POST', '/apps/3/events', JSON.stringify({ name: 'n'.repeat(201), channels: ['c'], data: '' }))).statusCode).toBe(400);
    expect((await signed('POST', '/apps/3/events', JSON.stringify({ name: 'e', channels: ['c'], data: '', socket_id: 'abc' }))).statusCode).toBe(400);
    expect((await signed('POST', '/apps/3/events', JSON.stringify({ name: 'e', channels: ['bad name'], data: '' }))).statusCode).toBe(400);
    expect((await signed('POST', '/apps/3/events', JSON.stringify({ name: 'e', channels: ['c'], data: { not: 'a string' } }))).statusCode).toBe(400);
  });

  it('T-18: presence users need this app’s credentials and id; other queries are validated', async () => {
    const client = await openRaw(`${node.wsUrl}/app/${VECTOR_APP.key}?protocol=7`);
    const sdk = new PusherServer({ appId: VECTOR_APP.id, key: VECTOR_APP.key, secret: VECTOR_APP.secret, host: '127.0.0.1' });
    await rawSubscribe(client, sdk, 'presence-room', { user_id: 'member-1' });
    const users = await signed('GET', '/apps/3/channels/presence-room/users');
    expect(users.statusCode).toBe(200);
    expect(users.json()).toEqual({ users: [{ id: 'member-1' }] });
    expect((await signed('GET', '/apps/3/channels/presence-room/users', undefined, { app: { ...VECTOR_APP, secret: 'tenant-b-secret' } })).statusCode).toBe(401);
    expect((await signed('GET', '/apps/4/channels/presence-room/users')).statusCode).toBe(404);
    expect((await signed('GET', '/apps/3/channels/public-room/users')).statusCode).toBe(400);
    expect((await signed('GET', '/apps/3/channels/public-room', undefined, { params: { info: 'user_count' } })).statusCode).toBe(400);
    expect((await signed('GET', '/apps/3/channels', undefined, { params: { info: 'user_count' } })).statusCode).toBe(400);
    const list = await signed('GET', '/apps/3/channels', undefined, { params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    expect(list.json()).toEqual({ channels: { 'presence-room': { user_count: 1 } } });
    expect((await signed('POST', '/apps/3/users/member-1/terminate_connections', '{}')).statusCode).toBe(200);
    client.close();
  });
});
