import { createHmac } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { safeEqual } from '../shared/crypto.ts';

/**
 * One-click unsubscribe links (RFC 8058). The token names the workspace and chat user and is MACed with
 * APP_SECRET, so it cannot be forged or pointed at someone else; it carries no session and grants nothing
 * but switching these emails off for that one user.
 */
function mac(secret: string, body: string): string {
  return createHmac('sha256', secret).update(`unsubscribe.v1.${body}`).digest('base64url');
}

export function createUnsubscribeToken(params: { secret: string; workspaceId: string; chatUserId: string }): string {
  const body = Buffer.from(`${params.workspaceId}:${params.chatUserId}`, 'utf8').toString('base64url');
  return `${body}.${mac(params.secret, body)}`;
}

export function verifyUnsubscribeToken(params: { secret: string; token: string }): { workspaceId: string; chatUserId: string } | null {
  if (params.token.length > 512) return null;
  const dot = params.token.indexOf('.');
  if (dot <= 0) return null;
  const body = params.token.slice(0, dot);
  if (!safeEqual(params.token.slice(dot + 1), mac(params.secret, body))) return null;
  const [workspaceId, chatUserId, extra] = Buffer.from(body, 'base64url').toString('utf8').split(':');
  if (!workspaceId || !chatUserId || extra !== undefined) return null;
  return { workspaceId, chatUserId };
}

export function unsubscribeUrl(params: { appUrl: string; secret: string; workspaceId: string; chatUserId: string }): string {
  const url = new URL('/api/notifications/unsubscribe', params.appUrl);
  url.searchParams.set('token', createUnsubscribeToken(params));
  return url.toString();
}

/** Idempotent; false when the token is invalid or the user no longer exists. */
export async function unsubscribeFromEmails(params: { db: Executor; secret: string; token: string; now?: Date }): Promise<boolean> {
  const target = verifyUnsubscribeToken(params);
  if (!target) return false;
  const u = schema.chatUsers;
  const scoped = and(eq(u.workspaceId, target.workspaceId), eq(u.id, target.chatUserId));
  await params.db
    .update(u)
    .set({ emailOptOutAt: params.now ?? new Date() })
    .where(and(scoped, isNull(u.emailOptOutAt)));
  const [row] = await params.db.select({ id: u.id }).from(u).where(scoped).limit(1);
  return row !== undefined;
}
