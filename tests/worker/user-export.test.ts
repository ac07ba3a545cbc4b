import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';

/**
 * Per-user export (checklist G-01, G-02, T-17): `GET /api/v1/users/{external_id}/export` returns the person's own
 * data as JSON — profile, memberships, the messages they sent — and nothing that belongs to someone else: another
 * participant's messages and profile, agents' internal notes, or a same-named user of another workspace.
 */
describe.each(backends)('per-user export keeps others out (%s)', (backend) => {
  let stack: TestStack;
  let a: Tenant;
  let b: Tenant;

  const api = (tenant: Tenant, method: 'GET' | 'POST', url: string, payload?: unknown) =>
    stack.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });

  async function world(tenant: Tenant, marker: string) {
    for (const [id, name, email] of [
      ['eve', `Eve ${marker}`, `eve-${marker}@example.test`],
      ['tom', `Tom ${marker}`, `tom-${marker}@example.test`],
    ] as const) {
      expect((await api(tenant, 'POST', '/api/v1/users', { external_id: id, name, email, metadata: { marker } })).statusCode).toBe(201);
    }
    const conv = await api(tenant, 'POST', '/api/v1/conversations', { participants: [{ external_id: 'eve' }, { external_id: 'tom' }] });
    expect(conv.statusCode, conv.body).toBe(201);
    const conversationId = conv.json().id as string;
    for (const [sender, content] of [
      ['eve', `eve writes ${marker}`],
      ['tom', `tom's private reply ${marker}`],
    ] as const) {
      expect((await api(tenant, 'POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: sender, content })).statusCode).toBe(201);
    }
    // An agent's internal note about Eve in her conversation (notes are never shown to chat users).
    const [conversation] = await stack.db.select().from(schema.conversations).where(eq(schema.conversations.id, conversationId));
    await stack.db.insert(schema.messages).values({
      workspaceId: tenant.workspaceId,
      conversationId,
      seq: conversation!.lastSeq + 1,
      senderType: 'agent',
      content: `internal note about eve ${marker}`,
      isInternal: true,
    });
    await stack.db
      .update(schema.conversations)
      .set({ lastSeq: conversation!.lastSeq + 1 })
      .where(and(eq(schema.conversations.workspaceId, tenant.workspaceId), eq(schema.conversations.id, conversationId)));
    return conversationId;
  }

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createTenant(stack.db);
    b = await createTenant(stack.db);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('contains Eve’s own data only: no third-party message or profile, no internal note, nothing of another workspace', async () => {
    const conversationId = await world(a, 'A');
    await world(b, 'B');
    const res = await api(a, 'GET', '/api/v1/users/eve/export');
    expect(res.statusCode, res.body).toBe(200);
    const data = res.json() as { user: Record<string, unknown>; conversations: { id: string }[]; messages: { content: string }[] };
    expect(data.user).toMatchObject({ external_id: 'eve', name: 'Eve A', email: 'eve-A@example.test', metadata: { marker: 'A' } });
    expect(data.conversations.map((c) => c.id)).toEqual([conversationId]);
    expect(data.messages.map((m) => m.content)).toEqual(['eve writes A']);
    // Not anywhere in the document, under any key (G-02: others' rights; T-17: the other workspace).
    for (const foreign of ['Tom A', 'tom-A@example.test', "tom's private reply A", 'internal note about eve A', 'B@example.test', 'writes B', 'Eve B']) {
      expect(res.body, foreign).not.toContain(foreign);
    }
    const [audit] = await stack.db
      .select()
      .from(schema.auditLog)
      .where(and(eq(schema.auditLog.workspaceId, a.workspaceId), eq(schema.auditLog.action, 'user.exported')));
    expect(audit).toMatchObject({ targetType: 'chat_user', metadata: { messages: 1 } });
    expect(JSON.stringify(audit!.metadata)).not.toContain('eve');
  });
});
