import path from 'node:path';
import type { BlobStore } from '@reusable-chat/core/ports';
import { BunnyBlobStore } from './bunny-storage.ts';
import { LocalBlobStore } from './local-storage.ts';
import { S3BlobStore } from './s3-storage.ts';

export interface StorageDriverOptions {
  readonly driver: 'local' | 'bunny' | 's3';
  readonly dataDir: string;
  readonly appUrl: string;
  readonly appSecret: string;
  readonly bunny: {
    readonly apiKey: string | undefined;
    readonly zone: string | undefined;
    readonly hostname: string;
    readonly cdnUrl: string | undefined;
    readonly uploadPath: string;
  };
  readonly s3: {
    readonly endpoint: string | undefined;
    readonly bucket: string | undefined;
    readonly region: string;
    readonly accessKeyId: string | undefined;
    readonly secretAccessKey: string | undefined;
    readonly publicUrl: string | undefined;
  };
}

/** One storage driver from configuration; a missing setting fails at start-up (ARCHITECTURE.md convention 3). */
export function createBlobStore(options: StorageDriverOptions): BlobStore {
  switch (options.driver) {
    case 'local':
      return new LocalBlobStore(path.join(options.dataDir, 'uploads'), options.appUrl, options.appSecret);
    case 'bunny': {
      const { apiKey, zone, cdnUrl, hostname, uploadPath } = options.bunny;
      if (!apiKey || !zone || !cdnUrl) throw new Error('bunny storage needs BUNNY_STORAGE_API_KEY, BUNNY_STORAGE_ZONE and BUNNY_CDN_URL');
      return new BunnyBlobStore({ apiKey, zone, cdnUrl, hostname, uploadPath });
    }
    case 's3': {
      const { bucket, accessKeyId, secretAccessKey, endpoint, region, publicUrl } = options.s3;
      if (!bucket || !accessKeyId || !secretAccessKey) throw new Error('s3 storage needs S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY');
      return new S3BlobStore({ bucket, accessKeyId, secretAccessKey, endpoint, region, publicUrl });
    }
    default:
      throw new Error(`unknown storage driver "${String((options as { driver: unknown }).driver)}"`);
  }
}
