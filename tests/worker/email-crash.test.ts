import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '@reusable-chat/db';
import { createTenant, startStack, TEST_DATABASE_URL, TEST_REDIS_URL, type Tenant, type TestStack } from '@reusable-chat/testing';
import { deleteRedisPrefix } from '../conformance/support.ts';
import { waitFor } from './receiver.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'apps/server/src/cli.ts');
const APP_SECRET = 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz';
/** Past the default `missed_message_email.delay_minutes` (15). */
const BACKDATE = sql`now() - interval '20 minutes'`;

/**
 * Checklist F-10 for the missed-message email, with the real `reusable-chat worker` process (the CLI, default
 * settings) SIGKILLed while two email jobs are in flight at an in-process SMTP server:
 * - "before": the SMTP server holds the RCPT command, so the message has not been handed over when the worker dies;
 * - "after": the server has the whole message and accepts it (250) only once the worker is dead, so the provider has
 *   it but the worker never recorded the send (last_notified_seq, audit row).
 * A second worker process must send "before" exactly once and "after" exactly once more — the documented rule:
 * at-least-once towards SMTP, one duplicate at most, never zero (docs/email-and-privacy.md).
 *
 * Both queues: without REDIS_URL the job died with the process and the new worker's start-up scan finds the batch
 * again (the participant row is the durable state); with BullMQ the killed worker's job is active in Redis, the
 * scan's enqueue is a duplicate id, and BullMQ's stalled-job check hands it to the new worker (up to ~60 s:
 * lockDuration and stalledInterval are 30 s by default). PostgreSQL only: the CLI worker and this test are
 * separate processes on one database, which PGlite (single process) cannot be.
 */
describe.each(TEST_DATABASE_URL ? (['memory', ...(TEST_REDIS_URL ? (['bullmq'] as const) : [])] as const) : [])(
  'reusable-chat worker SIGKILLed mid-email (queue: %s)',
  (queue) => {
    let stack: TestStack;
    let tenant: Tenant;
    let dataDir: string;
    const prefix = `rc-h-wk-email-crash-${process.pid}-${Date.now()}:`;
    const children: ChildProcess[] = [];
    const mails: { to: string; raw: string }[] = [];
    let phase: 'hold' | 'pass' = 'hold';
    let heldRcpt = false;
    let acceptAfter: (() => void) | undefined;
    let smtp: SMTPServer;
    let smtpPort = 0;

    function spawnWorker(): Promise<ChildProcess> {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.REDIS_URL;
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker'], {
        cwd: ROOT,
        env: {
          ...env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATA_DIR: dataDir,
          APP_SECRET,
          DATABASE_URL: stack.testDb.url!,
          SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
          MAIL_FROM: 'Chat <chat@example.test>',
          ...(queue === 'bullmq' ? { REDIS_URL: TEST_REDIS_URL!, REDIS_PREFIX: prefix } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      return new Promise((resolve, reject) => {
        let out = '';
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('roles: worker')) resolve(child);
        });
        child.on('exit', (code) => reject(new Error(`worker exited early (${code}): ${err.slice(0, 2000)}`)));
      });
    }
    const exited = (child: ChildProcess) =>
      new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

    beforeAll(async () => {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-email-crash-'));
      smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onRcptTo(address, _session, callback) {
          // "before": never answered while holding; the worker dies waiting for it.
          if (phase === 'hold' && address.address.startsWith('before')) {
            heldRcpt = true;
            return;
          }
          callback();
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const to = session.envelope.rcptTo[0]!.address;
            const accept = () => {
              mails.push({ to, raw: Buffer.concat(chunks).toString('utf8') });
              callback();
            };
            // "after": the whole message is here; it is accepted once the test has killed the worker.
            if (phase === 'hold' && to.startsWith('after')) acceptAfter = accept;
            else accept();
          });
        },
      });
      await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
      smtpPort = (smtp.server.address() as AddressInfo).port;
      stack = await startStack({ backend: 'postgres' });
      tenant = await createTenant(stack.db);
    }, 60_000);
    afterAll(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.all(children.map(exited));
      await stack?.close();
      await new Promise<void>((resolve) => smtp?.close(() => resolve()));
      rmSync(dataDir, { recursive: true, force: true });
      // BullMQ's keys have no expiry: a run that left them would grow the shared Redis by every run.
      await deleteRedisPrefix(prefix);
    });

    const api = (method: 'POST', url: string, payload: unknown) =>
      stack.app.inject({ method, url, headers: { 'x-api-key': tenant.apiKey, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

    it('sends the email killed before the handover once, and the one killed after it once more — never zero, never more', async () => {
      const guests = { before: 'before@example.test', after: 'after@example.test' };
      const ids: Record<string, string> = {};
      expect((await api('POST', '/api/v1/users', { external_id: 'host', name: 'Host' })).statusCode).toBe(201);
      for (const [key, email] of Object.entries(guests)) {
        const user = await api('POST', '/api/v1/users', { external_id: key, name: key, email });
        expect(user.statusCode, user.body).toBe(201);
        ids[key] = user.json().id as string;
        const conv = await api('POST', '/api/v1/conversations', { participants: [{ external_id: key, role: 'guest' }, { external_id: 'host', role: 'host' }] });
        expect(conv.statusCode, conv.body).toBe(201);
        const sent = await api('POST', `/api/v1/conversations/${conv.json().id}/messages`, { sender_external_id: 'host', content: `hello ${key}` });
        expect(sent.statusCode, sent.body).toBe(201);
      }
      // The messages are 20 minutes old: due as soon as a worker scans (it does at start).
      await stack.db.update(schema.messages).set({ createdAt: BACKDATE }).where(eq(schema.messages.workspaceId, tenant.workspaceId));
      await stack.db.update(schema.conversations).set({ lastMessageAt: BACKDATE }).where(eq(schema.conversations.workspaceId, tenant.workspaceId));
      const notified = async () =>
        (
          await stack.db
            .select({ chatUserId: schema.participants.chatUserId, seq: schema.participants.lastNotifiedSeq })
            .from(schema.participants)
            .where(and(eq(schema.participants.workspaceId, tenant.workspaceId), inArray(schema.participants.chatUserId, Object.values(ids))))
        ).filter((p) => p.seq > 0).length;
      const sentAudits = async () =>
        (
          await stack.db
            .select({ id: schema.auditLog.id })
            .from(schema.auditLog)
            .where(and(eq(schema.auditLog.workspaceId, tenant.workspaceId), eq(schema.auditLog.action, 'email.missed_message.sent')))
        ).length;

      const first = await spawnWorker();
      await waitFor(() => heldRcpt && acceptAfter !== undefined, 30_000);
      first.kill('SIGKILL');
      await exited(first);
      // The provider now has "after"; the dead worker recorded nothing for either.
      acceptAfter!();
      expect(mails.map((m) => m.to)).toEqual([guests.after]);
      expect(await notified()).toBe(0);
      expect(await sentAudits()).toBe(0);

      phase = 'pass';
      const second = await spawnWorker();
      await waitFor(async () => (await notified()) === 2 && (await sentAudits()) === 2, 100_000);
      second.kill('SIGTERM');
      await exited(second);
      const to = (address: string) => mails.filter((m) => m.to === address);
      expect(to(guests.before)).toHaveLength(1);
      expect(to(guests.after)).toHaveLength(2);
      expect(to(guests.after)[1]!.raw).toContain('hello after');
    }, 150_000);
  },
);
