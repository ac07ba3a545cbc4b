// The image-processing child process (checklist U-07: "image processing … runs out of process").
// libvips decodes untrusted bytes; if a crafted file crashes it, exhausts memory or hangs, only this
// process dies, never the server that serves every tenant's chat. The parent (image-process-pool.ts)
// forks it on the first image, sends one job at a time over IPC and kills it on a timeout.
// Plain JavaScript so it runs the same from the source tree and next to the server bundle.
import sharp from 'sharp';

// One job at a time, no libvips operation cache: bounded memory, nothing of one tenant's image kept around.
sharp.concurrency(1);
sharp.cache(false);

async function processImage({ path, mime, maxInputPixels, thumbnailMaxPx, timeoutSeconds }) {
  const animated = mime === 'image/gif' || mime === 'image/webp';
  const input = () => sharp(path, { limitInputPixels: maxInputPixels, failOn: 'error', animated }).timeout({ seconds: timeoutSeconds });
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
  const thumbnail = await sharp(path, { limitInputPixels: maxInputPixels, failOn: 'error' })
    .timeout({ seconds: timeoutSeconds })
    .rotate()
    .resize(thumbnailMaxPx, thumbnailMaxPx, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer();
  return { width, height, cleaned, thumbnail };
}

process.on('message', (job) => {
  if (job?.type === 'crash-for-test') process.exit(70);
  processImage(job).then(
    (result) => process.send({ id: job.id, ok: true, result }),
    (error) => process.send({ id: job.id, ok: false, message: error instanceof Error ? error.message : String(error) }),
  );
});
// The parent went away (exit, crash): nothing is left to answer to.
process.on('disconnect', () => process.exit(0));
