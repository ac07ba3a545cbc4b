import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExportJob } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { waitFor } from './receiver.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Background exports (checklist G-01): POST /exports answers 202, a worker job writes the file to the workspace's
 * storage prefix, GET /exports/{id} reports it ready with a short-lived signed download URL that serves exactly the
 * workspace's rows; another tenant's export is 404 and its rows never appear; requests and completions are audited.
 */
describe.each(backends)('background exports (%s)', (backend) => {
  let stack: TestStack;
  let worker: RunningWorker;
  let a: Tenant;
  let b: Tenant;
  let conversationA: string;

  const call = (tenant: Tenant, method: 'GET' | 'POST', url: string, body?: unknown) =>
    stack.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  async function seed(tenant: Tenant, tag: string, count: number): Promise<string> {
    await call(tenant, 'POST', '/api/v1/users', { external_id: `${tag}-u`, name: tag });
    const conversationId = (await call(tenant, 'POST', '/api/v1/conversations', { participants: [{ external_id: `${tag}-u` }], subject: `${tag} subject` })).json()
      .id as string;
    for (let i = 0; i < count; i++) {
      const res = await call(tenant, 'POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: `${tag}-u`, content: `${tag} says, "${i}"` });
      expect(res.statusCode, res.body).toBe(201);
    }
    return conversationId;
  }

  async function readyExport(tenant: Tenant, id: string) {
    return waitFor(async () => {
      const res = await call(tenant, 'GET', `/api/v1/exports/${id}`);
      expect(res.statusCode, res.body).toBe(200);
      const json = res.json();
      return json.status === 'ready' && json;
    }, 20_000);
  }

  async function download(url: string) {
    const path = url.replace(/^https?:\/\/[^/]+/, '');
    return stack.app.inject({ method: 'GET', url: path });
  }

  beforeAll(async () => {
    stack = await startStack({ backend });
    worker = await startWorker(stack.deps, { logger: silent, relayIntervalMs: 50 });
    a = await createTenant(stack.db, { name: 'A' });
    b = await createTenant(stack.db, { name: 'B' });
    conversationA = await seed(a, 'alpha', 4);
    await seed(b, 'bravo', 3);
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
  });

  it('exports messages as JSON Lines in the background; the signed link serves only this workspace’s rows', async () => {
    const started = await call(a, 'POST', '/api/v1/exports', { type: 'messages', format: 'jsonl' });
    expect(started.statusCode, started.body).toBe(202);
    expect(started.json()).toEqual({ id: expect.any(String), status: 'pending' });
    const id = started.json().id as string;

    const done = await readyExport(a, id);
    expect(done).toMatchObject({ id, type: 'messages', format: 'jsonl', row_count: 4, error: null });
    expect(done.download_url).toContain(`workspaces/${a.workspaceId}/exports/${id}.jsonl`);
    expect(new Date(done.download_expires_at).getTime()).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    const [row] = await stack.db.select().from(schema.exportJobs).where(eq(schema.exportJobs.id, id));
    expect(await stack.deps.blobStore.exists(row!.storageKey!)).toBe(true);

    const file = await download(done.download_url as string);
    expect(file.statusCode, file.body).toBe(200);
    const lines = file.body.trim().split('\n').map((l) => JSON.parse(l) as { content: string; conversation_id: string });
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l.conversation_id).toBe(conversationA);
    expect(file.body).not.toContain('bravo');
    // The signature covers the key: the same URL bent to B's prefix is refused.
    const bent = await download((done.download_url as string).replace(a.workspaceId, b.workspaceId));
    expect(bent.statusCode).toBeGreaterThanOrEqual(400);

    const audit = await stack.db.select().from(schema.auditLog).where(and(eq(schema.auditLog.workspaceId, a.workspaceId), eq(schema.auditLog.targetId, id)));
    expect(audit.map((r) => r.action).sort()).toEqual(['export.completed', 'export.requested']);
    expect(audit.find((r) => r.action === 'export.completed')!.metadata).toMatchObject({ rows: 4 });
  }, 30_000);

  it('exports conversations as CSV, and one conversation’s messages', async () => {
    const convs = await call(a, 'POST', '/api/v1/exports', { type: 'conversations', format: 'csv' });
    expect(convs.statusCode, convs.body).toBe(202);
    const csv = await download((await readyExport(a, convs.json().id)).download_url);
    expect(csv.body.split('\r\n')[0]).toBe('id,type,subject,state,name,status,metadata,last_seq,last_message_at,created_at,closed_at');
    expect(csv.body).toContain('alpha subject');
    expect(csv.body).not.toContain('bravo');

    const one = await call(a, 'POST', '/api/v1/exports', { type: 'messages', format: 'csv', conversation_id: conversationA });
    const done = await readyExport(a, one.json().id);
    expect(done.row_count).toBe(4);
    const body = (await download(done.download_url)).body;
    expect(body).toContain('"alpha says, ""3"""');
  }, 30_000);

  it('is isolated per tenant and validates its input', async () => {
    const mine = (await call(a, 'POST', '/api/v1/exports', { type: 'messages' })).json().id as string;
    expect((await call(b, 'GET', `/api/v1/exports/${mine}`)).statusCode).toBe(404);
    expect((await call(b, 'POST', '/api/v1/exports', { type: 'messages', conversation_id: conversationA })).statusCode).toBe(404);
    expect((await call(a, 'POST', '/api/v1/exports', { type: 'users' })).statusCode).toBe(422);
    expect((await call(a, 'POST', '/api/v1/exports', { type: 'messages', extra: 1 })).statusCode).toBe(422);
    expect((await call(a, 'GET', '/api/v1/exports/not-a-uuid')).statusCode).toBe(422);
    await readyExport(a, mine);
  }, 30_000);

  it('a second run of the same job does nothing (F-11)', async () => {
    const id = (await call(a, 'POST', '/api/v1/exports', { type: 'conversations', format: 'jsonl' })).json().id as string;
    const first = await readyExport(a, id);
    const again = await runExportJob({ db: stack.db, blobStore: stack.deps.blobStore, job: { exportId: id, workspaceId: a.workspaceId }, now: new Date() });
    expect(again).toEqual({ outcome: 'skipped' });
    // Under the wrong workspace the row is not even found.
    const wrong = await runExportJob({ db: stack.db, blobStore: stack.deps.blobStore, job: { exportId: id, workspaceId: b.workspaceId }, now: new Date() });
    expect(wrong).toEqual({ outcome: 'skipped' });
    expect((await call(a, 'GET', `/api/v1/exports/${id}`)).json().completed_at).toBe(first.completed_at);
  }, 30_000);

  it('deletes finished export files and rows a day after completion (they copy personal data)', async () => {
    const id = (await call(a, 'POST', '/api/v1/exports', { type: 'messages', format: 'jsonl' })).json().id as string;
    await readyExport(a, id);
    const fresh = (await call(a, 'POST', '/api/v1/exports', { type: 'conversations', format: 'jsonl' })).json().id as string;
    await readyExport(a, fresh);
    const [row] = await stack.db.select().from(schema.exportJobs).where(eq(schema.exportJobs.id, id));
    await stack.db.update(schema.exportJobs).set({ completedAt: new Date(Date.now() - 25 * 3_600_000) }).where(eq(schema.exportJobs.id, id));

    await worker.scheduleMaintenanceNow();
    await waitFor(async () => !(await stack.deps.blobStore.exists(row!.storageKey!)), 20_000);
    expect((await call(a, 'GET', `/api/v1/exports/${id}`)).statusCode).toBe(404);
    expect((await call(a, 'GET', `/api/v1/exports/${fresh}`)).json().status).toBe('ready');
  }, 30_000);
});
