import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import { BunnyBlobStore, createBlobStore, S3BlobStore } from '@reusable-chat/drivers';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, multipartFile, ORIGIN_A, seedConversation, type WidgetSession } from './widget-helpers.ts';

/**
 * Bunny and S3 drivers against local HTTP servers that speak those APIs (fakes at the HTTP level only:
 * the drivers' own code, the AWS SDK and fetch all run for real).
 */
interface FakeStore {
  readonly url: string;
  readonly objects: Map<string, { body: Buffer; headers: http.IncomingHttpHeaders }>;
  readonly requests: { method: string; path: string; headers: http.IncomingHttpHeaders }[];
  failWrites: boolean;
  close(): Promise<void>;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function startFake(handler: (fake: FakeStore, req: http.IncomingMessage, res: http.ServerResponse, path: string, body: Buffer) => void): Promise<FakeStore> {
  const fake = { objects: new Map(), requests: [], failWrites: false } as unknown as FakeStore & { url: string };
  const server = http.createServer((req, res) => {
    void readBody(req).then((body) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://fake').pathname);
      fake.requests.push({ method: req.method ?? '', path, headers: req.headers });
      handler(fake, req, res, path, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (fake as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return fake;
}

/** Bunny Storage HTTP API: PUT/GET/DELETE /{zone}/{path} with AccessKey; GET /{zone}/ lists. */
function startFakeBunny(accessKey: string, zone: string): Promise<FakeStore> {
  return startFake((fake, req, res, path, body) => {
    const json = (status: number, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ HttpCode: status, Message: message }));
    };
    if (req.headers.accesskey !== accessKey) return json(401, 'Unauthorized');
    if (!path.startsWith(`/${zone}/`)) return json(404, 'Zone not found');
    if (req.method === 'PUT') {
      if (fake.failWrites) return json(500, 'Internal error');
      fake.objects.set(path, { body, headers: req.headers });
      return json(201, 'File uploaded.');
    }
    if (req.method === 'GET' && path.endsWith('/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      return;
    }
    const obj = fake.objects.get(path);
    if (req.method === 'GET') {
      if (!obj) return json(404, 'Object Not Found');
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(obj.body);
      return;
    }
    if (req.method === 'DELETE') {
      if (!obj) return json(404, 'Object Not Found');
      fake.objects.delete(path);
      return json(200, 'File deleted successfuly.');
    }
    json(405, 'Method not allowed');
  });
}

/** S3 REST, path style: /{bucket}/{key}; requires a SigV4 Authorization header. */
function startFakeS3(accessKeyId: string, bucket: string): Promise<FakeStore> {
  return startFake((fake, req, res, path, body) => {
    const xmlError = (status: number, code: string) => {
      res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
    };
    if (!String(req.headers.authorization ?? '').startsWith(`AWS4-HMAC-SHA256 Credential=${accessKeyId}/`)) return xmlError(403, 'AccessDenied');
    if (path === `/${bucket}` || path === `/${bucket}/`) {
      res.writeHead(200).end();
      return;
    }
    if (!path.startsWith(`/${bucket}/`)) return xmlError(404, 'NoSuchBucket');
    const obj = fake.objects.get(path);
    switch (req.method) {
      case 'PUT':
        if (fake.failWrites) return xmlError(503, 'SlowDown');
        fake.objects.set(path, { body, headers: req.headers });
        res.writeHead(200, { etag: '"fake"' }).end();
        return;
      case 'HEAD':
        if (!obj) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-length': String(obj.body.length), 'content-type': String(obj.headers['content-type']) }).end();
        return;
      case 'GET':
        if (!obj) return xmlError(404, 'NoSuchKey');
        res.writeHead(200, { 'content-length': String(obj.body.length), 'content-type': String(obj.headers['content-type']) }).end(obj.body);
        return;
      case 'DELETE':
        fake.objects.delete(path);
        res.writeHead(204).end();
        return;
      default:
        xmlError(405, 'MethodNotAllowed');
    }
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const key = 'workspaces/0190a000-0000-7000-8000-000000000001/attachments/0190a000-0000-7000-8000-000000000002.png';

describe('storage drivers at the HTTP level', () => {
  let bunny: FakeStore;
  let s3: FakeStore;
  beforeAll(async () => {
    bunny = await startFakeBunny('bunny-secret', 'zone1');
    s3 = await startFakeS3('AKIDTEST', 'bucket1');
  });
  afterAll(async () => {
    await bunny?.close();
    await s3?.close();
  });

  it('bunny: put (buffer and stream), get, exists, delete, CDN URL, ping', async () => {
    const store = new BunnyBlobStore({ apiKey: 'bunny-secret', zone: 'zone1', hostname: bunny.url, cdnUrl: 'https://cdn.example.b-cdn.net/', uploadPath: 'chat' });
    await store.ping();
    await store.put(key, Buffer.from('hello'), { contentType: 'image/png' });
    expect(bunny.objects.get(`/zone1/chat/${key}`)?.body.toString()).toBe('hello');
    await store.put(`${key}.2`, Readable.from([Buffer.from('str'), Buffer.from('eam')]), { contentType: 'image/png', sizeBytes: 6 });
    expect(bunny.objects.get(`/zone1/chat/${key}.2`)?.body.toString()).toBe('stream');
    expect((await readAll((await store.get(key))!)).toString()).toBe('hello');
    expect(await store.exists(key)).toBe(true);
    expect(await store.get(`${key}.missing`)).toBeNull();
    await store.delete(key);
    expect(await store.exists(key)).toBe(false);
    await store.delete(key); // deleting twice is fine
    expect(store.publicUrl(key)).toBe(`https://cdn.example.b-cdn.net/chat/${key}`);
    expect(bunny.requests.every((r) => r.headers.accesskey === 'bunny-secret')).toBe(true);

    const wrongKey = new BunnyBlobStore({ apiKey: 'nope', zone: 'zone1', hostname: bunny.url, cdnUrl: 'https://cdn.example' });
    await expect(wrongKey.put(key, Buffer.from('x'), { contentType: 'image/png' })).rejects.toThrow(/401/);
    await expect(wrongKey.ping()).rejects.toThrow();
    expect(() => store.publicUrl('../etc/passwd')).toThrow();
  });

  it('s3: put (buffer and stream) with content type and disposition, get, exists, delete, public URL, ping', async () => {
    const store = new S3BlobStore({ endpoint: s3.url, bucket: 'bucket1', region: 'eu-central-1', accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' });
    await store.ping();
    await store.put(key, Buffer.from('png bytes'), { contentType: 'image/png', disposition: 'inline' });
    const stored = s3.objects.get(`/bucket1/${key}`)!;
    expect(stored.body.toString()).toBe('png bytes');
    expect(stored.headers['content-type']).toBe('image/png');
    // A PDF (not inline-safe) is stored as an opaque download on the CDN too (U-03).
    await store.put(`${key}.pdf`, Readable.from([Buffer.from('%PDF-1.4 ...')]), { contentType: 'application/pdf', disposition: 'attachment', sizeBytes: 12 });
    const pdf = s3.objects.get(`/bucket1/${key}.pdf`)!;
    expect(pdf.headers['content-type']).toBe('application/octet-stream');
    expect(pdf.headers['content-disposition']).toBe('attachment');
    expect(pdf.body.toString()).toBe('%PDF-1.4 ...');
    // Plain bodies, no aws-chunked trailer encoding (S3-compatible stores reject it).
    expect(pdf.headers['content-encoding']).toBeUndefined();
    expect((await readAll((await store.get(key))!)).toString()).toBe('png bytes');
    expect(await store.exists(key)).toBe(true);
    expect(await store.exists(`${key}.missing`)).toBe(false);
    expect(await store.get(`${key}.missing`)).toBeNull();
    await store.delete(key);
    expect(await store.exists(key)).toBe(false);
    expect(store.publicUrl(key)).toBe(`${s3.url}/bucket1/${key}`);
    const withCdn = new S3BlobStore({ endpoint: s3.url, bucket: 'bucket1', region: 'x', accessKeyId: 'AKIDTEST', secretAccessKey: 's', publicUrl: 'https://files.example/' });
    expect(withCdn.publicUrl(key)).toBe(`https://files.example/${key}`);
    const denied = new S3BlobStore({ endpoint: s3.url, bucket: 'bucket1', region: 'x', accessKeyId: 'OTHER', secretAccessKey: 's' });
    await expect(denied.put(key, Buffer.from('x'), { contentType: 'image/png' })).rejects.toThrow();
    store.destroy();
    withCdn.destroy();
    denied.destroy();
  });

  it('the factory fails fast on missing settings', () => {
    const base = { dataDir: '/tmp/x', appUrl: 'http://localhost', appSecret: 's'.repeat(32) };
    const bunnyCfg = { apiKey: undefined, zone: undefined, hostname: 'storage.bunnycdn.com', cdnUrl: undefined, uploadPath: '' };
    const s3Cfg = { endpoint: undefined, bucket: undefined, region: 'us-east-1', accessKeyId: undefined, secretAccessKey: undefined, publicUrl: undefined };
    expect(() => createBlobStore({ ...base, driver: 'bunny', bunny: bunnyCfg, s3: s3Cfg })).toThrow(/BUNNY_STORAGE_API_KEY/);
    expect(() => createBlobStore({ ...base, driver: 's3', bunny: bunnyCfg, s3: s3Cfg })).toThrow(/S3_BUCKET/);
    expect(() => createBlobStore({ ...base, driver: 'ftp' as 'local', bunny: bunnyCfg, s3: s3Cfg })).toThrow(/unknown storage driver/);
  });
});

const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#f0f' } }).png().toBuffer();

describe.each(backends)('widget uploads through the bunny and s3 drivers (%s)', (backend) => {
  let bunny: FakeStore;
  let s3: FakeStore;
  let bunnyStack: TestStack;
  let s3Stack: TestStack;

  async function setUp(stack: TestStack) {
    const tenant = await createWidgetTenant(stack.db, ORIGIN_A);
    const guest = await mintSession(stack.app, tenant, 'guest');
    const conversationId = await seedConversation(stack.db, tenant, [{ userId: guest.userId, role: 'guest' }]);
    return { tenant, guest, conversationId };
  }
  const upload = (stack: TestStack, guest: WidgetSession, conversationId: string, data: Buffer) => {
    const m = multipartFile(data, { filename: 'x.png' });
    return stack.app.inject({ method: 'POST', url: `/api/widget/conversations/${conversationId}/attachments`, headers: { ...bearer(guest), ...m.headers }, payload: m.payload });
  };

  beforeAll(async () => {
    bunny = await startFakeBunny('bk', 'zone');
    s3 = await startFakeS3('AKID', 'chat');
    bunnyStack = await startStack({
      backend,
      env: { STORAGE_DRIVER: 'bunny', BUNNY_STORAGE_API_KEY: 'bk', BUNNY_STORAGE_ZONE: 'zone', BUNNY_STORAGE_HOSTNAME: bunny.url, BUNNY_CDN_URL: 'https://cdn.example.net' },
    });
    const pgTestDb = bunnyStack.testDb;
    s3Stack = await startStack({
      backend,
      testDb: pgTestDb,
      env: { STORAGE_DRIVER: 's3', S3_ENDPOINT: s3.url, S3_BUCKET: 'chat', S3_ACCESS_KEY_ID: 'AKID', S3_SECRET_ACCESS_KEY: 'secret', S3_PUBLIC_URL: 'https://files.example.net' },
    });
  });
  afterAll(async () => {
    await s3Stack?.close();
    await bunnyStack?.close();
    await bunny?.close();
    await s3?.close();
  });

  it('bunny: the object lands in the zone under the tenant key; the URL is the CDN URL; readiness pings storage', async () => {
    const { tenant, guest, conversationId } = await setUp(bunnyStack);
    const res = await upload(bunnyStack, guest, conversationId, png);
    expect(res.statusCode).toBe(201);
    const att = res.json();
    expect(bunny.objects.has(`/zone/workspaces/${tenant.workspaceId}/attachments/${att.id}.png`)).toBe(true);
    expect(bunny.objects.has(`/zone/workspaces/${tenant.workspaceId}/attachments/${att.id}_thumb.webp`)).toBe(true);
    expect(att.url).toBe(`https://cdn.example.net/workspaces/${tenant.workspaceId}/attachments/${att.id}.png`);
    const ready = await bunnyStack.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.json().checks.storage.ok).toBe(true);
  });

  it('U-12: a storage failure answers 503 and leaves no row pointing at a missing object', async () => {
    const { guest, conversationId } = await setUp(bunnyStack);
    const before = (await bunnyStack.db.select().from(schema.attachments)).length;
    bunny.failWrites = true;
    const res = await upload(bunnyStack, guest, conversationId, png);
    bunny.failWrites = false;
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect((await bunnyStack.db.select().from(schema.attachments)).length).toBe(before);
    // Every remaining row points at an object that exists.
    for (const row of await bunnyStack.db.select().from(schema.attachments)) {
      expect(await bunnyStack.deps.blobStore.exists(row.storageKey)).toBe(true);
    }
  });

  it('s3: upload stores the object and the row; a failing store answers 503 with no row', async () => {
    const { tenant, guest, conversationId } = await setUp(s3Stack);
    const res = await upload(s3Stack, guest, conversationId, png);
    expect(res.statusCode).toBe(201);
    const att = res.json();
    const obj = s3.objects.get(`/chat/workspaces/${tenant.workspaceId}/attachments/${att.id}.png`);
    expect(obj?.headers['content-type']).toBe('image/png');
    expect(att.url).toBe(`https://files.example.net/workspaces/${tenant.workspaceId}/attachments/${att.id}.png`);
    s3.failWrites = true;
    const failed = await upload(s3Stack, guest, conversationId, png);
    s3.failWrites = false;
    expect(failed.statusCode).toBe(503);
    const rows = await s3Stack.db.select().from(schema.attachments).where(eq(schema.attachments.workspaceId, tenant.workspaceId));
    expect(rows.map((r) => r.id)).toEqual([att.id]);
  });
});
