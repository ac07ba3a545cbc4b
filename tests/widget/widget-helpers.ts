import type { FastifyInstance } from 'fastify';
import { createHmac } from 'node:crypto';
import { createConversation, createPublicKey, type PublicKeyRow } from '@reusable-chat/core';
import { schema, type Database } from '@reusable-chat/db';
import { and, eq } from 'drizzle-orm';
import { createTenant, type Tenant } from '@reusable-chat/testing';

export const ORIGIN_A = 'https://shop-a.example';
export const ORIGIN_B = 'https://shop-b.example';

export interface WidgetTenant extends Tenant {
  readonly publicKey: PublicKeyRow;
  readonly origin: string;
}

export async function createWidgetTenant(
  db: Database,
  origin: string,
  options: {
    kind?: 'single_app' | 'marketplace';
    requireIdentityVerification?: boolean;
    allowAnonymous?: boolean;
    /** Merged into every configuration's `rate_limits`; tests send faster than people, so the default is roomy. */
    rateLimits?: Record<string, number>;
  } = {},
): Promise<WidgetTenant> {
  const tenant = await createTenant(db, { kind: options.kind ?? 'marketplace', name: `Tenant ${origin}` });
  const rateLimits = options.rateLimits ?? { per_session_per_minute: 10_000 };
  for (const config of await db.select().from(schema.widgetConfigs).where(eq(schema.widgetConfigs.workspaceId, tenant.workspaceId))) {
    await db
      .update(schema.widgetConfigs)
      .set({ policies: { ...config.policies, rate_limits: rateLimits } })
      .where(eq(schema.widgetConfigs.id, config.id));
  }
  const publicKey = await createPublicKey({
    db,
    workspaceId: tenant.workspaceId,
    allowedOrigins: [origin],
    ...(options.requireIdentityVerification !== undefined ? { requireIdentityVerification: options.requireIdentityVerification } : {}),
    ...(options.allowAnonymous !== undefined ? { allowAnonymous: options.allowAnonymous } : {}),
  });
  return { ...tenant, publicKey, origin };
}

export function userHash(identitySecret: string, externalId: string): string {
  return createHmac('sha256', identitySecret).update(externalId).digest('hex');
}

export interface WidgetSession {
  readonly token: string;
  readonly userId: string;
  readonly externalId: string;
}

/** A session minted the way a page does it: POST /api/embed/session from an allowed origin. */
export async function mintSession(
  app: FastifyInstance,
  tenant: WidgetTenant,
  externalId?: string,
  name?: string,
): Promise<WidgetSession> {
  const payload: Record<string, unknown> = { public_key: tenant.publicKey.key };
  if (externalId) payload.user = { external_id: externalId, user_hash: userHash(tenant.identitySecret, externalId), ...(name ? { name } : {}) };
  const res = await app.inject({ method: 'POST', url: '/api/embed/session', headers: { origin: tenant.origin }, payload });
  if (res.statusCode !== 201) throw new Error(`session mint failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return { token: body.token, userId: body.user.id, externalId: body.user.external_id };
}

export function bearer(session: WidgetSession, origin?: string): Record<string, string> {
  return { authorization: `Bearer ${session.token}`, ...(origin ? { origin } : {}) };
}

/** A conversation between existing users, created through core like the consumer API does. */
export async function seedConversation(
  db: Database,
  tenant: WidgetTenant,
  members: { userId: string; role: string }[],
  widgetSlug = 'guest-host',
): Promise<string> {
  const users = await Promise.all(
    members.map(async (m) => {
      const [u] = await db.select().from(schema.chatUsers).where(and(eq(schema.chatUsers.workspaceId, tenant.workspaceId), eq(schema.chatUsers.id, m.userId)));
      return { user: u!, role: m.role };
    }),
  );
  const { conversation } = await createConversation({ db, workspaceId: tenant.workspaceId, widgetSlug, participants: users });
  return conversation.id;
}

/** A multipart/form-data body with one file part, as a browser's FormData would send it. */
export function multipartFile(
  data: Buffer,
  options: { field?: string; filename?: string; contentType?: string } = {},
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----rc${Math.random().toString(16).slice(2)}`;
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="${options.field ?? 'file'}"; filename="${options.filename ?? 'file.bin'}"\r\n` +
    `Content-Type: ${options.contentType ?? 'application/octet-stream'}\r\n\r\n`;
  return {
    payload: Buffer.concat([Buffer.from(head, 'utf8'), data, Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8')]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** Counts of every table a widget mutation could touch: "no state change" is these staying equal. */
export async function mutableRowCounts(db: Database): Promise<Record<string, number>> {
  const tables = {
    messages: schema.messages,
    reactions: schema.reactions,
    reports: schema.reports,
    blocks: schema.blocks,
    attachments: schema.attachments,
    conversations: schema.conversations,
    participants: schema.participants,
  } as const;
  const out: Record<string, number> = {};
  for (const [name, table] of Object.entries(tables)) {
    out[name] = (await db.select().from(table)).length;
  }
  const active = await db.select().from(schema.participants);
  out.left = active.filter((p) => p.leftAt !== null).length;
  out.read = active.reduce((n, p) => n + p.lastReadSeq, 0);
  const msgs = await db.select().from(schema.messages);
  out.edited = msgs.filter((m) => m.editedAt !== null || m.deletedAt !== null).length;
  return out;
}
