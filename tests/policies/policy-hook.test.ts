import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import {
  AppError,
  createConversation,
  createPolicyHook,
  createWorkspace,
  sendMessage,
  updateConversation,
  upsertUser,
  type ChatUser,
} from '@reusable-chat/core';
import { schema, type Database } from '@reusable-chat/db';
import { backends, createTestDatabase, type TestDatabase } from '@reusable-chat/testing';

/**
 * The adapter against a real database: the message pipeline (core sendMessage) with `createPolicyHook()` reads
 * the conversation's widget configuration, the sender's role and recent messages, on PGlite and PostgreSQL.
 */
describe.each(backends)('policy hook in the message pipeline (%s)', (backend) => {
  let testDb: TestDatabase;
  let db: Database;
  let workspaceId: string;
  let guest: ChatUser;
  let host: ChatUser;
  const policyHook = createPolicyHook();

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    const workspace = await createWorkspace({ db, name: 'Policy marketplace', kind: 'marketplace' });
    workspaceId = workspace.id;
    guest = (await upsertUser({ db, workspaceId, externalId: 'guest-1', fields: { name: 'Guest' } })).user;
    host = (await upsertUser({ db, workspaceId, externalId: 'host-1', fields: { name: 'Host' } })).user;
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  async function newConversation(widgetSlug?: string) {
    const { conversation } = await createConversation({
      db,
      workspaceId,
      ...(widgetSlug ? { widgetSlug } : {}),
      participants: [
        { user: guest, role: 'guest' },
        { user: host, role: 'host' },
      ],
      state: 'inquiry',
    });
    return conversation;
  }

  const send = (conversationId: string, content: string, sender: ChatUser | 'system' = guest) =>
    sendMessage({
      db,
      workspaceId,
      conversationId,
      sender: sender === 'system' ? { type: 'system' } : { type: 'user', chatUserId: sender.id },
      content,
      policyHook,
    });

  async function rejectionOf(promise: Promise<unknown>): Promise<AppError> {
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }

  it('masks contact details in guest-host until the conversation is booked, keeping the original', async () => {
    const conversation = await newConversation('guest-host');
    const masked = await send(conversation.id, 'Text me on 555 123 4567 or jane at gmail dot com');
    expect(masked.json.content).toBe('Text me on [phone hidden] or [email hidden]');
    expect(masked.message.originalContent).toBe('Text me on 555 123 4567 or jane at gmail dot com');
    expect(masked.message.masked).toEqual({ rules: ['contact_info'], kinds: ['email', 'phone'], count: 2 });

    await updateConversation({ db, workspaceId, conversationId: conversation.id, changes: { state: 'booked' } });
    const open = await send(conversation.id, 'Booked! My number is 555 123 4567', host);
    expect(open.message.content).toBe('Booked! My number is 555 123 4567');
    expect(open.message.masked).toBeNull();
    expect(open.message.originalContent).toBeNull();
  });

  it('lets system messages through unmasked and leaves the support configuration alone', async () => {
    const guestHost = await newConversation('guest-host');
    const system = await send(guestHost.id, 'Host phone: +44 20 7946 0958', 'system');
    expect(system.message.content).toBe('Host phone: +44 20 7946 0958');
    const { conversation: support } = await createConversation({
      db,
      workspaceId,
      widgetSlug: 'support',
      participants: [{ user: guest, role: 'customer' }],
    });
    const plain = await send(support.id, 'my email is jane@gmail.com');
    expect(plain.message.content).toBe('my email is jane@gmail.com');
  });

  it('follows the first configuration when a conversation has none (marketplace → guest-host)', async () => {
    const { conversation } = await createConversation({ db, workspaceId, participants: [{ user: guest, role: 'guest' }] });
    expect(conversation.widgetConfigId).toBeNull();
    const r = await send(conversation.id, 'www.my-villa.com');
    expect(r.message.content).toBe('[link hidden]');
  });

  it('refuses a repeated message inside the duplicate window, with details', async () => {
    // Off in the shipped configurations (a repeated "ok" is normal chat); a tenant turns it on per configuration.
    await db
      .update(schema.widgetConfigs)
      .set({ policies: { duplicate_window_s: 30 } })
      .where(and(eq(schema.widgetConfigs.workspaceId, workspaceId), eq(schema.widgetConfigs.slug, 'support')));
    const { conversation } = await createConversation({
      db,
      workspaceId,
      widgetSlug: 'support',
      participants: [
        { user: guest, role: 'customer' },
        { user: host, role: 'agent' },
      ],
    });
    await send(conversation.id, 'Is the flat free in May?');
    const err = await rejectionOf(send(conversation.id, 'is the flat free in may?'));
    expect(err.code).toBe('policy_rejected');
    expect(err.details).toEqual({ rule: 'duplicate', duplicate_window_s: 30 });
    // Another sender may say the same thing.
    const other = await send(conversation.id, 'Is the flat free in May?', host);
    expect(other.created).toBe(true);
  });

  it('refuses too many links with the limit in the details', async () => {
    const conversation = await newConversation('guest-host');
    const err = await rejectionOf(send(conversation.id, 'ab.com bc.com cd.com de.com'));
    expect(err.status).toBe(422);
    expect(err.details).toEqual({ rule: 'max_links', max_links: 3, links: 4 });
  });

  it('puts flagged messages in the moderation queue and honours exempt roles from the database', async () => {
    const [config] = await db
      .select()
      .from(schema.widgetConfigs)
      .where(and(eq(schema.widgetConfigs.workspaceId, workspaceId), eq(schema.widgetConfigs.slug, 'guest-host')));
    await db
      .update(schema.widgetConfigs)
      .set({
        policies: {
          ...config!.policies,
          blocked_terms: { terms: ['western union'], action: 'flag' },
          contact_info: { action: 'mask', allowed_states: ['booked'], exempt_roles: ['host'] },
        },
      })
      .where(eq(schema.widgetConfigs.id, config!.id));
    const conversation = await newConversation('guest-host');

    const flagged = await send(conversation.id, 'Can I pay by Western  Union?');
    expect(flagged.message.content).toBe('Can I pay by Western  Union?');
    expect(flagged.message.isFlagged).toBe(true);
    const reports = await db.select().from(schema.reports).where(eq(schema.reports.messageId, flagged.message.id));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ source: 'flag', reason: 'blocked_terms', status: 'open' });

    const fromHost = await send(conversation.id, 'call 555 123 4567', host);
    expect(fromHost.message.content).toBe('call 555 123 4567');
    const fromGuest = await send(conversation.id, 'call 555 123 4567');
    expect(fromGuest.message.content).toBe('call [phone hidden]');
  });
});
