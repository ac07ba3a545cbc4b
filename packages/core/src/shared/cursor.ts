import { createHmac } from 'node:crypto';
import { AppError } from '../errors/registry.ts';
import { safeEqual } from './crypto.ts';

/**
 * Opaque list cursors (SPEC §4, checklist V-08): `base64url(json).base64url(hmac)`. The MAC covers the
 * workspace and the list the cursor was issued for, so a cursor cannot be edited, nor replayed against
 * another tenant or another list (e.g. another conversation's messages) — all of those answer 400 invalid_cursor.
 */
export interface CursorScope {
  readonly secret: string;
  readonly workspaceId: string;
  /** Names the list, including its parent, e.g. `messages:<conversation id>`. */
  readonly list: string;
}

const MAX_CURSOR_LENGTH = 1024;

function mac(secret: string, body: string): string {
  return createHmac('sha256', secret).update(`cursor.v1.${body}`).digest('base64url');
}

export function encodeCursor(scope: CursorScope, position: Record<string, string | number>): string {
  const body = Buffer.from(JSON.stringify({ w: scope.workspaceId, l: scope.list, p: position }), 'utf8').toString('base64url');
  return `${body}.${mac(scope.secret, body)}`;
}

/** The position a cursor carries; any tampering, foreign scope or garbage throws invalid_cursor. */
export function decodeCursor(scope: CursorScope, cursor: string): Record<string, string | number> {
  const invalid = () => new AppError('invalid_cursor');
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) throw invalid();
  const dot = cursor.indexOf('.');
  if (dot <= 0) throw invalid();
  const body = cursor.slice(0, dot);
  const signature = cursor.slice(dot + 1);
  if (!safeEqual(signature, mac(scope.secret, body))) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const p = parsed as { w?: unknown; l?: unknown; p?: unknown };
  if (p.w !== scope.workspaceId || p.l !== scope.list || typeof p.p !== 'object' || p.p === null) throw invalid();
  return p.p as Record<string, string | number>;
}

export function cursorString(position: Record<string, string | number>, key: string): string {
  const v = position[key];
  if (typeof v !== 'string') throw new AppError('invalid_cursor');
  return v;
}

export function cursorNumber(position: Record<string, string | number>, key: string): number {
  const v = position[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new AppError('invalid_cursor');
  return v;
}
