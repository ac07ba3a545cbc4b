import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema, sendPipelineFor } from '@reusable-chat/db';
import { backends, createTenant, createTestDatabase, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from './helpers.ts';

/**
 * The send path's group statements (context reads and write batches) are pipelined on a PostgreSQL
 * connection of their own (sendPipelineFor, packages/db/src/client.ts): two of each in flight, run by one
 * backend in the order sent. What must hold: many concurrent sends still get gapless seq per conversation, in
 * the order each sender sent them; the pipeline really is one connection; and closing the handle closes it.
 */
describe.each(backends)('send pipeline (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let call: ReturnType<typeof callAs>;
  const conversations: string[] = [];
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    call = callAs(stack.app, tenant);
    for (const id of ['ann', 'ben', 'cat']) await call('POST', '/api/v1/users', { external_id: id, name: id });
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'ann' }, { external_id: 'ben' }, { external_id: 'cat' }] });
      conversations.push(res.json().id as string);
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers with its own one-connection handle and two batches in flight on PostgreSQL, the handle itself elsewhere', async () => {
    const pipeline = sendPipelineFor(stack.db);
    if (backend === 'postgres') {
      expect(pipeline.db).not.toBe(stack.db);
      expect(pipeline.maxInFlight).toBe(2);
      // Concurrent statements on it all run on one backend.
      const pids = await Promise.all(Array.from({ length: 6 }, () => pipeline.db.execute(sql`select pg_backend_pid() as pid`)));
      expect(new Set(pids.map((r) => Number((r as unknown as { pid: number }[])[0]!.pid))).size).toBe(1);
    } else {
      expect(pipeline).toEqual({ db: stack.db, maxInFlight: 1 });
    }
    // A transaction writes through itself: its statements must stay inside it.
    await stack.db.transaction(async (tx) => {
      expect(sendPipelineFor(tx)).toEqual({ db: tx, maxInFlight: 1 });
    });
  });

  it('keeps seq gapless per conversation and in each sender’s order across concurrent batches', async () => {
    const senders = ['ann', 'ben', 'cat'];
    const perSender = 40;
    // Every sender sends its messages one after the other into every conversation, all senders and
    // conversations at once: the writer sees many overlapping batches.
    await Promise.all(
      conversations.flatMap((conversationId) =>
        senders.map(async (sender) => {
          for (let n = 0; n < perSender; n++) {
            const res = await call('POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: sender, content: `${sender} ${n}` });
            expect(res.statusCode).toBe(201);
          }
        }),
      ),
    );
    for (const conversationId of conversations) {
      const rows = await stack.db
        .select({ seq: schema.messages.seq, content: schema.messages.content })
        .from(schema.messages)
        .where(eq(schema.messages.conversationId, conversationId))
        .orderBy(schema.messages.seq);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: senders.length * perSender }, (_, i) => i + 1));
      for (const sender of senders) {
        const mine = rows.filter((r) => r.content.startsWith(`${sender} `)).map((r) => Number(r.content.split(' ')[1]));
        expect(mine).toEqual(Array.from({ length: perSender }, (_, i) => i));
      }
      const [conversation] = await stack.db.select().from(schema.conversations).where(eq(schema.conversations.id, conversationId));
      expect(conversation!.lastSeq).toBe(senders.length * perSender);
    }
  });
});

describe.each(backends.filter((b) => b === 'postgres'))('send pipeline connection lifetime (%s)', (backend) => {
  it('is opened by the first write and closed with the handle', async () => {
    const testDb = await createTestDatabase(backend);
    const monitor = postgres(testDb.url!, { max: 1, onnotice: () => undefined });
    try {
      const others = async () =>
        Number((await monitor`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`)[0]!.n);
      const pipeline = sendPipelineFor(testDb.handle.db);
      await testDb.handle.db.execute(sql`select 1`);
      const pid = ((await pipeline.db.execute(sql`select pg_backend_pid() as pid`)) as unknown as { pid: number }[])[0]!.pid;
      const open = await monitor`select count(*)::int as n from pg_stat_activity where pid = ${pid}`;
      expect(Number(open[0]!.n)).toBe(1);
      expect(await others()).toBeGreaterThanOrEqual(2);
      await testDb.handle.close();
      // pg_stat_activity lets go of a backend a moment after its client hung up.
      const deadline = Date.now() + 5_000;
      while ((await others()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await others()).toBe(0);
    } finally {
      await monitor.end({ timeout: 1 });
      await testDb.drop();
    }
  });
});
