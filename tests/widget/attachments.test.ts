import { readdirSync, existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { schema, type JsonObject } from '@reusable-chat/db';
import { deleteOrphanAttachments } from '@reusable-chat/core';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, multipartFile, ORIGIN_A, ORIGIN_B, seedConversation, type WidgetSession, type WidgetTenant } from './widget-helpers.ts';

const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#0a0' } }).png().toBuffer();
const jpegWithGps = await sharp({ create: { width: 80, height: 60, channels: 3, background: '#08f' } })
  .jpeg()
  .withExif({ IFD0: { Copyright: 'secret camera owner' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 0/1' } })
  .toBuffer();

function pdf(sizeBytes: number): Buffer {
  const head = Buffer.from('%PDF-1.4\n% /JS (app.alert(1)) /OpenAction\n', 'latin1');
  return Buffer.concat([head, Buffer.alloc(Math.max(0, sizeBytes - head.length), 0x20)]).subarray(0, sizeBytes);
}

/** A PNG whose header claims width × height, with almost no pixel data (U-07 "pixel flood"). */
function pixelFlood(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(4096))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

describe.each(backends)('attachments on local storage (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;
  let b: WidgetTenant;
  let guest: WidgetSession;
  let host: WidgetSession;
  let other: WidgetSession;
  let foreign: WidgetSession;
  let conversationId: string;
  let otherConversationId: string;
  let foreignConversationId: string;

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createWidgetTenant(stack.db, ORIGIN_A);
    await setPolicy({});
    b = await createWidgetTenant(stack.db, ORIGIN_B);
    guest = await mintSession(stack.app, a, 'g');
    host = await mintSession(stack.app, a, 'h');
    other = await mintSession(stack.app, a, 'o');
    foreign = await mintSession(stack.app, b, 'f');
    conversationId = await seedConversation(stack.db, a, [
      { userId: guest.userId, role: 'guest' },
      { userId: host.userId, role: 'host' },
    ]);
    otherConversationId = await seedConversation(stack.db, a, [
      { userId: other.userId, role: 'guest' },
      { userId: host.userId, role: 'host' },
    ]);
    foreignConversationId = await seedConversation(stack.db, b, [{ userId: foreign.userId, role: 'guest' }]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const upload = (session: WidgetSession, data: Buffer, options: { filename?: string; contentType?: string; conversation?: string } = {}) => {
    const m = multipartFile(data, options);
    return stack.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${options.conversation ?? conversationId}/attachments`,
      headers: { ...bearer(session), ...m.headers },
      payload: m.payload,
    });
  };
  const setPolicy = async (attachments: JsonObject) => {
    const [config] = await stack.db
      .select()
      .from(schema.widgetConfigs)
      .where(and(eq(schema.widgetConfigs.workspaceId, a.workspaceId), eq(schema.widgetConfigs.slug, 'guest-host')));
    await stack.db
      .update(schema.widgetConfigs)
      .set({ policies: { ...config!.policies, attachments } })
      .where(eq(schema.widgetConfigs.id, config!.id));
  };
  const fetchUrl = (url: string) => stack.app.inject({ method: 'GET', url: url.replace(stack.deps.config.appUrl, '') });
  const tmpDir = () => path.join(stack.dataDir, 'tmp', 'uploads');

  it('stores an image under workspaces/{id}/attachments/{uuid}.{ext} with dimensions, a thumbnail and a signed URL', async () => {
    const res = await upload(guest, png, { filename: 'holiday.png', contentType: 'image/png' });
    expect(res.statusCode).toBe(201);
    const att = res.json();
    expect(att).toMatchObject({ content_type: 'image/png', extension: 'png', width: 64, height: 48, name: 'holiday.png', message_id: null });
    const [row] = await stack.db.select().from(schema.attachments).where(eq(schema.attachments.id, att.id));
    expect(row!.storageKey).toBe(`workspaces/${a.workspaceId}/attachments/${att.id}.png`);
    expect(await stack.deps.blobStore.exists(row!.storageKey)).toBe(true);
    expect(await stack.deps.blobStore.exists(row!.thumbnailKey!)).toBe(true);

    const file = await fetchUrl(att.url);
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('image/png');
    expect(file.headers['content-disposition']).toMatch(/^inline/);
    expect(file.headers['x-content-type-options']).toBe('nosniff');
    expect(file.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
    expect((await sharp(file.rawPayload).metadata()).width).toBe(64);
    const thumb = await fetchUrl(att.thumbnail_url);
    expect(thumb.headers['content-type']).toBe('image/webp');

    // Attach by id on send; the message carries the attachment with a URL.
    const sent = await stack.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${conversationId}/messages`,
      headers: bearer(guest),
      payload: { content: 'look', attachment_ids: [att.id] },
    });
    expect(sent.statusCode).toBe(201);
    expect(sent.json().attachments).toEqual([expect.objectContaining({ id: att.id, url: expect.stringContaining('/files/workspaces/') })]);
    // The other participant may now see it; a non-participant of the same workspace may not (U-09).
    expect((await stack.app.inject({ method: 'GET', url: `/api/widget/attachments/${att.id}`, headers: bearer(host) })).statusCode).toBe(200);
    expect((await stack.app.inject({ method: 'GET', url: `/api/widget/attachments/${att.id}`, headers: bearer(other) })).statusCode).toBe(404);
    expect((await stack.app.inject({ method: 'GET', url: `/api/widget/attachments/${att.id}`, headers: bearer(foreign) })).statusCode).toBe(404);
  });

  it('U-01/U-02/U-03: the type is decided by magic bytes; script, SVG and HTML never get in; PDFs are downloads only', async () => {
    const php = await upload(guest, Buffer.from('<?php system($_GET["c"]); ?>'), { filename: 'shell.php', contentType: 'image/png' });
    expect(php.statusCode).toBe(415);
    const svg = await upload(guest, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'), {
      filename: 'x.svg',
      contentType: 'image/svg+xml',
    });
    expect(svg.statusCode).toBe(415);
    const html = await upload(guest, Buffer.from('<!doctype html><script>alert(1)</script>'), { filename: 'x.html', contentType: 'text/html' });
    expect(html.statusCode).toBe(415);
    const polyglot = await upload(guest, Buffer.from('GIF89a/*\x01\x00\x01\x00*/=alert(document.domain)//;'), { filename: 'x.gif', contentType: 'image/gif' });
    expect([415, 422]).toContain(polyglot.statusCode);

    const pngAsHtml = await upload(guest, png, { filename: 'page.html', contentType: 'text/html' });
    expect(pngAsHtml.statusCode).toBe(201);
    expect(pngAsHtml.json()).toMatchObject({ extension: 'png', content_type: 'image/png' });

    const pdfRes = await upload(guest, pdf(2048), { filename: 'invoice.pdf', contentType: 'application/pdf' });
    expect(pdfRes.statusCode).toBe(201);
    const served = await fetchUrl(pdfRes.json().url);
    expect(served.statusCode).toBe(200);
    expect(served.headers['content-type']).toBe('application/octet-stream');
    expect(served.headers['content-disposition']).toMatch(/^attachment; filename="invoice.pdf"/);
    expect(served.headers['content-security-policy']).toContain('sandbox');
    expect(served.headers['x-content-type-options']).toBe('nosniff');
    // Even a link rewritten to drop the download flag fails its signature.
    const inline = pdfRes.json().url.replace('dl=1&', '');
    expect((await fetchUrl(inline)).statusCode).toBe(403);
  });

  it('U-04: the stored key never uses the client name; the name is sanitised display metadata', async () => {
    const names = ['../../etc/passwd', '..\\..\\windows\\win.ini', '/abs/path.png', 'a.php%00.png', 'a.jpg.php', 'x'.repeat(300), 'invoice\u202Egpj.exe', 'CON', '../workspaces/' + b.workspaceId + '/x.png'];
    for (const filename of names) {
      const res = await upload(guest, png, { filename, contentType: 'image/png' });
      expect(res.statusCode).toBe(201);
      const att = res.json();
      const [row] = await stack.db.select().from(schema.attachments).where(eq(schema.attachments.id, att.id));
      expect(row!.storageKey).toMatch(new RegExp(`^workspaces/${a.workspaceId}/attachments/[0-9a-f-]{36}\\.png$`));
      expect(/[\\/\u202E]/.test(att.name) || (att.name as string).includes('\u0000')).toBe(false);
      expect(Array.from(att.name as string).length).toBeLessThanOrEqual(200);
    }
    const rtl = (await upload(guest, png, { filename: 'résumé\u202Egnp.png' })).json();
    const served = await fetchUrl(rtl.url);
    expect(served.headers['content-disposition']).toContain("filename*=UTF-8''r%C3%A9sum%C3%A9gnp.png");
  });

  it('U-05: limit−1 and limit pass, limit+1 is 413, and temp files are gone', async () => {
    await setPolicy({ max_size_bytes: 4096 });
    expect((await upload(guest, pdf(4095))).statusCode).toBe(201);
    expect((await upload(guest, pdf(4096))).statusCode).toBe(201);
    const over = await upload(guest, pdf(4097));
    expect(over.statusCode).toBe(413);
    expect(over.json().error.code).toBe('payload_too_large');
    // A stream without Content-Length (chunked) is cut off the same way.
    const m = multipartFile(pdf(200_000));
    const chunked = await stack.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${conversationId}/attachments`,
      headers: { ...bearer(guest), ...m.headers },
      payload: Readable.from([m.payload.subarray(0, 1000), m.payload.subarray(1000)]),
    });
    expect(chunked.statusCode).toBe(413);
    expect(existsSync(tmpDir()) ? readdirSync(tmpDir()) : []).toEqual([]);
    await setPolicy({});
  });

  it('U-05: over a real socket the 413 arrives while the client is still sending (no full buffering)', async () => {
    await setPolicy({ max_size_bytes: 4096 });
    const base = await stack.listen();
    const url = new URL(`/api/widget/conversations/${conversationId}/attachments`, base);
    const boundary = '----rcstream';
    const totalBytes = 64 * 1024 * 1024;
    let written = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${guest.token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
      });
      let done = false;
      req.on('response', (res) => {
        done = true;
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', (err) => (done ? undefined : reject(err)));
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        if (done) return;
        if (written >= totalBytes) {
          req.end(`\r\n--${boundary}--\r\n`);
          return;
        }
        written += chunk.length;
        if (req.write(chunk)) setImmediate(pump);
        else req.once('drain', pump);
      };
      pump();
    });
    expect(status).toBe(413);
    expect(written).toBeLessThan(totalBytes);
    await setPolicy({});
  });

  it('U-07: a pixel-flood header is refused before decoding', async () => {
    const res = await upload(guest, pixelFlood(50_000, 50_000), { filename: 'flood.png' });
    expect(res.statusCode).toBe(422);
    expect(await stack.db.select().from(schema.attachments).where(eq(schema.attachments.width, 50_000))).toEqual([]);
  });

  it('U-08: stored images and thumbnails carry no EXIF/GPS', async () => {
    expect((await sharp(jpegWithGps).metadata()).exif).toBeDefined();
    const res = await upload(guest, jpegWithGps, { filename: 'photo.jpg', contentType: 'image/jpeg' });
    expect(res.statusCode).toBe(201);
    const [row] = await stack.db.select().from(schema.attachments).where(eq(schema.attachments.id, res.json().id));
    const stored = await readAll((await stack.deps.blobStore.get(row!.storageKey))!);
    const thumb = await readAll((await stack.deps.blobStore.get(row!.thumbnailKey!))!);
    expect((await sharp(stored).metadata()).exif).toBeUndefined();
    expect((await sharp(thumb).metadata()).exif).toBeUndefined();
    expect(stored.includes(Buffer.from('secret camera owner'))).toBe(false);
  });

  it('U-09: signed URLs are bound to key, expiry and disposition; expired or altered links are refused', async () => {
    const att = (await upload(guest, png)).json();
    const url = new URL(att.url);
    expect(Number(url.searchParams.get('expires')) - Date.now() / 1000).toBeLessThanOrEqual(900);
    const [otherAtt] = [(await upload(guest, png)).json()];
    const swapped = att.url.replace(att.id, otherAtt.id);
    expect((await fetchUrl(swapped)).statusCode).toBe(403);
    const extended = new URL(att.url);
    extended.searchParams.set('expires', String(Number(extended.searchParams.get('expires')) + 3600));
    expect((await fetchUrl(extended.toString())).statusCode).toBe(403);
    const noSig = new URL(att.url);
    noSig.searchParams.delete('sig');
    expect((await fetchUrl(noSig.toString())).statusCode).toBe(403);
    const expiredUrl = stack.deps.blobStore.publicUrl(`workspaces/${a.workspaceId}/attachments/${att.id}.png`, { expiresInS: -10 });
    expect((await fetchUrl(expiredUrl)).statusCode).toBe(403);
    const missing = stack.deps.blobStore.publicUrl(`workspaces/${a.workspaceId}/attachments/00000000-0000-7000-8000-000000000000.png`);
    expect((await fetchUrl(missing)).statusCode).toBe(404);
    expect((await fetchUrl(`/files/workspaces/${a.workspaceId}/attachments/${att.id}.png`)).statusCode).toBe(403);
    // Traversal out of the uploads folder is never a valid key, signed or not (T-14).
    const q = new URL(att.url).search;
    for (const p of ['workspaces/%2e%2e/%2e%2e/app-secret', `workspaces/${a.workspaceId}/attachments/..%2f..%2f..%2fapp-secret`, '..%2fapp-secret']) {
      expect([403, 404]).toContain((await fetchUrl(`/files/${p}${q}`)).statusCode);
    }
  });

  it('U-10: uploads disabled by the workspace or the configuration, or a type not allowed → refused server-side', async () => {
    await setPolicy({ enabled: false });
    expect((await upload(guest, png)).statusCode).toBe(403);
    await setPolicy({ allowed_types: ['application/pdf'] });
    expect((await upload(guest, png)).statusCode).toBe(415);
    expect((await upload(guest, pdf(100))).statusCode).toBe(201);
    await setPolicy({});
    await stack.db.update(schema.workspaces).set({ settings: { uploads_enabled: false } }).where(eq(schema.workspaces.id, a.workspaceId));
    expect((await upload(guest, png)).statusCode).toBe(403);
    await stack.db.update(schema.workspaces).set({ settings: {} }).where(eq(schema.workspaces.id, a.workspaceId));
    expect((await upload(guest, png)).statusCode).toBe(201);
  });

  it("U-11: another user's, conversation's or workspace's upload cannot be attached (404); orphans are collected", async () => {
    const hostUpload = (await upload(host, png)).json();
    const otherConvUpload = (await upload(other, png, { conversation: otherConversationId })).json();
    const foreignUpload = (await upload(foreign, png, { conversation: foreignConversationId })).json();
    for (const id of [hostUpload.id, otherConvUpload.id, foreignUpload.id, '00000000-0000-7000-8000-000000000000']) {
      const res = await stack.app.inject({
        method: 'POST',
        url: `/api/widget/conversations/${conversationId}/messages`,
        headers: bearer(guest),
        payload: { content: 'steal', attachment_ids: [id] },
      });
      expect(res.statusCode).toBe(404);
    }
    const mine = (await upload(guest, png)).json();
    const send = () =>
      stack.app.inject({ method: 'POST', url: `/api/widget/conversations/${conversationId}/messages`, headers: bearer(guest), payload: { content: '', attachment_ids: [mine.id] } });
    expect((await send()).statusCode).toBe(201);
    expect((await send()).statusCode).toBe(404); // already attached

    const [orphan] = await stack.db.select().from(schema.attachments).where(eq(schema.attachments.id, hostUpload.id));
    await stack.db.update(schema.attachments).set({ createdAt: new Date(Date.now() - 2 * 86_400_000) }).where(eq(schema.attachments.id, hostUpload.id));
    const removed = await deleteOrphanAttachments({ db: stack.db, blobStore: stack.deps.blobStore, olderThan: new Date(Date.now() - 86_400_000) });
    expect(removed).toBe(1);
    expect(await stack.db.select().from(schema.attachments).where(eq(schema.attachments.id, hostUpload.id))).toEqual([]);
    expect(await stack.deps.blobStore.exists(orphan!.storageKey)).toBe(false);
    expect(await stack.deps.blobStore.exists(`workspaces/${a.workspaceId}/attachments/${mine.id}.png`)).toBe(true);
  });

  it('U-06: uploads per user are rate limited with Retry-After', async () => {
    let last;
    for (let i = 0; i < 70; i++) {
      last = await upload(other, pdf(64), { conversation: otherConversationId });
      if (last.statusCode === 429) break;
    }
    expect(last!.statusCode).toBe(429);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    // A new session of the same user does not reset the quota.
    const again = await mintSession(stack.app, a, 'o');
    expect((await upload(again, pdf(64), { conversation: otherConversationId })).statusCode).toBe(429);
  });

  it('U-06: daily upload bytes per user and per workspace are capped with 429 + Retry-After, per tenant', async () => {
    const c = await createWidgetTenant(stack.db, ORIGIN_B);
    await stack.db
      .update(schema.workspaces)
      .set({ settings: { upload_bytes_per_user_per_day: 2500, upload_bytes_per_workspace_per_day: 4500 } })
      .where(eq(schema.workspaces.id, c.workspaceId));
    const first = await mintSession(stack.app, c, 'q1');
    const second = await mintSession(stack.app, c, 'q2');
    const conv = await seedConversation(stack.db, c, [
      { userId: first.userId, role: 'guest' },
      { userId: second.userId, role: 'host' },
    ]);
    const send = (session: WidgetSession) => upload(session, pdf(1000), { conversation: conv });
    // The user quota (2 500 B) is checked before each upload: 0, 1 000 and 2 000 bytes used pass; 3 000 do not.
    for (let i = 0; i < 3; i++) expect((await send(first)).statusCode).toBe(201);
    const refused = await send(first);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('rate_limited');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    // Another user of the workspace still has a quota, until the workspace's 4 500 B are used (3 000 + 2 000).
    expect((await send(second)).statusCode).toBe(201);
    expect((await send(second)).statusCode).toBe(201);
    expect((await send(second)).statusCode).toBe(429);
    // Nothing was stored for the refused uploads.
    const rows = await stack.db.select().from(schema.attachments).where(eq(schema.attachments.workspaceId, c.workspaceId));
    expect(rows).toHaveLength(5);
    // Other tenants are not charged for it.
    expect((await upload(guest, pdf(1000))).statusCode).toBe(201);
  });

  it('rejects non-multipart bodies and wrong field names', async () => {
    const json = await stack.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${conversationId}/attachments`,
      headers: bearer(guest),
      payload: { file: 'x' },
    });
    expect(json.statusCode).toBe(415);
    const wrongField = await upload(guest, png, { filename: 'a.png' });
    expect(wrongField.statusCode).toBe(201);
    const m = multipartFile(png, { field: 'avatar' });
    const res = await stack.app.inject({ method: 'POST', url: `/api/widget/conversations/${conversationId}/attachments`, headers: { ...bearer(guest), ...m.headers }, payload: m.payload });
    expect(res.statusCode).toBe(422);
  });
});
