import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOutboundUrl, isPublicAddress, SafeHttpClient, type HostResolver } from '@reusable-chat/drivers';
import { startReceiver, type Receiver } from './receiver.ts';

// Checklist O-01…O-05: the SSRF-safe client the webhook worker uses. No database involved.
describe('SSRF-safe outbound HTTP', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    receiver.on('/redirect', (_req, res) => res.writeHead(302, { location: '/redirect-target' }).end());
    receiver.on('/huge', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(2 * 1024 * 1024, 0x61));
    });
    receiver.on('/hang', () => {
      /* never answers: the client's total timeout must end it */
    });
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('classifies addresses: only global unicast is public (O-01)', () => {
    for (const blocked of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '100.64.0.1',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      '64:ff9b::a00:1',
      '2002:a00:1::',
    ]) {
      expect(isPublicAddress(blocked), blocked).toBe(false);
    }
    expect(isPublicAddress('93.184.215.14')).toBe(true);
    expect(isPublicAddress('2606:4700:4700::1111')).toBe(true);
  });

  it('refuses private, decimal, IPv6 and non-http targets before connecting (O-01, O-04)', () => {
    const deny = { allowPrivate: false };
    expect(checkOutboundUrl('http://169.254.169.254/latest/meta-data/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://127.0.0.1:6379/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://[::1]/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://10.0.0.1/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://0/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://2130706433/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://0177.0.0.1/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://[::ffff:7f00:1]/', deny)).toBe('private_address');
    expect(checkOutboundUrl('http://localhost:3000/', deny)).toBe('private_address');
    expect(checkOutboundUrl('file:///etc/passwd', deny)).toBe('unsupported_scheme');
    expect(checkOutboundUrl('gopher://example.com/', deny)).toBe('unsupported_scheme');
    expect(checkOutboundUrl('ftp://example.com/', deny)).toBe('unsupported_scheme');
    expect(checkOutboundUrl('https://user:pw@example.com/', deny)).toBe('credentials_in_url');
    expect(checkOutboundUrl('https://example.com/hook', deny)).toBeNull();
    expect(checkOutboundUrl('http://127.0.0.1:6379/', { allowPrivate: true })).toBeNull();
  });

  it('blocks at connect time a name that resolves to a private address, whatever it answered before (O-01, O-03)', async () => {
    // A rebinding name: first a public address, then loopback (TTL 0). The check runs on the answer the socket
    // connects with, so there is no window between validation and connect.
    let calls = 0;
    const rebinding: HostResolver = async () => {
      calls += 1;
      return calls === 1 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    };
    const client = new SafeHttpClient({ allowPrivate: false, resolver: rebinding });
    expect(checkOutboundUrl(`http://rebind.example.test:${receiver.port}/private`, { allowPrivate: false })).toBeNull();
    await rebinding('rebind.example.test', 0); // the "validation-time" answer an attacker would show first
    const result = await client.post({ url: `http://rebind.example.test:${receiver.port}/private`, headers: {}, body: '{}' });
    expect(result).toMatchObject({ ok: false, failure: 'blocked_address' });

    // One private address among public ones is enough to refuse.
    const mixed = new SafeHttpClient({
      allowPrivate: false,
      resolver: async () => [
        { address: '93.184.215.14', family: 4 },
        { address: '::ffff:10.0.0.1', family: 6 },
      ],
    });
    expect(await mixed.post({ url: `http://mixed.example.test:${receiver.port}/private`, headers: {}, body: '{}' })).toMatchObject({
      ok: false,
      failure: 'blocked_address',
    });
    // A literal loopback address never reaches a resolver: it is refused before any connection.
    const system = await new SafeHttpClient({ allowPrivate: false }).post({
      url: `${receiver.baseUrl}/private`,
      headers: {},
      body: '{}',
    });
    expect(system).toMatchObject({ ok: false, failure: 'blocked_address' });
    expect(receiver.received('/private')).toHaveLength(0);
  });

  it('reaches a private receiver only when allowed, and does not follow redirects (O-02)', async () => {
    const client = new SafeHttpClient({ allowPrivate: true });
    const ok = await client.post({ url: `${receiver.baseUrl}/fine`, headers: { 'x-test': '1' }, body: '{"a":1}' });
    expect(ok).toMatchObject({ ok: true, status: 200 });
    expect(receiver.received('/fine')[0]?.body).toBe('{"a":1}');

    const redirected = await client.post({ url: `${receiver.baseUrl}/redirect`, headers: {}, body: '{}' });
    expect(redirected).toMatchObject({ ok: true, status: 302 });
    expect(receiver.received('/redirect-target')).toHaveLength(0);
  });

  it('caps the response size and the total time (O-04), never exposing the body (O-05)', async () => {
    const client = new SafeHttpClient({ allowPrivate: true, maxResponseBytes: 64 * 1024 });
    const huge = await client.post({ url: `${receiver.baseUrl}/huge`, headers: {}, body: '{}' });
    expect(huge).toMatchObject({ ok: false, failure: 'response_too_large' });
    expect(Object.keys(huge).sort()).toEqual(['failure', 'latencyMs', 'message', 'ok']);

    const hang = await client.post({ url: `${receiver.baseUrl}/hang`, headers: {}, body: '{}', timeoutMs: 300 });
    expect(hang).toMatchObject({ ok: false, failure: 'timeout' });
  });

  it('reuses one connection per origin, and retries once on a fresh one when the receiver dropped the idle one', async () => {
    const sockets = new Set<Socket>();
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    server.on('connection', (socket: Socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const client = new SafeHttpClient({ allowPrivate: true });
    try {
      for (let i = 0; i < 5; i++) expect(await client.post({ url, headers: {}, body: '{}' })).toMatchObject({ ok: true, status: 204 });
      expect(sockets.size).toBe(1);
      // The receiver closes the pooled connection without telling the client first: the next request hits a
      // dead socket, and must still succeed (on a new connection) rather than count as a failed delivery.
      for (const s of sockets) s.destroy();
      expect(await client.post({ url, headers: {}, body: '{}' })).toMatchObject({ ok: true, status: 204 });
      expect(sockets.size).toBe(2);
    } finally {
      client.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('opens a fresh connection per request when keep-alive is off', async () => {
    const client = new SafeHttpClient({ allowPrivate: true, keepAlive: false });
    await client.post({ url: `${receiver.baseUrl}/no-keepalive`, headers: {}, body: '{}' });
    expect(receiver.received('/no-keepalive')[0]?.headers.connection).toBe('close');
  });
});
