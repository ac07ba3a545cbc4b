import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMessage } from '@reusable-chat/core';
import { createDatabase, schema, type DatabaseHandle } from '@reusable-chat/db';
import { backends } from '@reusable-chat/testing';
import { useTenantStack } from './helpers.ts';

const CONVERSATIONS = 12;
const PER_NODE_PER_CONVERSATION = 10;

/**
 * F-20 across processes: two database handles stand for two server nodes, each group-committing its own
 * sends (one batch statement in flight per handle). Their batches share every conversation and list them in
 * opposite orders; seq must still come out gapless per conversation and every send must succeed.
 * PostgreSQL only: PGlite is one connection in one process.
 */
describe.each(backends.filter((b) => b === 'postgres'))('sends from two nodes into the same conversations (%s)', (backend) => {
  const ctx = useTenantStack(backend);
  const nodes: DatabaseHandle[] = [];
  const conversations: { id: string; senders: string[] }[] = [];
  beforeAll(async () => {
    for (let i = 0; i < CONVERSATIONS; i++) {
      for (const side of ['a', 'b']) expect((await ctx.call('POST', '/api/v1/users', { external_id: `x-${side}-${i}`, name: `${side} ${i}` })).statusCode).toBeLessThan(300);
      const created = await ctx.call('POST', '/api/v1/conversations', { participants: [{ external_id: `x-a-${i}` }, { external_id: `x-b-${i}` }] });
      expect(created.statusCode).toBe(201);
      const members = await ctx.stack.db
        .select({ id: schema.participants.chatUserId })
        .from(schema.participants)
        .where(eq(schema.participants.conversationId, created.json().id as string));
      conversations.push({ id: created.json().id as string, senders: members.map((m) => m.id) });
    }
    for (let n = 0; n < 2; n++) nodes.push(await createDatabase({ kind: 'postgres', url: ctx.stack.testDb.url!, maxConnections: 4 }));
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
  });

  it('gives gapless seq 1..n per conversation while both nodes’ batches hold the same conversations', async () => {
    const sends: Promise<unknown>[] = [];
    for (let round = 0; round < PER_NODE_PER_CONVERSATION; round++) {
      nodes.forEach((node, n) => {
        const order = n === 0 ? conversations : [...conversations].reverse();
        for (const c of order) {
          sends.push(
            sendMessage({
              db: node.db,
              workspaceId: ctx.tenant.workspaceId,
              conversationId: c.id,
              sender: { type: 'user', chatUserId: c.senders[(round + n) % 2]! },
              content: `node ${n} round ${round}`,
              clientId: `n${n}-r${round}-${c.id}`,
            }),
          );
        }
      });
    }
    const results = await Promise.allSettled(sends);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

    const rows = await ctx.stack.db
      .select({ conversationId: schema.messages.conversationId, seq: schema.messages.seq })
      .from(schema.messages)
      .where(inArray(schema.messages.conversationId, conversations.map((c) => c.id)));
    const expected = Array.from({ length: 2 * PER_NODE_PER_CONVERSATION }, (_, i) => i + 1);
    for (const c of conversations) {
      expect(rows.filter((r) => r.conversationId === c.id).map((r) => r.seq).sort((x, y) => x - y)).toEqual(expected);
    }
    const convRows = await ctx.stack.db
      .select({ lastSeq: schema.conversations.lastSeq })
      .from(schema.conversations)
      .where(inArray(schema.conversations.id, conversations.map((c) => c.id)));
    expect(convRows.map((r) => r.lastSeq)).toEqual(Array(CONVERSATIONS).fill(2 * PER_NODE_PER_CONVERSATION));
  });
});
