import { open } from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';
import type { MediaInspector, ProcessedImage, SniffedType } from '@reusable-chat/core/ports';
import { ImageProcessPool } from './image-process-pool.ts';

/** file-type reads at most this many leading bytes for its signatures. */
const SNIFF_BYTES = 4100;
/** A 50 000 × 50 000 header (pixel flood, U-07) is refused before any decoding: ~40 MP is a large photo. */
export const MAX_INPUT_PIXELS = 40_000_000;
const PROCESS_TIMEOUT_S = 10;
const THUMBNAIL_MAX_PX = 320;

/**
 * One image child per server process, forked on the first image (libvips is never loaded into the server
 * itself). The hard timeout backs up libvips' own: a job still running after it kills the child.
 */
const imagePool = new ImageProcessPool({ hardTimeoutMs: (PROCESS_TIMEOUT_S + 5) * 1000, idleMs: 60_000 });

/** The pool behind every SharpMediaInspector (tests check isolation and crash recovery through it). */
export function imageProcessPool(): ImageProcessPool {
  return imagePool;
}

/**
 * Magic-byte sniffing (file-type, in process: it reads 4 KB) and image work (sharp/libvips with a pixel
 * limit and a timeout, out of process: checklist U-07).
 */
export class SharpMediaInspector implements MediaInspector {
  constructor(private readonly maxInputPixels: number = MAX_INPUT_PIXELS) {}

  async sniffFile(path: string): Promise<SniffedType | null> {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(SNIFF_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
      const detected = await fileTypeFromBuffer(buffer.subarray(0, bytesRead));
      return detected ? { mime: detected.mime, ext: detected.ext } : null;
    } finally {
      await handle.close();
    }
  }

  async processImage(path: string, mime: string): Promise<ProcessedImage> {
    const result = await imagePool.run({
      path,
      mime,
      maxInputPixels: this.maxInputPixels,
      thumbnailMaxPx: THUMBNAIL_MAX_PX,
      timeoutSeconds: PROCESS_TIMEOUT_S,
    });
    return { ...result, thumbnailMime: 'image/webp', thumbnailExt: 'webp' };
  }
}
