import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { BlobStore, PutOptions, StoredObject } from '@reusable-chat/core/ports';
import { assertSafeKey } from './local-storage.ts';

export interface BunnyStorageOptions {
  readonly apiKey: string;
  readonly zone: string;
  /** e.g. `storage.bunnycdn.com` or a regional `ny.storage.bunnycdn.com`; a full `http(s)://` base is used as given. */
  readonly hostname: string;
  /** Pull zone URL that serves the storage zone, e.g. https://example.b-cdn.net. */
  readonly cdnUrl: string;
  /** Optional folder inside the zone (BUNNY_UPLOAD_PATH of the earlier system). */
  readonly uploadPath?: string;
  readonly timeoutMs?: number;
}

/**
 * Bunny Storage over its HTTP API: `PUT|GET|DELETE https://{hostname}/{zone}/{path}` with the `AccessKey`
 * header; public reads go through the pull zone (BUNNY_CDN_URL). Only content types that passed the
 * magic-byte allowlist are ever stored, so the CDN never serves SVG/HTML (SPEC §7).
 */
export class BunnyBlobStore implements BlobStore {
  private readonly base: string;
  private readonly prefix: string;
  private readonly cdnUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: BunnyStorageOptions) {
    const host = options.hostname.replace(/\/+$/, '');
    this.base = `${/^https?:\/\//.test(host) ? host : `https://${host}`}/${encodeURIComponent(options.zone)}`;
    const p = (options.uploadPath ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = p ? `${p}/` : '';
    this.cdnUrl = options.cdnUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  private path(key: string): string {
    assertSafeKey(key);
    return `${this.prefix}${key}`;
  }

  private async request(method: string, key: string | null, init: { body?: Buffer | Readable; headers?: Record<string, string> } = {}) {
    const url = key === null ? `${this.base}/${this.prefix}` : `${this.base}/${this.path(key)}`;
    const body = init.body === undefined ? undefined : Buffer.isBuffer(init.body) ? init.body : (init.body as unknown as AsyncIterable<Uint8Array>);
    return fetch(url, {
      method,
      headers: { AccessKey: this.options.apiKey, ...init.headers },
      ...(body !== undefined ? { body: body as BodyInit, duplex: 'half' } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    } as RequestInit);
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<StoredObject> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    const size = Buffer.isBuffer(body) ? body.length : options.sizeBytes;
    if (size !== undefined) headers['content-length'] = String(size);
    const res = await this.request('PUT', key, { body, headers });
    await res.body?.cancel();
    if (res.status !== 201 && res.status !== 200) throw new Error(`bunny storage PUT failed with HTTP ${res.status}`);
    return { key, sizeBytes: size ?? 0 };
  }

  async get(key: string): Promise<Readable | null> {
    const res = await this.request('GET', key);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`bunny storage GET failed with HTTP ${res.status}`);
    }
    return Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  }

  async delete(key: string): Promise<void> {
    const res = await this.request('DELETE', key);
    await res.body?.cancel();
    if (!res.ok && res.status !== 404) throw new Error(`bunny storage DELETE failed with HTTP ${res.status}`);
  }

  async exists(key: string): Promise<boolean> {
    // The storage API has no HEAD; a GET whose body is dropped answers the same question.
    const res = await this.request('GET', key);
    await res.body?.cancel();
    if (res.status === 404) return false;
    if (!res.ok) throw new Error(`bunny storage GET failed with HTTP ${res.status}`);
    return true;
  }

  publicUrl(key: string): string {
    return `${this.cdnUrl}/${this.path(key).split('/').map(encodeURIComponent).join('/')}`;
  }

  async ping(): Promise<void> {
    const res = await this.request('GET', null);
    await res.body?.cancel();
    if (!res.ok) throw new Error(`bunny storage list failed with HTTP ${res.status}`);
  }
}
