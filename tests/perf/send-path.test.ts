import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from '../api/v1/helpers.ts';

/**
 * The send path reads the sender, participation, ban, blockers and the widget policies in one query
 * (messages/send-message.ts). Nothing of it is cached: a change applies to the very next message.
 */
describe.each(backends)('send path freshness (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let call: ReturnType<typeof callAs>;
  let conversationId: string;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    call = callAs(stack.app, tenant);
    for (const external_id of ['guest', 'host']) expect((await call('POST', '/api/v1/users', { external_id, name: external_id })).statusCode).toBe(201);
    const created = await call('POST', '/api/v1/conversations', {
      widget: 'guest-host',
      participants: [
        { external_id: 'guest', role: 'guest' },
        { external_id: 'host', role: 'host' },
      ],
    });
    expect(created.statusCode).toBe(201);
    conversationId = created.json().id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const post = (sender: string, content: string) =>
    call('POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: sender, content });

  it('applies a changed widget configuration to the next message', async () => {
    expect((await post('guest', 'Is the flat free in May?')).statusCode).toBe(201);
    expect((await post('guest', 'Is the flat free in May?')).statusCode).toBe(201);
    const [config] = await stack.db
      .select()
      .from(schema.widgetConfigs)
      .where(and(eq(schema.widgetConfigs.workspaceId, tenant.workspaceId), eq(schema.widgetConfigs.slug, 'guest-host')));
    await stack.db
      .update(schema.widgetConfigs)
      .set({ policies: { ...config!.policies, duplicate_window_s: 30 } })
      .where(eq(schema.widgetConfigs.id, config!.id));
    const refused = await post('guest', 'Is the flat free in May?');
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error).toMatchObject({ code: 'policy_rejected', details: { rule: 'duplicate' } });
    await stack.db.update(schema.widgetConfigs).set({ policies: config!.policies }).where(eq(schema.widgetConfigs.id, config!.id));
    expect((await post('guest', 'Is the flat free in May?')).statusCode).toBe(201);
  });

  it('hides a message from users who blocked the sender, from the next message on', async () => {
    const seen: { hiddenFromUserIds?: readonly string[] }[] = [];
    const unsubscribe = stack.deps.events.subscribe((e) => {
      if (e.type === 'message.created' && e.conversationId === conversationId) seen.push(e);
    });
    expect((await post('guest', 'before the block')).statusCode).toBe(201);
    const [host] = await stack.db
      .select()
      .from(schema.chatUsers)
      .where(and(eq(schema.chatUsers.workspaceId, tenant.workspaceId), eq(schema.chatUsers.externalId, 'host')));
    const [guest] = await stack.db
      .select()
      .from(schema.chatUsers)
      .where(and(eq(schema.chatUsers.workspaceId, tenant.workspaceId), eq(schema.chatUsers.externalId, 'guest')));
    await stack.db.insert(schema.blocks).values({ workspaceId: tenant.workspaceId, blockerUserId: host!.id, blockedUserId: guest!.id });
    expect((await post('guest', 'after the block')).statusCode).toBe(201);
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[0]!.hiddenFromUserIds).toBeUndefined();
    expect(seen[1]!.hiddenFromUserIds).toEqual([host!.id]);
    unsubscribe();
  });
});
