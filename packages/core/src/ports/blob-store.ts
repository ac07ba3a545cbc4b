import type { Readable } from 'node:stream';

export interface PutOptions {
  readonly contentType: string;
  /** Known length lets S3-compatible stores take a stream without buffering it. */
  readonly sizeBytes?: number;
  /** `attachment` for anything a browser must not render inline (SPEC §7, U-02). */
  readonly disposition?: 'inline' | 'attachment';
}
export interface StoredObject {
  readonly key: string;
  readonly sizeBytes: number;
}

export interface BlobStore {
  put(key: string, body: Buffer | Readable, options: PutOptions): Promise<StoredObject>;
  get(key: string): Promise<Readable | null>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** A URL a browser can load: signed and short-lived (local) or the CDN URL (bunny, s3). */
  publicUrl(key: string, options?: { expiresInS?: number; download?: boolean; filename?: string }): string;
  ping(): Promise<void>;
}
