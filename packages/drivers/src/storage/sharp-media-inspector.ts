import { open } from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';
import type Sharp from 'sharp';
import type { MediaInspector, ProcessedImage, SniffedType } from '@reusable-chat/core/ports';

/** file-type reads at most this many leading bytes for its signatures. */
const SNIFF_BYTES = 4100;
/** A 50 000 × 50 000 header (pixel flood, U-07) is refused before any decoding: ~40 MP is a large photo. */
export const MAX_INPUT_PIXELS = 40_000_000;
const PROCESS_TIMEOUT_S = 10;
const THUMBNAIL_MAX_PX = 320;

/** Magic-byte sniffing (file-type) and image work (sharp/libvips, with a pixel limit and a timeout). */
/**
 * libvips is loaded on the first image, not at start-up: it costs ≈25–30 MB of RSS that an idle or
 * text-only server never needs.
 */
let sharpModule: Promise<typeof Sharp> | undefined;
function loadSharp(): Promise<typeof Sharp> {
  sharpModule ??= import('sharp').then((m) => m.default);
  return sharpModule;
}

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
    const sharp = await loadSharp();
    const animated = mime === 'image/gif' || mime === 'image/webp';
    const input = () =>
      sharp(path, { limitInputPixels: this.maxInputPixels, failOn: 'error', animated }).timeout({ seconds: PROCESS_TIMEOUT_S });
    const meta = await input().metadata();
    const width = meta.width;
    const height = meta.pageHeight ?? meta.height;
    if (!width || !height) throw new Error('image without dimensions');
    // sharp writes no metadata unless asked (withMetadata), so the re-encode drops EXIF/GPS (U-08);
    // rotate() first applies the EXIF orientation so the picture still looks the same.
    const base = input().rotate();
    const cleaned =
      mime === 'image/jpeg'
        ? await base.jpeg({ quality: 90, mozjpeg: false }).toBuffer()
        : mime === 'image/png'
          ? await base.png().toBuffer()
          : mime === 'image/webp'
            ? await base.webp({ quality: 90 }).toBuffer()
            : await base.gif().toBuffer();
    const thumbnail = await sharp(path, { limitInputPixels: this.maxInputPixels, failOn: 'error' })
      .timeout({ seconds: PROCESS_TIMEOUT_S })
      .rotate()
      .resize(THUMBNAIL_MAX_PX, THUMBNAIL_MAX_PX, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer();
    return { width, height, cleaned, thumbnail, thumbnailMime: 'image/webp', thumbnailExt: 'webp' };
  }
}
