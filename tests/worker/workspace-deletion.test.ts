import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { count, eq, isTable } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, deleteWorkspace } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, TEST_DATABASE_URL, TEST_REDIS_URL, type Tenant } from '@reusable-chat/testing';
import { runCli } from '../../apps/server/src/cli.ts';
import { runWorkspaceDeletion } from '../../apps/server/src/worker/workspace-deletion.ts';
import {
  deleteRedisPrefix,
  eventually,
  sleep,
  startRealtimeNode,
  uniqueRedisPrefix,
  uuid,
  waitForState,
  widgetPusherClient,
  type PusherJsClient,
  type RealtimeNode,
} from '../conformance/support.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';

/** Every table of the schema, with its workspace_id column when it has one (new tables are covered automatically). */
const TABLES = Object.values(schema as Record<string, unknown>)
  .filter((value): value is PgTable => isTable(value))
  .map((table) => {
    const config = getTableConfig(table);
    return { name: config.name, table, workspaceColumn: config.columns.find((c) => c.name === 'workspace_id') };
  });

/**
 * Workspace deletion (checklist G-05): every stored object of the workspace gone (HEAD → false), its keys and
 * sessions refused, its signed-in sockets closed through the realtime terminate seam, its webhooks silent, its
 * rows gone, one audit row without PII — and another workspace's row counts in every table unchanged.
 */
describe.each(backends)('workspace deletion (%s)', (backend) => {
  let node: RealtimeNode;
  let receiver: Receiver;
  let a: Tenant;
  let b: Tenant;
  const clients: PusherJsClient[] = [];

  const api = (tenant: Tenant, method: 'GET' | 'POST', url: string, payload?: unknown) =>
    node.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });

  /** Users, a conversation with messages, a session, a webhook endpoint and two stored objects. */
  async function populate(tenant: Tenant, tag: string) {
    const hook = await api(tenant, 'POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}/${tag}`, events: ['message.created'] });
    expect(hook.statusCode, hook.body).toBe(201);
    for (const who of ['host', 'guest']) {
      const res = await api(tenant, 'POST', '/api/v1/users', { external_id: `${who}-${tag}`, name: `${who} ${tag}`, email: `${who}.${tag}@example.org` });
      expect(res.statusCode, res.body).toBe(201);
    }
    const conversation = await api(tenant, 'POST', '/api/v1/conversations', { participants: [{ external_id: `host-${tag}` }, { external_id: `guest-${tag}` }] });
    expect(conversation.statusCode, conversation.body).toBe(201);
    const conversationId = conversation.json().id as string;
    const sent = await api(tenant, 'POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: `host-${tag}`, content: `hello from ${tag}` });
    expect(sent.statusCode, sent.body).toBe(201);
    const session = await api(tenant, 'POST', '/api/v1/sessions', { external_id: `guest-${tag}` });
    expect(session.statusCode, session.body).toBe(201);
    const keys = [`workspaces/${tenant.workspaceId}/attachments/${tag}.png`, `workspaces/${tenant.workspaceId}/attachments/${tag}.thumb.webp`];
    await node.deps.blobStore.put(keys[0]!, Buffer.from('png'), { contentType: 'image/png' });
    await node.deps.blobStore.put(keys[1]!, Buffer.from('webp'), { contentType: 'image/webp' });
    await node.deps.database.db.insert(schema.attachments).values({
      workspaceId: tenant.workspaceId,
      conversationId,
      messageId: sent.json().id as string,
      storageKey: keys[0]!,
      thumbnailKey: keys[1]!,
      contentType: 'image/png',
      extension: 'png',
      sizeBytes: 3,
      originalName: `${tag}.png`,
    });
    await waitFor(() => receiver.received(`/${tag}`).length === 1);
    return { keys, token: session.json().token as string, chatUserId: session.json().user.id as string, conversationId };
  }

  async function countsFor(workspaceId: string): Promise<Record<string, number>> {
    const db = node.deps.database.db;
    const counts: Record<string, number> = {};
    for (const { name, table, workspaceColumn } of TABLES) {
      const query = db.select({ n: count() }).from(table);
      const scope = name === 'workspaces' ? eq(schema.workspaces.id, workspaceId) : workspaceColumn ? eq(workspaceColumn, workspaceId) : undefined;
      const [row] = scope ? await query.where(scope) : await query;
      counts[name] = Number(row?.n ?? 0);
    }
    return counts;
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    node = await startRealtimeNode({ backend, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    const { startWorker } = await import('../../apps/server/src/worker/index.ts');
    const worker = await startWorker(node.deps, { logger: { info: () => undefined, warn: () => undefined, error: () => undefined }, relayIntervalMs: 50 });
    stopWorker = () => worker.stop();
    a = await createTenant(node.deps.database.db, { name: 'Doomed' });
    b = await createTenant(node.deps.database.db, { name: 'Bystander' });
  }, 60_000);
  let stopWorker: () => Promise<void> = async () => undefined;
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await stopWorker();
    await node?.close();
    await receiver?.close();
  });

  it('removes the workspace, its objects, keys, sessions, sockets and webhooks, and leaves another workspace untouched (G-05)', async () => {
    const doomed = await populate(a, `a-${backend}`);
    const bystander = await populate(b, `b-${backend}`);

    // A signed-in widget socket of the doomed workspace, as in the W-08 revocation test.
    const socket = widgetPusherClient(node, doomed.token);
    clients.push(socket);
    socket.signin();
    await waitForState(socket, 'connected');
    const socketId = socket.connection.socket_id;
    await eventually(() => node.app.realtimeServer.isConnected(socketId), 2_000, 'connected');
    await sleep(200); // signin round trip through the user-auth endpoint
    const closed = new Promise<number>((resolve) => {
      socket.connection.bind('error', (e: { data?: { code?: number } }) => e.data?.code && resolve(e.data.code));
    });

    const before = await countsFor(b.workspaceId);
    expect(before.messages).toBeGreaterThan(0);
    expect(before.webhook_deliveries).toBeGreaterThan(0);

    const result = await runWorkspaceDeletion(node.deps, a.workspaceId, { type: 'system', id: 'test' });
    expect(result).toMatchObject({ apiKeysRevoked: 1, sessionsRevoked: 1, webhooksDisabled: 1, storageObjectsDeleted: 2, socketsTerminatedFor: 2 });

    // Sockets: closed with 4009 through the realtime server's cluster terminate (the one bans use).
    expect(await Promise.race([closed, sleep(5_000).then(() => -1)])).toBe(4009);
    await eventually(() => !node.app.realtimeServer.isConnected(socketId), 5_000, 'socket closed');
    // Storage: HEAD of every object is a miss; the other workspace's objects are still there.
    for (const key of doomed.keys) expect(await node.deps.blobStore.exists(key), key).toBe(false);
    for (const key of bystander.keys) expect(await node.deps.blobStore.exists(key), key).toBe(true);
    // Credentials: the API key and the widget session no longer authenticate.
    expect((await api(a, 'GET', '/api/v1/webhooks')).statusCode).toBe(401);
    const widget = await node.app.inject({ method: 'GET', url: '/api/widget/me', headers: { authorization: `Bearer ${doomed.token}` } });
    expect(widget.statusCode).toBe(401);
    // Rows: nothing of A is left in any table that has a workspace_id; B's counts are exactly what they were.
    const afterA = await countsFor(a.workspaceId);
    for (const { name, workspaceColumn } of TABLES) if (workspaceColumn || name === 'workspaces') expect(afterA[name], name).toBe(0);
    expect(await countsFor(b.workspaceId)).toEqual(before);
    expect((await api(b, 'GET', `/api/v1/conversations/${bystander.conversationId}/messages`)).statusCode).toBe(200);

    // One audit row records it: ids and counts, no name, email or other personal data.
    const audit = await node.deps.database.db.select().from(schema.auditLog).where(eq(schema.auditLog.targetId, a.workspaceId));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'workspace.deleted', targetType: 'workspace', workspaceId: null, actorType: 'system' });
    const recorded = JSON.stringify(audit[0]);
    for (const pii of ['Doomed', `host.a-${backend}@example.org`, `guest-a-${backend}`]) expect(recorded).not.toContain(pii);

    // Webhooks: nothing more goes out for A (its endpoint and outbox are gone); B's still flow.
    const bMessage = await api(b, 'POST', `/api/v1/conversations/${bystander.conversationId}/messages`, { sender_external_id: `host-b-${backend}`, content: 'still here' });
    expect(bMessage.statusCode, bMessage.body).toBe(201);
    await waitFor(() => receiver.received(`/b-${backend}`).length === 2);
    expect(receiver.received(`/a-${backend}`)).toHaveLength(1);
  }, 60_000);

  it('refuses a malformed id and answers not found for an unknown one, deleting nothing (G-04)', async () => {
    const before = await countsFor(b.workspaceId);
    for (const id of ['', 'not-a-uuid', '%']) {
      await expect(deleteWorkspace({ db: node.deps.database.db, workspaceId: id, actor: { type: 'system', id: 'test' } })).rejects.toMatchObject({ code: 'validation_failed' });
    }
    const missing = await deleteWorkspace({ db: node.deps.database.db, workspaceId: uuid(), actor: { type: 'system', id: 'test' } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AppError);
    expect(missing).toMatchObject({ code: 'not_found' });
    expect(await countsFor(b.workspaceId)).toEqual(before);
  });
});

async function cli(argv: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { env: { NODE_ENV: 'test', LOG_LEVEL: 'silent', APP_SECRET: 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz', ...env }, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

describe('reusable-chat workspace:delete: usage', () => {
  it('needs exactly one UUID and --yes, and touches nothing otherwise', async () => {
    const env = { DATA_DIR: '/nonexistent-rc-cli-dir' };
    expect((await cli(['workspace:delete', uuid()], env)).stderr).toContain('--yes');
    expect((await cli(['workspace:delete', uuid()], env)).code).toBe(2);
    expect((await cli(['workspace:delete', '--yes'], env)).code).toBe(2);
    expect((await cli(['workspace:delete', 'acme', '--yes'], env)).code).toBe(2);
    expect((await cli(['workspace:delete', uuid(), uuid(), '--yes'], env)).code).toBe(2);
  });
});

/**
 * The CLI runs in a process that holds no sockets: it closes the workspace's sockets on the running server
 * through the realtime cluster bus (Redis), like a ban on another node. Needs a shared database and Redis.
 */
describe.each(TEST_DATABASE_URL && TEST_REDIS_URL ? (['postgres'] as const) : [])('reusable-chat workspace:delete against a running server (%s)', (backend) => {
  let node: RealtimeNode & { testDb: { url?: string } };
  const prefix = uniqueRedisPrefix('wsdel');
  const clients: PusherJsClient[] = [];

  beforeAll(async () => {
    node = (await startRealtimeNode({ backend, redis: { url: TEST_REDIS_URL!, prefix } })) as RealtimeNode & { testDb: { url?: string } };
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await node?.close();
    await deleteRedisPrefix(prefix);
  });

  it('deletes the workspace and closes its signed-in sockets on the server (exit 0), then answers not found (exit 1)', async () => {
    const tenant = await createTenant(node.deps.database.db, { name: 'Leaving' });
    const other = await createTenant(node.deps.database.db, { name: 'Staying' });
    const api = (t: Tenant, url: string, payload: unknown) =>
      node.app.inject({ method: 'POST', url, headers: { 'x-api-key': t.apiKey, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
    expect((await api(tenant, '/api/v1/users', { external_id: 'leaver', name: 'Leaver' })).statusCode).toBe(201);
    const session = await api(tenant, '/api/v1/sessions', { external_id: 'leaver' });
    const token = session.json().token as string;
    const socket = widgetPusherClient(node, token);
    clients.push(socket);
    socket.signin();
    await waitForState(socket, 'connected');
    const socketId = socket.connection.socket_id;
    await eventually(() => node.app.realtimeServer.isConnected(socketId), 2_000, 'connected');
    await sleep(200);
    const closed = new Promise<number>((resolve) => {
      socket.connection.bind('error', (e: { data?: { code?: number } }) => e.data?.code && resolve(e.data.code));
    });

    const env = { DATA_DIR: node.deps.config.dataDir, DATABASE_URL: node.testDb.url!, REDIS_URL: TEST_REDIS_URL!, REDIS_PREFIX: prefix };
    const run = await cli(['workspace:delete', tenant.workspaceId, '--yes', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ workspace_id: tenant.workspaceId, api_keys_revoked: 1, sessions_revoked: 1, sockets_terminated_for: 1 });
    expect(await Promise.race([closed, sleep(5_000).then(() => -1)])).toBe(4009);
    const [gone] = await node.deps.database.db.select({ n: count() }).from(schema.workspaces).where(eq(schema.workspaces.id, tenant.workspaceId));
    expect(gone!.n).toBe(0);
    const [kept] = await node.deps.database.db.select({ n: count() }).from(schema.workspaces).where(eq(schema.workspaces.id, other.workspaceId));
    expect(kept!.n).toBe(1);

    const again = await cli(['workspace:delete', tenant.workspaceId, '--yes'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not found');
  }, 60_000);
});
