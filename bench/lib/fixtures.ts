import { createApiKey, createWorkspace } from '@reusable-chat/core';
import { eq } from 'drizzle-orm';
import { schema, type Database } from '@reusable-chat/db';

const BENCH_KEY_RATE_LIMIT_PER_MINUTE = 100_000_000;

export interface BenchConversation {
  readonly id: string;
  /** A participant who sends into it. */
  readonly chatUserId: string;
  readonly externalId: string;
}

export interface BenchTenant {
  readonly workspaceId: string;
  readonly apiKey: string;
  readonly conversations: BenchConversation[];
}

/**
 * A tenant with `conversations` group conversations of two participants each, written through core
 * (workspace, key) and plain inserts (users, conversations) — the same rows the API would create.
 */
export async function createBenchTenant(db: Database, options: { conversations: number }): Promise<BenchTenant> {
  const workspace = await createWorkspace({ db, name: 'Bench workspace', kind: 'single_app' });
  const { apiKey, record } = await createApiKey({ db, workspaceId: workspace.id, environment: 'test', name: 'bench' });
  // The per-key limit (1 200/min by default) would cap the measurement at 20 posts/s: the bench key gets a
  // limit no run can reach, as an operator would set for a trusted high-volume backend.
  await db.update(schema.apiKeys).set({ rateLimitPerMinute: BENCH_KEY_RATE_LIMIT_PER_MINUTE }).where(eq(schema.apiKeys.id, record.id));
  const conversations: BenchConversation[] = [];
  for (let i = 0; i < options.conversations; i++) {
    const users = await db
      .insert(schema.chatUsers)
      .values([
        { workspaceId: workspace.id, externalId: `bench-a-${i}`, name: `Sender ${i}` },
        { workspaceId: workspace.id, externalId: `bench-b-${i}`, name: `Receiver ${i}` },
      ])
      .returning({ id: schema.chatUsers.id, externalId: schema.chatUsers.externalId });
    const [conversation] = await db
      .insert(schema.conversations)
      .values({ workspaceId: workspace.id, type: 'group', name: `Bench ${i}` })
      .returning({ id: schema.conversations.id });
    await db.insert(schema.participants).values(
      users.map((u) => ({ conversationId: conversation!.id, workspaceId: workspace.id, chatUserId: u.id })),
    );
    conversations.push({ id: conversation!.id, chatUserId: users[0]!.id, externalId: users[0]!.externalId });
  }
  return { workspaceId: workspace.id, apiKey, conversations };
}
