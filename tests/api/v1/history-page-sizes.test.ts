import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { listMessagesJson } from '@reusable-chat/core';
import { schema, type Database } from '@reusable-chat/db';
import { backends } from '@reusable-chat/testing';
import { useTenantStack } from './helpers.ts';

/**
 * The history statement's row limit is written into its text from a few sizes (pageRowLimit in
 * list-messages.ts) and the rows past the page are dropped in Node. Every page size must still answer exactly
 * its messages and the right cursor, on both sides of each size; and on PostgreSQL the statement must reach a
 * generic plan (a bound `limit $n` kept it planned afresh on every page).
 */
describe.each(backends)('history page sizes (%s)', (backend) => {
  const ctx = useTenantStack(backend);
  const TOTAL = 120;
  let conversationId: string;

  beforeAll(async () => {
    const db = ctx.stack.db;
    const workspaceId = ctx.tenant.workspaceId;
    const [user] = await db.insert(schema.chatUsers).values({ workspaceId, externalId: 'pager', name: 'Pager' }).returning();
    const [conversation] = await db.insert(schema.conversations).values({ workspaceId, type: 'group', name: 'pages', lastSeq: TOTAL }).returning();
    conversationId = conversation!.id;
    await db.insert(schema.messages).values(
      Array.from({ length: TOTAL }, (_, i) => ({ workspaceId, conversationId, seq: i + 1, senderType: 'user' as const, senderUserId: user!.id, content: `m${i + 1}` })),
    );
  });

  const page = async (query: string) => {
    const res = await ctx.call('GET', `/api/v1/conversations/${conversationId}/messages?${query}`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { data: { seq: number }[]; next_cursor: string | null };
    return { seqs: body.data.map((m) => m.seq), next: body.next_cursor };
  };

  it('answers exactly `limit` newest messages and a cursor for every size around the statement limits', async () => {
    for (const limit of [1, 9, 10, 11, 24, 25, 26, 30, 49, 50, 51, 99, 100]) {
      const { seqs, next } = await page(`limit=${limit}`);
      expect(seqs).toEqual(Array.from({ length: limit }, (_, i) => TOTAL - limit + 1 + i));
      expect(next).not.toBeNull();
    }
  });

  it('walks the whole history backwards with a size that is not one of the statement limits, and forwards', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const { seqs, next }: { seqs: number[]; next: string | null } = await page(`limit=30${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.unshift(...seqs);
      cursor = next;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));

    const forward = await page('after_seq=95&limit=20');
    expect(forward.seqs).toEqual(Array.from({ length: 20 }, (_, i) => 96 + i));
    expect(forward.next).not.toBeNull();
    const tail = await page('after_seq=110&limit=20');
    expect(tail.seqs).toEqual(Array.from({ length: 10 }, (_, i) => 111 + i));
    expect(tail.next).toBeNull();
  });

  // PostgreSQL only: PGlite has no plan cache to inspect. One connection of its own, so that the statement's
  // plan counters are read on the session that prepared it.
  if (backend === 'postgres') {
    it('is planned for its first runs and then runs on its generic plan', async () => {
      const client = postgres(ctx.stack.testDb.url!, { max: 1, onnotice: () => undefined });
      try {
        // A conversation as long as a live one, with statistics that say so: PostgreSQL then estimates the
        // generic plan of a bound `limit $n` at a tenth of its rows, and stays on custom plans for it.
        const workspaceId = ctx.tenant.workspaceId;
        const [long] = await client<{ id: string }[]>`insert into conversations (id, workspace_id, type, name, last_seq)
          values (gen_random_uuid(), ${workspaceId}, 'group', 'long', 3000) returning id`;
        await client`insert into messages (id, workspace_id, conversation_id, seq, sender_type, content)
          select gen_random_uuid(), ${workspaceId}, ${long!.id}, s, 'system', 'm' || s from generate_series(1, 3000) s`;
        await client`analyze messages`;
        const db = drizzle(client) as unknown as Database;
        for (let i = 0; i < 12; i++) {
          const text = await listMessagesJson({ db, workspaceId, conversationId: long!.id, cursorSecret: 'test-secret', limit: 50 });
          expect((JSON.parse(text) as { data: unknown[] }).data).toHaveLength(50);
        }
        const [plans] = await client<{ generic: number; custom: number }[]>`select generic_plans::int as generic, custom_plans::int as custom
          from pg_prepared_statements where statement like '%left join lateral%' and statement not like '%pg_prepared_statements%'`;
        expect(plans).toBeDefined();
        // plan_cache_mode auto: five custom plans, then the generic one for every later run.
        expect(plans!.custom).toBeLessThanOrEqual(5);
        expect(plans!.generic).toBeGreaterThanOrEqual(7);
      } finally {
        await client.end({ timeout: 5 });
      }
    });
  }
});
