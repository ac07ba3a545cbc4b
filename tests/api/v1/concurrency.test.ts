import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from './helpers.ts';

/** Checklist F-14 (Idempotency-Key, client_id) and F-20 (gapless seq under concurrent writers). */
describe.each(backends)('consumer API concurrency and idempotency (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let call: ReturnType<typeof callAs>;
  let conversationId: string;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    call = callAs(stack.app, tenant);
    await call('POST', '/api/v1/users', { external_id: 'alice', name: 'Alice' });
    await call('POST', '/api/v1/users', { external_id: 'bob', name: 'Bob' });
    conversationId = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'alice' }, { external_id: 'bob' }] })).json().id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const messagesUrl = () => `/api/v1/conversations/${conversationId}/messages`;

  it('gives 50 parallel sends from two users exactly seq 1..50', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call('POST', messagesUrl(), { sender_external_id: i % 2 ? 'alice' : 'bob', content: `parallel ${i}` }),
      ),
    );
    expect(results.map((r) => r.statusCode)).toEqual(Array(50).fill(201));
    const seqs = results.map((r) => r.json().seq as number).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const rows = await stack.db.select({ seq: schema.messages.seq }).from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
    expect(rows.map((r) => r.seq).sort((x, y) => x - y)).toEqual(seqs);
    const [conv] = await stack.db.select().from(schema.conversations).where(eq(schema.conversations.id, conversationId));
    expect(conv!.lastSeq).toBe(50);
  });

  it('stores one message for the same client_id sent concurrently, answering 201 once and 200 for the rest', async () => {
    const body = { sender_external_id: 'alice', content: 'only once', client_id: 'retry-123' };
    const results = await Promise.all(Array.from({ length: 8 }, () => call('POST', messagesUrl(), body)));
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1);
    const rows = await stack.db.select().from(schema.messages).where(eq(schema.messages.clientId, 'retry-123'));
    expect(rows).toHaveLength(1);
    // System messages have no sender row for the unique index; the check under the seq lock still dedupes.
    const sys = await Promise.all(Array.from({ length: 4 }, () => call('POST', messagesUrl(), { system: true, content: 'once', client_id: 'sys-1' })));
    expect(sys.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(sys.map((r) => r.json().id)).size).toBe(1);
    // The same client_id from another sender is another message.
    const fromBob = await call('POST', messagesUrl(), { ...body, sender_external_id: 'bob' });
    expect(fromBob.statusCode).toBe(201);
    // seq stayed gapless: the duplicates did not consume numbers.
    const [conv] = await stack.db.select().from(schema.conversations).where(eq(schema.conversations.id, conversationId));
    const all = await stack.db.select({ seq: schema.messages.seq }).from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
    expect(all.map((r) => r.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: conv!.lastSeq }, (_, i) => i + 1));
  });

  it('replays the stored response for the same Idempotency-Key and body, even concurrently', async () => {
    const body = { sender_external_id: 'bob', content: 'charged once' };
    const headers = { 'idempotency-key': 'idem-1' };
    const results = await Promise.all(Array.from({ length: 6 }, () => call('POST', messagesUrl(), body, headers)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(6).fill(201));
    expect(new Set(results.map((r) => r.body)).size).toBe(1);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(5);
    const rows = await stack.db.select().from(schema.messages).where(eq(schema.messages.content, 'charged once'));
    expect(rows).toHaveLength(1);
    const later = await call('POST', messagesUrl(), body, headers);
    expect(later.statusCode).toBe(201);
    expect(later.body).toBe(results[0]!.body);
  });

  it('answers 422 idempotency_key_reused for the same key with another body or route', async () => {
    const headers = { 'idempotency-key': 'idem-2' };
    expect((await call('POST', messagesUrl(), { sender_external_id: 'bob', content: 'first' }, headers)).statusCode).toBe(201);
    const other = await call('POST', messagesUrl(), { sender_external_id: 'bob', content: 'second' }, headers);
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('idempotency_key_reused');
    const otherRoute = await call('POST', '/api/v1/users', { external_id: 'carol', name: 'C' }, headers);
    expect(otherRoute.statusCode).toBe(422);
    expect((await call('GET', '/api/v1/users/carol')).statusCode).toBe(404);
  });

  it('scopes keys to (workspace, API key) and stores nothing for requests that fail validation', async () => {
    const second = await createTenant(stack.db, { name: 'other' });
    const callOther = callAs(stack.app, second);
    await callOther('POST', '/api/v1/users', { external_id: 'alice', name: 'Other Alice' }, { 'idempotency-key': 'shared' });
    const mine = await call('POST', '/api/v1/users', { external_id: 'dave', name: 'Dave' }, { 'idempotency-key': 'shared' });
    expect(mine.statusCode).toBe(201);
    expect(mine.json().external_id).toBe('dave');
    // A 422 from the schema never claimed the key: the corrected request runs.
    const bad = await call('POST', '/api/v1/users', { external_id: 'erin' }, { 'idempotency-key': 'fix-me' });
    expect(bad.statusCode).toBe(422);
    const fixed = await call('POST', '/api/v1/users', { external_id: 'erin', name: 'Erin' }, { 'idempotency-key': 'fix-me' });
    expect(fixed.statusCode).toBe(201);
    // Errors raised while executing are part of the stored response (Stripe semantics).
    const missing = { sender_external_id: 'nobody', content: 'x' };
    const first404 = await call('POST', messagesUrl(), missing, { 'idempotency-key': 'err-1' });
    expect(first404.statusCode).toBe(404);
    const replay404 = await call('POST', messagesUrl(), missing, { 'idempotency-key': 'err-1' });
    expect(replay404.statusCode).toBe(404);
    expect(replay404.headers['idempotent-replayed']).toBe('true');
    const badKey = await call('POST', '/api/v1/users', { external_id: 'f', name: 'F' }, { 'idempotency-key': 'has space' });
    expect(badKey.statusCode).toBe(422);
  });

  it('applies to PATCH and DELETE too', async () => {
    const headers = { 'idempotency-key': 'patch-1' };
    const first = await call('PATCH', '/api/v1/users/alice', { name: 'Alice P' }, headers);
    expect(first.statusCode).toBe(200);
    const replay = await call('PATCH', '/api/v1/users/alice', { name: 'Alice P' }, headers);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);
    expect((await call('PATCH', '/api/v1/users/alice', { name: 'Other' }, headers)).statusCode).toBe(422);
    const del = await call('DELETE', '/api/v1/users/alice/sessions', undefined, { 'idempotency-key': 'del-1' });
    const delAgain = await call('DELETE', '/api/v1/users/alice/sessions', undefined, { 'idempotency-key': 'del-1' });
    expect(delAgain.statusCode).toBe(del.statusCode);
    expect(delAgain.headers['idempotent-replayed']).toBe('true');
  });

  it('takes over a claim whose request died without answering', async () => {
    const headers = { 'idempotency-key': 'orphan' };
    const body = { external_id: 'hal', name: 'Hal' };
    const first = await call('POST', '/api/v1/users', body, headers);
    expect(first.statusCode).toBe(201);
    // As if the process had crashed mid-request two minutes ago: claimed, never answered.
    await stack.db
      .update(schema.idempotencyKeys)
      .set({ statusCode: null, responseBody: null, createdAt: new Date(Date.now() - 120_000) })
      .where(eq(schema.idempotencyKeys.key, 'orphan'));
    const retry = await call('POST', '/api/v1/users', body, headers);
    expect(retry.statusCode).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('forgets keys after 24 h', async () => {
    const headers = { 'idempotency-key': 'old-key' };
    const first = await call('POST', '/api/v1/users', { external_id: 'gina', name: 'G' }, headers);
    expect(first.statusCode).toBe(201);
    await stack.db
      .update(schema.idempotencyKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(schema.idempotencyKeys.key, 'old-key'));
    const again = await call('POST', '/api/v1/users', { external_id: 'gina', name: 'G' }, headers);
    expect(again.statusCode).toBe(200); // executed again (an upsert of an existing user), not replayed
    expect(again.headers['idempotent-replayed']).toBeUndefined();
  });

  it('rate-limits per key with 429 and Retry-After', async () => {
    const limited = await createTenant(stack.db, { name: 'limited' });
    await stack.db.update(schema.apiKeys).set({ rateLimitPerMinute: 3 }).where(eq(schema.apiKeys.workspaceId, limited.workspaceId));
    const callLimited = callAs(stack.app, limited);
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await callLimited('GET', '/api/v1/conversations');
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.json().error.code).toBe('rate_limited');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another key is not affected.
    expect((await call('GET', '/api/v1/conversations')).statusCode).toBe(200);
  });
});
