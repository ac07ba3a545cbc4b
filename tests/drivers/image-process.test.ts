import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageProcessPool, imageProcessPool, SharpMediaInspector } from '@reusable-chat/drivers';

/**
 * U-07: image processing runs out of process. libvips decodes untrusted bytes; a crash, a hang or a memory
 * blow-up there must cost one child process, never the server. The HTTP-level cases (pixel flood → 422,
 * EXIF stripped, thumbnails) are in tests/widget/attachments.test.ts; this file checks the isolation itself.
 */
describe('image processing in a child process (U-07)', () => {
  let dir: string;
  let png: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rc-image-'));
    png = path.join(dir, 'photo.png');
    writeFileSync(png, await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3366cc' } }).png().toBuffer());
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes, re-encodes and thumbnails in another process, not in the server', async () => {
    const inspector = new SharpMediaInspector();
    const result = await inspector.processImage(png, 'image/png');
    expect(result).toMatchObject({ width: 640, height: 480, thumbnailMime: 'image/webp', thumbnailExt: 'webp' });
    expect(Buffer.isBuffer(result.cleaned)).toBe(true);
    const thumb = await sharp(result.thumbnail).metadata();
    expect(thumb).toMatchObject({ format: 'webp', width: 320, height: 240 });
    const childPid = imageProcessPool().pid;
    expect(childPid).toBeTypeOf('number');
    expect(childPid).not.toBe(process.pid);
  });

  it('a crash in the child fails only the job in flight; the next job gets a fresh child', async () => {
    const pool = new ImageProcessPool({ hardTimeoutMs: 20_000, idleMs: 60_000 });
    try {
      const job = { path: png, mime: 'image/png', maxInputPixels: 40_000_000, thumbnailMaxPx: 100, timeoutSeconds: 10 };
      await pool.run(job);
      const firstPid = pool.pid;
      const inFlight = pool.run(job);
      pool.crashForTest();
      await expect(inFlight).rejects.toThrow(/child process exited|image processing/);
      const after = await pool.run(job);
      expect(after.width).toBe(640);
      expect(pool.pid).toBeTypeOf('number');
      expect(pool.pid).not.toBe(firstPid);
    } finally {
      pool.close();
    }
  });

  it('a job that outlives the hard timeout kills the child instead of hanging the caller', async () => {
    // A 1 ms hard timeout cannot be met by any decode: the parent must give up and kill the child.
    const pool = new ImageProcessPool({ hardTimeoutMs: 1, idleMs: 60_000 });
    try {
      const job = { path: png, mime: 'image/png', maxInputPixels: 40_000_000, thumbnailMaxPx: 100, timeoutSeconds: 10 };
      await expect(pool.run(job)).rejects.toThrow(/timed out/);
      expect(pool.pid).toBeUndefined();
    } finally {
      pool.close();
    }
  });

  it('a file libvips refuses (pixel limit, garbage) is an error from the child, and the child keeps serving', async () => {
    const pool = new ImageProcessPool({ hardTimeoutMs: 20_000, idleMs: 60_000 });
    try {
      const garbage = path.join(dir, 'garbage.png');
      writeFileSync(garbage, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(64, 7)]));
      const job = { path: png, mime: 'image/png', maxInputPixels: 40_000_000, thumbnailMaxPx: 100, timeoutSeconds: 10 };
      await pool.run(job);
      const pid = pool.pid;
      await expect(pool.run({ ...job, path: garbage })).rejects.toThrow();
      await expect(pool.run({ ...job, maxInputPixels: 1000 })).rejects.toThrow(/pixel limit/i);
      expect((await pool.run(job)).height).toBe(480);
      expect(pool.pid).toBe(pid);
    } finally {
      pool.close();
    }
  });
});
