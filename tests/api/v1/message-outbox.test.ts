import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_TOPICS } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant } from '@reusable-chat/testing';
import { callAs, useTenantStack } from './helpers.ts';

/**
 * The send path writes a message's webhook outbox row only when its workspace has an enabled webhook
 * endpoint, decided in the same statement that stores the message — for a lone send and for a group-committed
 * batch alike. Without an endpoint there is nothing to deliver, so no relay, job or endpoint lookup follows.
 * A batch leaves the payload out for a workspace its writer last saw without endpoint: the burst right after
 * the endpoint is created is such a batch, and must still get its rows (the statement fails, each send is
 * written alone with its payload). The message.created event says which it was, so the in-process relay is woken
 * only when there is a row to relay (at saturation it was woken for every batch, to find nothing).
 */
describe.each(backends)('message outbox rows follow the workspace’s webhook endpoints (%s)', (backend) => {
  const ctx = useTenantStack(backend);
  let conversationId: string;
  /** recordedInOutbox of every message.created event of this workspace, by seq. */
  const recorded = new Map<number, string | undefined>();
  beforeAll(async () => {
    ctx.stack.deps.events.subscribe((event) => {
      if (event.type === 'message.created' && event.workspaceId === ctx.tenant.workspaceId) {
        recorded.set(event.message.seq as number, event.recordedInOutbox);
      }
    });
    await ctx.call('POST', '/api/v1/users', { external_id: 'alice', name: 'Alice' });
    await ctx.call('POST', '/api/v1/users', { external_id: 'bob', name: 'Bob' });
    conversationId = (await ctx.call('POST', '/api/v1/conversations', { participants: [{ external_id: 'alice' }, { external_id: 'bob' }] })).json().id;
  });

  /** Outbox rows of this workspace carrying message.created, by message seq (dispatched or not). */
  const outboxSeqs = async (): Promise<number[]> => {
    const rows = await ctx.stack.db
      .select({ payload: schema.outbox.payload })
      .from(schema.outbox)
      .where(and(eq(schema.outbox.workspaceId, ctx.tenant.workspaceId), eq(schema.outbox.topic, OUTBOX_TOPICS.webhookEvent)));
    return rows
      .map((r) => (r.payload as { event?: { type?: string; data?: { message?: { seq?: number } } } }).event)
      .filter((e) => e?.type === 'message.created')
      .map((e) => e!.data!.message!.seq!)
      .sort((a, b) => a - b);
  };

  /** One lone send, then six at once (they share group-committed statements). */
  const sendRound = async (label: string): Promise<number[]> => {
    const url = `/api/v1/conversations/${conversationId}/messages`;
    const lone = await ctx.call('POST', url, { sender_external_id: 'alice', content: `${label} lone` });
    expect(lone.statusCode).toBe(201);
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, i) => ctx.call('POST', url, { sender_external_id: i % 2 ? 'alice' : 'bob', content: `${label} ${i}` })),
    );
    expect(burst.map((r) => r.statusCode)).toEqual(Array(6).fill(201));
    return [lone, ...burst].map((r) => r.json().seq as number).sort((a, b) => a - b);
  };

  it('writes no outbox row while the workspace has no endpoint', async () => {
    const seqs = await sendRound('before');
    expect(seqs).toHaveLength(7);
    expect(await outboxSeqs()).toEqual([]);
    expect(seqs.map((seq) => recorded.get(seq))).toEqual(Array(7).fill('none'));
  });

  it('writes one row per message, with its seq, once an endpoint is enabled; none again after it is deleted', async () => {
    const created = await ctx.call('POST', '/api/v1/webhooks', { url: 'https://hooks.example.com/chat', events: ['message.created'] });
    expect(created.statusCode).toBe(201);
    const seqs = await sendRound('with endpoint');
    expect(await outboxSeqs()).toEqual(seqs);
    expect(seqs.map((seq) => recorded.get(seq))).toEqual(Array(7).fill('written'));

    expect((await ctx.call('DELETE', `/api/v1/webhooks/${created.json().id as string}`)).statusCode).toBe(204);
    const after = await sendRound('after delete');
    expect(await outboxSeqs()).toEqual(seqs);
    expect(after.map((seq) => recorded.get(seq))).toEqual(Array(7).fill('none'));
  });

  it('another workspace’s endpoint does not make this workspace write rows', async () => {
    const other = await createTenant(ctx.stack.db);
    const otherCall = callAs(ctx.stack.app, other);
    expect((await otherCall('POST', '/api/v1/webhooks', { url: 'https://hooks.example.com/other', events: ['message.created'] })).statusCode).toBe(201);
    const before = await outboxSeqs();
    await sendRound('other tenant has one');
    expect(await outboxSeqs()).toEqual(before);
  });
});
