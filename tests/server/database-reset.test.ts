import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startStack, TEST_DATABASE_URL, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from '../api/v1/helpers.ts';

/**
 * PostgreSQL ends every connection while sends are in flight (a restart, a failover, an operator's
 * pg_terminate_backend): the sends in flight fail, and the next ones must succeed on new connections.
 * postgres.js 3.4.9 kept the failed query as its connection's current one after a connection error, so every
 * later query on that connection queued behind it and never ran: the send path's one pipelined connection hung
 * all sends for good (seen in about half of the runs here). patches/postgres+3.4.9.patch clears it (as upstream
 * pull request porsager/postgres#1142 proposes), applied by patch-package on install.
 */
if (TEST_DATABASE_URL) {
  describe('sends after PostgreSQL dropped every connection (postgres)', () => {
    let stack: TestStack;
    let tenant: Tenant;
    let conversationId: string;
    let call: ReturnType<typeof callAs>;
    beforeAll(async () => {
      stack = await startStack({ backend: 'postgres' });
      tenant = await createTenant(stack.db);
      call = callAs(stack.app, tenant);
      // Well above what the loops send, so that every answer is about the database, not the key's limit.
      await stack.db.execute(sql`update api_keys set rate_limit_per_minute = 10000000`);
      for (const id of ['ann', 'ben']) await call('POST', '/api/v1/users', { external_id: id, name: id });
      conversationId = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'ann' }, { external_id: 'ben' }] })).json().id as string;
    });
    afterAll(async () => {
      await stack?.close();
    });

    it('fails the sends caught in the cut, and serves the next ones on new connections', async () => {
      const url = `/api/v1/conversations/${conversationId}/messages`;
      let cut = false;
      let stop = false;
      let createdAfterCut = 0;
      const statuses = new Set<number>();
      const loops = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const res = await call('POST', url, { sender_external_id: 'ann', content: 'through the cut' });
          statuses.add(res.statusCode);
          if (cut && res.statusCode === 201) createdAfterCut += 1;
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 300));

      const admin = postgres(stack.testDb.url!, { max: 1, onnotice: () => undefined });
      try {
        const ended = await admin`select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()`;
        expect(ended.length).toBeGreaterThanOrEqual(2); // the pool's connection(s) and the send pipeline's
      } finally {
        await admin.end({ timeout: 5 });
      }
      cut = true;

      // Sends go on: a good number succeed after the cut (each loop sends one at a time).
      const deadline = Date.now() + 10_000;
      while (createdAfterCut < 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      stop = true;
      // Every request in flight answers: none hangs on a dead connection.
      const settled = await Promise.race([Promise.all(loops).then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000))]);
      expect(settled).toBe(true);
      expect(createdAfterCut).toBeGreaterThanOrEqual(200);
      // What the cut caught is an error answer, never a 2xx for a message that was not stored.
      for (const status of statuses) expect([201, 500, 503]).toContain(status);

      // The conversation's seq stayed gapless through the cut: every stored message has its own number.
      const [row] = (await stack.db.execute(sql`select count(*)::int as n, max(seq)::int as top, count(distinct seq)::int as distinct_seq
        from messages where conversation_id = ${conversationId}`)) as unknown as { n: number; top: number; distinct_seq: number }[];
      expect(row!.n).toBe(row!.top);
      expect(row!.distinct_seq).toBe(row!.n);
    }, 40_000);
  });
}
