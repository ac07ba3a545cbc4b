import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { runMissedMessageJob } from '../../apps/server/src/worker/missed-message.jobs.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const rowsOf = <T>(result: unknown): T[] => (Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows);

/** Every base table of the schema, each row as text, searched for the needle: what a regulator's "grep" would find. */
async function tablesContaining(stack: TestStack, needle: string): Promise<string[]> {
  const tables = rowsOf<{ table_name: string }>(
    await stack.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`),
  );
  const hits: string[] = [];
  for (const { table_name } of tables) {
    if (table_name.startsWith('__drizzle')) continue;
    const [count] = rowsOf<{ n: number }>(
      await stack.db.execute(sql`select count(*)::int as n from ${sql.identifier(table_name)} t where t::text ilike ${`%${needle}%`}`),
    );
    if (Number(count!.n) > 0) hits.push(table_name);
  }
  return hits;
}

/**
 * Erasure completeness (checklist G-03): after POST /users/{id}/erase no table holds the person's email, name or
 * external_id, every stored object of theirs is gone from storage (HEAD → false), their sockets are told to close
 * (session.revoked) and no missed-message email goes out for them.
 */
describe.each(backends)('erasure leaves nothing behind (%s)', (backend) => {
  let stack: TestStack;
  let worker: RunningWorker;
  let receiver: Receiver;
  let tenant: Tenant;
  const events: DomainEvent[] = [];
  const tag = `${backend}${Date.now().toString(36)}`;
  const person = { external_id: `zq-ext-${tag}`, name: `Zelda Quixotic ${tag}`, email: `zelda.${tag}@example.org` };

  const call = (method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) =>
    stack.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({ backend, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    worker = await startWorker(stack.deps, { logger: silent, relayIntervalMs: 50, sweepIntervalMs: 100, sweepGraceMs: 200 });
    tenant = await createTenant(stack.db);
    stack.deps.events.subscribe((e) => {
      events.push(e);
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
    await receiver?.close();
  });

  it('removes PII from every table, deletes every object (thumbnails too), revokes sessions and skips emails', async () => {
    const hook = await call('POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}/hook`, events: ['user.created', 'user.updated', 'message.created', 'conversation.created'] });
    expect(hook.statusCode, hook.body).toBe(201);
    // Created with an idempotency key, so the stored response (which carries the PII) must go too.
    const created = await call('POST', '/api/v1/users', { ...person, avatar_url: `https://cdn.example.org/${tag}.png`, metadata: { city: `Town-${tag}` } }, { 'idempotency-key': `k-${tag}` });
    expect(created.statusCode, created.body).toBe(201);
    const userId = created.json().id as string;
    await call('POST', '/api/v1/users', { external_id: `other-${tag}`, name: 'Other Person', email: `other.${tag}@example.org` });
    const conversationId = (
      await call('POST', '/api/v1/conversations', { participants: [{ external_id: person.external_id }, { external_id: `other-${tag}` }] })
    ).json().id as string;
    const sent = await call('POST', `/api/v1/conversations/${conversationId}/messages`, {
      sender_external_id: person.external_id,
      content: `Hi, I am ${person.name}, write to ${person.email}`,
    });
    expect(sent.statusCode, sent.body).toBe(201);
    const messageId = sent.json().id as string;
    await call('POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: `other-${tag}`, content: 'hello back' });
    const session = await call('POST', '/api/v1/sessions', { external_id: person.external_id });
    expect(session.statusCode, session.body).toBe(201);

    // Two uploads of theirs: one attached to their message, one never attached; each with a thumbnail.
    const keys: string[] = [];
    for (const [i, attachedTo] of [messageId, null].entries()) {
      const key = `workspaces/${tenant.workspaceId}/attachments/${tag}-${i}.png`;
      const thumb = `workspaces/${tenant.workspaceId}/attachments/${tag}-${i}.thumb.webp`;
      await stack.deps.blobStore.put(key, Buffer.from('png bytes'), { contentType: 'image/png' });
      await stack.deps.blobStore.put(thumb, Buffer.from('webp bytes'), { contentType: 'image/webp' });
      await stack.db.insert(schema.attachments).values({
        workspaceId: tenant.workspaceId,
        conversationId,
        messageId: attachedTo,
        uploaderUserId: userId,
        storageKey: key,
        thumbnailKey: thumb,
        contentType: 'image/png',
        extension: 'png',
        sizeBytes: 9,
        originalName: `${person.name}.png`,
      });
      keys.push(key, thumb);
    }
    for (const key of keys) expect(await stack.deps.blobStore.exists(key)).toBe(true);
    // The webhooks carrying their name went out before the erasure (delivery log rows exist to be scrubbed).
    await waitFor(() => receiver.received('/hook').some((r) => r.body.includes(person.email)), 20_000);

    events.length = 0;
    const erased = await call('POST', `/api/v1/users/${person.external_id}/erase`);
    expect(erased.statusCode, erased.body).toBe(200);
    expect(erased.json()).toMatchObject({ erased: true, sessions_revoked: 1, attachments: 2 });
    // The realtime layer closes the person's sockets on this event (fan-out.ts).
    expect(events.some((e) => e.type === 'session.revoked' && e.chatUserIds.includes(userId))).toBe(true);

    for (const key of keys) expect(await stack.deps.blobStore.exists(key), key).toBe(false);
    await worker.relayNow();
    for (const needle of [person.email, person.name, person.external_id, `Town-${tag}`, `${tag}.png`]) {
      expect(await tablesContaining(stack, needle), needle).toEqual([]);
    }
    // The other participant's data is untouched.
    expect(await tablesContaining(stack, `other.${tag}@example.org`)).toContain('chat_users');

    // A missed-message job queued before the erasure sends nothing now.
    const outcome = await runMissedMessageJob(
      { db: stack.db, queue: stack.deps.queue, mailer: stack.deps.mailer, appUrl: 'http://localhost', secret: 'x'.repeat(32), now: () => new Date(Date.now() + 86_400_000), log: silent },
      { workspaceId: tenant.workspaceId, conversationId, chatUserId: userId, fromSeq: 0 },
    );
    expect(outcome.outcome).toBe('skipped');
  }, 60_000);
});
