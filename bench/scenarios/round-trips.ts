/**
 * Transactions per widget send, per consumer-API post and per history page on PostgreSQL, counted with
 * pg_stat_database.xact_commit on the stack's own database (nothing else uses it). Every statement outside
 * an explicit transaction is one transaction, so the count is close to the number of round trips outside
 * the send transaction. A lone send (no concurrent one to share a statement with) is one read and one
 * write statement; whatever else shows up is the stack's background work (outbox relay, webhook jobs).
 * Run: TEST_DATABASE_URL=postgres://… npx tsx bench/scenarios/round-trips.ts
 */
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { schema } from '@reusable-chat/db';
import { createTenant, startStack } from '@reusable-chat/testing';

const N = 100;

const stack = await startStack({ backend: 'postgres' });
const url = stack.testDb.url!;
const stats = postgres(url, { max: 1, onnotice: () => undefined });
try {
  const tenant = await createTenant(stack.db);
  const call = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    stack.app.inject({
      method,
      url: path,
      headers: { 'x-api-key': tenant.apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    });
  await call('POST', '/api/v1/users', { external_id: 'rt-a', name: 'A' });
  await call('POST', '/api/v1/users', { external_id: 'rt-b', name: 'B' });
  const conversation = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'rt-a' }, { external_id: 'rt-b' }] })).json() as { id: string };
  const path = `/api/v1/conversations/${conversation.id}/messages`;

  const commits = async (): Promise<number> => {
    // Backends flush their statistics when idle, at the latest 10 s after the last flush (PostgreSQL 15+).
    await new Promise((r) => setTimeout(r, 11_000));
    await stats`select pg_stat_clear_snapshot()`;
    const [row] = await stats<{ n: string }[]>`select xact_commit::text as n from pg_stat_database where datname = current_database()`;
    return Number(row!.n);
  };
  // The widget's default limit (30 sends per session per minute) would refuse this run.
  const [config] = await stack.db
    .insert(schema.widgetConfigs)
    .values({ workspaceId: tenant.workspaceId, slug: 'rt', name: 'RT', policies: { rate_limits: { per_session_per_minute: 10_000 } } })
    .returning({ id: schema.widgetConfigs.id });
  await stack.db.update(schema.conversations).set({ widgetConfigId: config!.id }).where(eq(schema.conversations.id, conversation.id));
  const session = (await call('POST', '/api/v1/sessions', { external_id: 'rt-a' })).json() as { token: string };
  const widgetSend = (i: number) =>
    stack.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${conversation.id}/messages`,
      headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ content: `widget message ${i}`, client_id: `rt-${i}` }),
    });
  const measure = async (label: string, request: (i: number) => Promise<{ statusCode: number }>): Promise<void> => {
    await request(-1); // warm: API-key lookup cached, statements prepared
    const before = await commits();
    for (let i = 0; i < N; i++) {
      const res = await request(i);
      if (res.statusCode >= 300) throw new Error(`${label}: ${res.statusCode}`);
    }
    // The two statistics reads themselves are commits too.
    const after = await commits();
    console.log(`${label}: ${((after - before - 2) / N).toFixed(2)} transactions per request`);
  };
  await measure('send (widget API, with client_id)', widgetSend);
  await measure('post (consumer API)', (i) => call('POST', path, { sender_external_id: 'rt-a', content: `message ${i}` }));
  await measure('history page of 50 (consumer API)', () => call('GET', `${path}?limit=50`));
} finally {
  await stats.end();
  await stack.close();
}
