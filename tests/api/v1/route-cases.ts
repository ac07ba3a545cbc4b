import { eq } from 'drizzle-orm';
import { createWidgetSession } from '@reusable-chat/core';
import { schema, type Database } from '@reusable-chat/db';
import type { TestStack, Tenant } from '@reusable-chat/testing';
import { callAs } from './helpers.ts';

/** Ids of one tenant's resources, created through the API (and the DB for webhook deliveries). */
export interface TenantIds {
  readonly workspaceId: string;
  readonly externalId: string;
  readonly externalId2: string;
  readonly userId: string;
  readonly conversationId: string;
  readonly messageId: string;
  readonly sessionId: string;
  readonly demoRoomId: string;
  readonly webhookId: string;
  readonly deliveryId: string;
  readonly exportId: string;
}

export async function seedTenant(stack: TestStack, tenant: Tenant, prefix: string): Promise<TenantIds> {
  const call = callAs(stack.app, tenant);
  const ok = async (res: Awaited<ReturnType<typeof call>>) => {
    if (res.statusCode >= 300) throw new Error(`seed failed: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const u1 = await ok(await call('POST', '/api/v1/users', { external_id: `${prefix}-u1`, name: `${prefix} one`, email: `${prefix}@example.com` }));
  await ok(await call('POST', '/api/v1/users', { external_id: `${prefix}-u2`, name: `${prefix} two` }));
  const conv = await ok(
    await call('POST', '/api/v1/conversations', {
      participants: [{ external_id: `${prefix}-u1` }, { external_id: `${prefix}-u2` }],
      subject: `${prefix}:subject`,
    }),
  );
  const msg = await ok(await call('POST', `/api/v1/conversations/${conv.id}/messages`, { sender_external_id: `${prefix}-u1`, content: `${prefix} hello` }));
  const { session } = await createWidgetSession({ db: stack.db, workspaceId: tenant.workspaceId, chatUserId: u1.id });
  const room = await ok(await call('POST', '/api/v1/demo/rooms', { name: `${prefix} room` }));
  const [endpoint] = await stack.db
    .insert(schema.webhookEndpoints)
    .values({ workspaceId: tenant.workspaceId, url: `https://${prefix}.example.com/hook`, events: ['message.created'], secret: `whsec_${prefix}` })
    .returning();
  const [delivery] = await stack.db
    .insert(schema.webhookDeliveries)
    .values({
      workspaceId: tenant.workspaceId,
      endpointId: endpoint!.id,
      eventId: `evt_${prefix}`,
      eventType: 'message.created',
      payload: { hello: prefix },
      status: 'dead',
    })
    .returning();
  const exportJob = await ok(await call('POST', '/api/v1/exports', { type: 'messages', format: 'jsonl' }));
  return {
    workspaceId: tenant.workspaceId,
    externalId: `${prefix}-u1`,
    externalId2: `${prefix}-u2`,
    userId: u1.id,
    conversationId: conv.id,
    messageId: msg.id,
    sessionId: session.id,
    demoRoomId: room.id,
    webhookId: endpoint!.id,
    deliveryId: delivery!.id,
    exportId: exportJob.id,
  };
}

export interface RouteCase {
  /** The URL with the given tenant's ids filled in. */
  readonly url: (ids: TenantIds) => string;
  /** A valid body for the route with those ids. */
  readonly body?: (ids: TenantIds) => unknown;
  /**
   * What A's key gets with B's ids: 404 for anything that names B's resources; for routes that name no
   * resource (create, workspace-wide lists) the call acts on A's own data (`own`), checked to leak nothing of B.
   */
  readonly crossTenant: 404 | 422 | 'own';
}

/**
 * One case per /api/v1 route. The isolation test fails when the router has a route that is missing here
 * (or the other way round), so every new route must state how it behaves with another tenant's ids.
 */
export const routeCases: Record<string, RouteCase> = {
  'POST /api/v1/users': { url: () => '/api/v1/users', body: (i) => ({ external_id: i.externalId, name: 'Renamed' }), crossTenant: 'own' },
  'GET /api/v1/users/:external_id': { url: (i) => `/api/v1/users/${i.externalId}`, crossTenant: 404 },
  'PATCH /api/v1/users/:external_id': { url: (i) => `/api/v1/users/${i.externalId}`, body: () => ({ name: 'Hijacked' }), crossTenant: 404 },
  'POST /api/v1/users/:external_id/erase': { url: (i) => `/api/v1/users/${i.externalId}/erase`, crossTenant: 404 },
  'GET /api/v1/users/:external_id/export': { url: (i) => `/api/v1/users/${i.externalId}/export`, crossTenant: 404 },
  'GET /api/v1/users/:external_id/unread': { url: (i) => `/api/v1/users/${i.externalId}/unread`, crossTenant: 404 },
  'GET /api/v1/users/:external_id/conversations': { url: (i) => `/api/v1/users/${i.externalId}/conversations`, crossTenant: 404 },
  'DELETE /api/v1/users/:external_id/sessions': { url: (i) => `/api/v1/users/${i.externalId}/sessions`, crossTenant: 404 },
  'POST /api/v1/sessions': { url: () => '/api/v1/sessions', body: (i) => ({ external_id: i.externalId }), crossTenant: 404 },
  'DELETE /api/v1/sessions/:id': { url: (i) => `/api/v1/sessions/${i.sessionId}`, crossTenant: 404 },
  'POST /api/v1/conversations': {
    url: () => '/api/v1/conversations',
    body: (i) => ({ participants: [{ external_id: i.externalId }], subject: 'x' }),
    crossTenant: 422, // B's users are unknown in A
  },
  'GET /api/v1/conversations': { url: (i) => `/api/v1/conversations?user=${i.externalId}`, crossTenant: 404 },
  'GET /api/v1/conversations/:id': { url: (i) => `/api/v1/conversations/${i.conversationId}`, crossTenant: 404 },
  'PATCH /api/v1/conversations/:id': { url: (i) => `/api/v1/conversations/${i.conversationId}`, body: () => ({ state: 'hijacked' }), crossTenant: 404 },
  'POST /api/v1/conversations/:id/participants': {
    url: (i) => `/api/v1/conversations/${i.conversationId}/participants`,
    body: (i) => ({ participants: [{ external_id: i.externalId2 }] }),
    crossTenant: 404,
  },
  'DELETE /api/v1/conversations/:id/participants/:external_id': {
    url: (i) => `/api/v1/conversations/${i.conversationId}/participants/${i.externalId2}`,
    crossTenant: 404,
  },
  'POST /api/v1/conversations/:id/messages': {
    url: (i) => `/api/v1/conversations/${i.conversationId}/messages`,
    body: (i) => ({ sender_external_id: i.externalId, content: 'injected' }),
    crossTenant: 404,
  },
  'GET /api/v1/conversations/:id/messages': { url: (i) => `/api/v1/conversations/${i.conversationId}/messages`, crossTenant: 404 },
  'POST /api/v1/bans': { url: () => '/api/v1/bans', body: (i) => ({ external_id: i.externalId2, reason: 'spam' }), crossTenant: 404 },
  'DELETE /api/v1/bans/:external_id': { url: (i) => `/api/v1/bans/${i.externalId2}`, crossTenant: 404 },
  'GET /api/v1/bans': { url: (i) => `/api/v1/bans?user=${i.externalId}`, crossTenant: 404 },
  'POST /api/v1/demo/rooms': { url: () => '/api/v1/demo/rooms', body: () => ({ name: 'Room' }), crossTenant: 'own' },
  'POST /api/v1/demo/rooms/:id/join': { url: (i) => `/api/v1/demo/rooms/${i.demoRoomId}/join`, body: () => ({ name: 'Joiner' }), crossTenant: 404 },
  'GET /api/v1/exports/conversations': { url: () => '/api/v1/exports/conversations?format=jsonl', crossTenant: 'own' },
  'GET /api/v1/exports/messages': { url: (i) => `/api/v1/exports/messages?conversation_id=${i.conversationId}`, crossTenant: 404 },
  // Background exports (G-01; owned by the worker module): another tenant's conversation or export id is 404.
  'POST /api/v1/exports': {
    url: () => '/api/v1/exports',
    body: (i) => ({ type: 'messages', format: 'csv', conversation_id: i.conversationId }),
    crossTenant: 404,
  },
  'GET /api/v1/exports/:id': { url: (i) => `/api/v1/exports/${i.exportId}`, crossTenant: 404 },
  // Webhook endpoints (owned by the webhooks module; listed here so isolation covers them too).
  'POST /api/v1/webhooks': {
    url: () => '/api/v1/webhooks',
    body: () => ({ url: 'https://hooks.example.com/in', events: ['message.created'] }),
    crossTenant: 'own',
  },
  'GET /api/v1/webhooks': { url: () => '/api/v1/webhooks', crossTenant: 'own' },
  'GET /api/v1/webhooks/:id': { url: (i) => `/api/v1/webhooks/${i.webhookId}`, crossTenant: 404 },
  'PATCH /api/v1/webhooks/:id': { url: (i) => `/api/v1/webhooks/${i.webhookId}`, body: () => ({ events: ['message.created'] }), crossTenant: 404 },
  'DELETE /api/v1/webhooks/:id': { url: (i) => `/api/v1/webhooks/${i.webhookId}`, crossTenant: 404 },
  'POST /api/v1/webhooks/:id/rotate-secret': { url: (i) => `/api/v1/webhooks/${i.webhookId}/rotate-secret`, body: () => ({}), crossTenant: 404 },
  'POST /api/v1/webhooks/:id/test': { url: (i) => `/api/v1/webhooks/${i.webhookId}/test`, crossTenant: 404 },
  'GET /api/v1/webhooks/:id/deliveries': { url: (i) => `/api/v1/webhooks/${i.webhookId}/deliveries`, crossTenant: 404 },
  'POST /api/v1/webhooks/:id/deliveries/:delivery_id/replay': {
    url: (i) => `/api/v1/webhooks/${i.webhookId}/deliveries/${i.deliveryId}/replay`,
    crossTenant: 404,
  },
};

const tenantTables = [
  schema.chatUsers,
  schema.widgetSessions,
  schema.conversations,
  schema.participants,
  schema.messages,
  schema.attachments,
  schema.reactions,
  schema.bans,
  schema.reports,
  schema.apiKeys,
  schema.widgetConfigs,
  schema.webhookEndpoints,
  schema.webhookDeliveries,
  schema.idempotencyKeys,
  schema.auditLog,
  schema.outbox,
  schema.exportJobs,
] as const;

/** Every row a workspace owns, as a comparable string (order-independent). */
export async function snapshotWorkspace(db: Database, workspaceId: string): Promise<string> {
  const parts: string[] = [];
  const [ws] = await db.select().from(schema.workspaces).where(eq(schema.workspaces.id, workspaceId));
  parts.push(JSON.stringify(ws));
  for (const table of tenantTables) {
    const rows = await db.select().from(table).where(eq(table.workspaceId, workspaceId));
    parts.push(rows.map((r) => JSON.stringify(r)).sort().join('\n'));
  }
  return parts.join('\n---\n');
}

/** Row counts of every tenant table across all workspaces ("nothing written"). */
export async function countAllRows(db: Database): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [i, table] of tenantTables.entries()) counts[String(i)] = (await db.select().from(table)).length;
  return counts;
}
