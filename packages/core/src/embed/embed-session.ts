import { and, eq } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { AppError } from '../errors/registry.ts';
import { hmacSha256Hex, randomToken, safeEqual } from '../shared/crypto.ts';
import {
  authenticateWidgetSession,
  createWidgetSession,
  revokeWidgetSessions,
  type ChatUserRow,
  type WidgetSessionRow,
} from '../identity/widget-sessions.ts';
import { findActiveBan } from '../moderation/bans.ts';
import type { PublicKeyRow } from './public-keys.ts';
import type { WorkspaceRow } from '../workspaces/create-workspace.ts';

/** `user_hash` is lower-case hex of HMAC-SHA256(identity_secret, external_id) (SPEC §3). */
export function computeUserHash(identitySecret: string, externalId: string): string {
  return hmacSha256Hex(identitySecret, externalId);
}

export function isValidUserHash(identitySecret: string, externalId: string, userHash: string): boolean {
  // Constant-time, and case-insensitive so an upper-case hex digest from another language still verifies.
  return safeEqual(computeUserHash(identitySecret, externalId), userHash.toLowerCase());
}

export interface EmbedIdentity {
  readonly externalId?: string;
  readonly userHash?: string;
  readonly name?: string;
  readonly email?: string;
  readonly avatarUrl?: string;
}

export interface EmbedSessionResult {
  readonly token: string;
  readonly session: WidgetSessionRow;
  readonly user: ChatUserRow;
  /** Users whose sessions this call revoked (identity change, A-23): their sockets must close. */
  readonly revokedUserIds: string[];
  readonly isNewUser: boolean;
}

/**
 * Mints a widget session for a page that holds a public key.
 *
 * - Identified: only with a valid `user_hash` (constant-time compare). Without one, an identity claim never
 *   attaches to an existing user: if the key requires verification it is refused (401); if not, the
 *   visitor becomes a NEW anonymous user and the claimed external id is ignored.
 * - Anonymous: a new chat user `anon_<random>` each time; refused when the key disallows anonymous visitors.
 * - `previousToken`: the session this browser held. When the identity changes it is revoked so the
 *   old user's sockets close.
 */
export async function createEmbedSession(params: {
  db: Executor;
  publicKey: PublicKeyRow;
  workspace: WorkspaceRow;
  origin: string;
  identity?: EmbedIdentity;
  previousToken?: string;
  expiresInS?: number;
}): Promise<EmbedSessionResult> {
  const { db, publicKey, workspace, identity } = params;
  const claimsIdentity = Boolean(identity?.externalId);
  let verifiedExternalId: string | null = null;
  if (claimsIdentity) {
    const externalId = identity!.externalId!;
    if (identity!.userHash !== undefined) {
      if (!isValidUserHash(workspace.identitySecret, externalId, identity!.userHash)) {
        throw new AppError('unauthenticated', 'user_hash does not match external_id.');
      }
      verifiedExternalId = externalId;
    } else if (publicKey.requireIdentityVerification) {
      throw new AppError('unauthenticated', 'Identified users need a user_hash (identity verification is on).');
    }
  }
  if (!verifiedExternalId && !publicKey.allowAnonymous) {
    throw new AppError('unauthenticated', 'This key does not allow anonymous visitors.');
  }

  let user: ChatUserRow;
  let isNewUser = false;
  if (verifiedExternalId) {
    const existing = await db
      .select()
      .from(schema.chatUsers)
      .where(and(eq(schema.chatUsers.workspaceId, workspace.id), eq(schema.chatUsers.externalId, verifiedExternalId)))
      .limit(1);
    if (existing[0]) {
      if (existing[0].erasedAt) throw new AppError('forbidden', 'This user was erased.');
      const patch: Partial<ChatUserRow> = {};
      if (identity?.name !== undefined) patch.name = identity.name;
      if (identity?.email !== undefined) patch.email = identity.email;
      if (identity?.avatarUrl !== undefined) patch.avatarUrl = identity.avatarUrl;
      if (Object.keys(patch).length > 0) {
        const [updated] = await db
          .update(schema.chatUsers)
          .set({ ...patch, updatedAt: new Date() })
          .where(and(eq(schema.chatUsers.workspaceId, workspace.id), eq(schema.chatUsers.id, existing[0].id)))
          .returning();
        user = updated ?? existing[0];
      } else {
        user = existing[0];
      }
    } else {
      const [inserted] = await db
        .insert(schema.chatUsers)
        .values({
          workspaceId: workspace.id,
          externalId: verifiedExternalId,
          name: identity?.name ?? '',
          email: identity?.email ?? null,
          avatarUrl: identity?.avatarUrl ?? null,
        })
        .onConflictDoNothing()
        .returning();
      if (inserted) {
        user = inserted;
        isNewUser = true;
      } else {
        // Lost a race with a concurrent first session of the same user: use the row the winner wrote.
        const [row] = await db
          .select()
          .from(schema.chatUsers)
          .where(and(eq(schema.chatUsers.workspaceId, workspace.id), eq(schema.chatUsers.externalId, verifiedExternalId)))
          .limit(1);
        if (!row) throw new Error('chat user vanished during upsert');
        user = row;
      }
    }
  } else {
    const [inserted] = await db
      .insert(schema.chatUsers)
      .values({
        workspaceId: workspace.id,
        externalId: `anon_${randomToken(16)}`,
        // A claimed name is display text only; the claimed external id and email are never attached.
        name: identity?.name ?? 'Visitor',
        isAnonymous: true,
      })
      .returning();
    if (!inserted) throw new Error('chat user insert returned no row');
    user = inserted;
    isNewUser = true;
  }

  if (!isNewUser && (await findActiveBan({ db, workspaceId: workspace.id, chatUserId: user.id }))) {
    throw new AppError('user_banned');
  }

  const revokedUserIds: string[] = [];
  if (params.previousToken) {
    const previous = await authenticateWidgetSession({ db, token: params.previousToken });
    if (previous && previous.workspace.id === workspace.id && previous.user.id !== user.id) {
      const revoked = await revokeWidgetSessions({ db, workspaceId: workspace.id, sessionId: previous.session.id });
      revokedUserIds.push(...revoked.chatUserIds);
    }
  }

  const { token, session } = await createWidgetSession({
    db,
    workspaceId: workspace.id,
    chatUserId: user.id,
    origin: params.origin,
    ...(params.expiresInS !== undefined ? { expiresInS: params.expiresInS } : {}),
  });
  return { token, session, user, revokedUserIds, isNewUser };
}
