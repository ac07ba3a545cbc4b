import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, sendMessage, type DomainEvent, type MessagePolicyHook } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from './helpers.ts';

/**
 * The shared message pipeline (core/messages/send-message.ts) with policy hooks written for the test:
 * mask, flag, reject and veto-by-throwing, plus attachments and closed conversations.
 */
describe.each(backends)('message pipeline (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let conversationId: string;
  let annId: string;
  let benId: string;
  const events: DomainEvent[] = [];
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    const call = callAs(stack.app, tenant);
    annId = (await call('POST', '/api/v1/users', { external_id: 'ann', name: 'Ann' })).json().id;
    benId = (await call('POST', '/api/v1/users', { external_id: 'ben', name: 'Ben' })).json().id;
    conversationId = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'ann' }, { external_id: 'ben' }] })).json().id;
    stack.deps.events.subscribe((e) => {
      events.push(e);
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const base = () => ({ db: stack.db, events: stack.deps.events, workspaceId: tenant.workspaceId, conversationId });
  const lastSeq = async () =>
    (await stack.db.select().from(schema.conversations).where(eq(schema.conversations.id, conversationId)))[0]!.lastSeq;

  it('stores what the hook returns, records what was masked, and never exposes the original text', async () => {
    const mask: MessagePolicyHook = async (ctx) => ({
      content: ctx.content.replace(/\S+@\S+/g, '[email hidden]'),
      masked: { rules: ['contact_info'], kinds: ['email'], count: 1 },
    });
    const { json, message } = await sendMessage({ ...base(), sender: { type: 'user', chatUserId: annId }, content: 'mail me at a@b.co', policyHook: mask });
    expect(json.content).toBe('mail me at [email hidden]');
    expect(json.masked).toEqual({ rules: ['contact_info'], kinds: ['email'], count: 1 });
    expect(JSON.stringify(json)).not.toContain('a@b.co');
    expect(message.originalContent).toBe('mail me at a@b.co');
  });

  it('flags into the moderation queue and emits report.created', async () => {
    events.length = 0;
    const flag: MessagePolicyHook = async (ctx) => ({ content: ctx.content, flagged: { reason: 'blocked_term' } });
    const { message } = await sendMessage({ ...base(), sender: { type: 'user', chatUserId: benId }, content: 'suspicious', policyHook: flag });
    expect(message.isFlagged).toBe(true);
    const reports = await stack.db.select().from(schema.reports).where(eq(schema.reports.messageId, message.id));
    expect(reports).toMatchObject([{ source: 'flag', reason: 'blocked_term', status: 'open' }]);
    expect(events.map((e) => e.type)).toEqual(['message.created', 'report.created']);
  });

  it('rejects (422 policy_rejected) or vetoes by throwing, without consuming a seq or emitting', async () => {
    const before = await lastSeq();
    events.length = 0;
    const reject: MessagePolicyHook = async () => ({ content: '', rejected: { rule: 'max_links', message: 'Too many links.' } });
    const err = await sendMessage({ ...base(), sender: { type: 'user', chatUserId: annId }, content: 'x', policyHook: reject }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('policy_rejected');
    expect((err as AppError).details).toEqual({ rule: 'max_links' });
    const veto: MessagePolicyHook = async () => {
      throw new AppError('rate_limited', undefined, undefined, 7);
    };
    const err2 = await sendMessage({ ...base(), sender: { type: 'user', chatUserId: annId }, content: 'x', policyHook: veto }).catch((e: unknown) => e);
    expect((err2 as AppError).retryAfterS).toBe(7);
    expect(await lastSeq()).toBe(before);
    expect(events).toEqual([]);
  });

  it('links the sender’s own uploads and refuses anyone else’s, rolling the seq back', async () => {
    const upload = async (uploader: string) =>
      (
        await stack.db
          .insert(schema.attachments)
          .values({
            workspaceId: tenant.workspaceId,
            uploaderUserId: uploader,
            storageKey: `workspaces/${tenant.workspaceId}/attachments/x.png`,
            contentType: 'image/png',
            extension: 'png',
            sizeBytes: 10,
            originalName: 'x.png',
          })
          .returning()
      )[0]!;
    const mine = await upload(annId);
    const { json } = await sendMessage({ ...base(), sender: { type: 'user', chatUserId: annId }, content: '', attachmentIds: [mine.id] });
    expect(json.type).toBe('attachment');
    expect(json.attachments).toEqual([expect.objectContaining({ id: mine.id, content_type: 'image/png' })]);
    const before = await lastSeq();
    const theirs = await upload(benId);
    const err = await sendMessage({ ...base(), sender: { type: 'user', chatUserId: annId }, content: 'x', attachmentIds: [theirs.id] }).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('validation_failed');
    expect(await lastSeq()).toBe(before);
    const reused = await sendMessage({ ...base(), sender: { type: 'user', chatUserId: annId }, content: 'x', attachmentIds: [mine.id] }).catch((e: unknown) => e);
    expect((reused as AppError).code).toBe('validation_failed');
  });

  it('refuses users in a closed conversation but lets the system post', async () => {
    const call = callAs(stack.app, tenant);
    await call('PATCH', `/api/v1/conversations/${conversationId}`, { status: 'closed' });
    const res = await call('POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: 'ann', content: 'hello?' });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('conversation_closed');
    const sys = await call('POST', `/api/v1/conversations/${conversationId}/messages`, { system: true, content: 'Conversation closed' });
    expect(sys.statusCode).toBe(201);
    const empty = await call('POST', `/api/v1/conversations/${conversationId}/messages`, { system: true, content: '' });
    expect(empty.statusCode).toBe(422);
    await call('PATCH', `/api/v1/conversations/${conversationId}`, { status: 'open' });
  });
});
