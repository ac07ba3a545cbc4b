import { createHmac } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, PutOptions, StoredObject } from '@reusable-chat/core/ports';
import { timingSafeEqual } from 'node:crypto';

/** Keys are always ours (`workspaces/{id}/attachments/{uuid}.{ext}`); anything else is refused (T-14). */
const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,300}$/;
/** Signed URLs default to 15 minutes (U-09). */
export const DEFAULT_SIGNED_URL_TTL_S = 900;

export function assertSafeKey(key: string): void {
  if (!isSafeKey(key)) throw new Error(`unsafe storage key: ${key}`);
}

export function isSafeKey(key: string): boolean {
  return SAFE_KEY.test(key) && !key.split('/').some((seg) => seg === '..' || seg === '.' || seg === '');
}

export interface SignedUrlParams {
  readonly expires: number;
  readonly sig: string;
  /** `1` when the URL was issued as a download (Content-Disposition: attachment). */
  readonly dl?: string;
  readonly name?: string;
}

/** Files under `DATA_DIR/uploads`, served by GET /files/* through short-lived HMAC-signed URLs. */
export class LocalBlobStore implements BlobStore {
  constructor(
    private readonly rootDir: string,
    private readonly baseUrl: string,
    private readonly signingSecret: string,
  ) {}

  private file(key: string): string {
    assertSafeKey(key);
    return path.join(this.rootDir, key);
  }

  async put(key: string, body: Buffer | Readable, _options: PutOptions): Promise<StoredObject> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.part`;
    try {
      if (Buffer.isBuffer(body)) await writeFile(tmp, body);
      else await pipeline(body, createWriteStream(tmp));
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const s = await stat(file);
    return { key, sizeBytes: s.size };
  }

  async get(key: string): Promise<Readable | null> {
    const file = this.file(key);
    try {
      const s = await stat(file);
      if (!s.isFile()) return null;
    } catch {
      return null;
    }
    return createReadStream(file);
  }

  async size(key: string): Promise<number | null> {
    try {
      const s = await stat(this.file(key));
      return s.isFile() ? s.size : null;
    } catch {
      return null;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== null;
  }

  publicUrl(key: string, options: { expiresInS?: number; download?: boolean; filename?: string } = {}): string {
    assertSafeKey(key);
    const expires = Math.floor(Date.now() / 1000) + (options.expiresInS ?? DEFAULT_SIGNED_URL_TTL_S);
    const dl = options.download ? '1' : '';
    const name = options.filename ?? '';
    const params = new URLSearchParams({ expires: String(expires) });
    if (dl) params.set('dl', dl);
    if (name) params.set('name', name);
    params.set('sig', this.sign(key, expires, dl, name));
    return `${this.baseUrl}/files/${key}?${params.toString()}`;
  }

  /**
   * HMAC over key, expiry and the disposition parameters: a URL for one object cannot be bent to another
   * object (U-09), kept alive longer, or switched from download to inline.
   */
  sign(key: string, expires: number, dl = '', name = ''): string {
    return createHmac('sha256', this.signingSecret).update(`${key}\n${expires}\n${dl}\n${name}`).digest('base64url');
  }

  /** 'ok', 'expired' or 'invalid' (constant-time signature compare, A-09). */
  verify(key: string, params: SignedUrlParams, nowS: number = Math.floor(Date.now() / 1000)): 'ok' | 'expired' | 'invalid' {
    if (!isSafeKey(key) || !Number.isSafeInteger(params.expires)) return 'invalid';
    const expected = Buffer.from(this.sign(key, params.expires, params.dl ?? '', params.name ?? ''));
    const given = Buffer.from(params.sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    return params.expires < nowS ? 'expired' : 'ok';
  }

  async ping(): Promise<void> {
    await mkdir(this.rootDir, { recursive: true });
  }
}
