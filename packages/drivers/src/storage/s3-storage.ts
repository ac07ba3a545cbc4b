import { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { BlobStore, PutOptions, StoredObject } from '@reusable-chat/core/ports';
import { assertSafeKey } from './local-storage.ts';

export interface S3StorageOptions {
  /** Any S3-compatible endpoint (MinIO, R2, Wasabi, …); absent means AWS itself. */
  readonly endpoint?: string | undefined;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Public base URL of the bucket (CDN); defaults to `{endpoint}/{bucket}`. */
  readonly publicUrl?: string | undefined;
}

/**
 * S3-compatible object storage. Path-style addressing works with every compatible server; checksums are
 * only sent when an operation requires them, because streaming uploads with the SDK's default trailing
 * checksums (aws-chunked encoding) are refused by several S3-compatible stores.
 */
type LoadedSdk = { readonly client: S3Sdk.S3Client; readonly sdk: typeof S3Sdk };

export class S3BlobStore implements BlobStore {
  /**
   * The SDK is loaded on first use, not at import: this module is imported by every process
   * whatever STORAGE_DRIVER says, and only the s3 driver needs the SDK's start-up work.
   */
  private sdk: Promise<LoadedSdk> | undefined;
  private readonly publicBase: string;

  constructor(private readonly options: S3StorageOptions) {
    const endpoint = (options.endpoint ?? `https://s3.${options.region}.amazonaws.com`).replace(/\/+$/, '');
    this.publicBase = (options.publicUrl ?? `${endpoint}/${options.bucket}`).replace(/\/+$/, '');
  }

  private load(): Promise<LoadedSdk> {
    this.sdk ??= import('@aws-sdk/client-s3').then((sdk) => {
      const { options } = this;
      const client = new sdk.S3Client({
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        forcePathStyle: true,
        credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 2,
      });
      return { client, sdk };
    });
    return this.sdk;
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<StoredObject> {
    assertSafeKey(key);
    let payload: Buffer | Readable = body;
    let size = Buffer.isBuffer(body) ? body.length : options.sizeBytes;
    if (size === undefined) {
      // PutObject needs a length for a stream; callers bound uploads, so collecting is bounded too.
      const chunks: Buffer[] = [];
      for await (const chunk of body as Readable) chunks.push(Buffer.from(chunk as Uint8Array));
      payload = Buffer.concat(chunks);
      size = payload.length;
    }
    const { client, sdk } = await this.load();
    await client.send(
      new sdk.PutObjectCommand({
        Bucket: this.options.bucket,
        Key: key,
        Body: payload,
        ContentLength: size,
        ContentType: options.disposition === 'attachment' ? 'application/octet-stream' : options.contentType,
        ...(options.disposition === 'attachment' ? { ContentDisposition: 'attachment' } : {}),
      }),
    );
    return { key, sizeBytes: size };
  }

  async get(key: string): Promise<Readable | null> {
    assertSafeKey(key);
    try {
      const { client, sdk } = await this.load();
      const res = await client.send(new sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      if (!res.Body) return null;
      return res.Body instanceof Readable ? res.Body : Readable.from(res.Body as unknown as AsyncIterable<Uint8Array>);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    const { client, sdk } = await this.load();
    await client.send(new sdk.DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  async exists(key: string): Promise<boolean> {
    assertSafeKey(key);
    try {
      const { client, sdk } = await this.load();
      await client.send(new sdk.HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  publicUrl(key: string): string {
    assertSafeKey(key);
    return `${this.publicBase}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async ping(): Promise<void> {
    const { client, sdk } = await this.load();
    await client.send(new sdk.HeadBucketCommand({ Bucket: this.options.bucket }));
  }

  destroy(): void {
    void this.sdk?.then(({ client }) => client.destroy());
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}
