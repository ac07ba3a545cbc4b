import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMissedMessageCandidates, previewMissedMessageEmail, type MissedMessageOutcome } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { MemoryChannelState, MemoryRateLimiter } from '@reusable-chat/drivers';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { loadConfig } from '@reusable-chat/config';
import { composeDeps } from '../../apps/server/src/compose.ts';
import type { AppDeps } from '../../apps/server/src/deps.ts';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { runMissedMessageJob, type MissedMessageContext } from '../../apps/server/src/worker/missed-message.jobs.ts';
import { waitFor } from './receiver.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const DEFAULT_DELAY_MS = 15 * 60_000; // policy.schema.ts default delay_minutes

describe.each(backends)('missed-message email (%s)', (backend) => {
  let stack: TestStack;
  let smtp: SmtpSink;
  let worker: RunningWorker;
  let offsetMs = 0;
  const channelState = new MemoryChannelState();
  let ctx: MissedMessageContext;

  const api = (tenant: Tenant, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    stack.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });

  async function user(tenant: Tenant, externalId: string, name: string, email: string | null) {
    const res = await api(tenant, 'POST', '/api/v1/users', { external_id: externalId, name, ...(email ? { email } : {}) });
    expect([200, 201], res.body).toContain(res.statusCode);
    return res.json() as { id: string };
  }

  async function conversation(tenant: Tenant, guest: string, host: string, extra: Record<string, unknown> = {}) {
    const res = await api(tenant, 'POST', '/api/v1/conversations', {
      participants: [
        { external_id: guest, role: 'guest' },
        { external_id: host, role: 'host' },
      ],
      ...extra,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string };
  }

  async function send(tenant: Tenant, conversationId: string, sender: string, content: string) {
    const res = await api(tenant, 'POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: sender, content });
    expect(res.statusCode, res.body).toBe(201);
  }

  const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address));
  /** Header folding (RFC 5322) joined back into one line. */
  const unfold = (raw: string) => raw.replace(/\r?\n[ \t]+/g, ' ');
  const htmlPart = (raw: string) => raw.slice(raw.indexOf('Content-Type: text/html'));
  /**
   * One scan, run to completion in the test: every candidate through the same job handler the worker uses, so
   * assertions read outcomes instead of waiting for something not to happen. Keyed by recipient chat user id.
   */
  async function runScan(): Promise<Map<string, MissedMessageOutcome>> {
    const outcomes = new Map<string, MissedMessageOutcome>();
    for (const job of await findMissedMessageCandidates({ db: stack.db, now: ctx.now(), minDelayMs: 60_000 })) {
      outcomes.set(job.chatUserId, await runMissedMessageJob(ctx, job));
    }
    return outcomes;
  }

  beforeAll(async () => {
    smtp = await startSmtpSink();
    stack = await startStack({ backend, env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM: 'Chat <chat@example.test>' } });
    // The worker sees a clock that can jump past the policy delay, and the realtime presence state.
    const deps: AppDeps = { ...stack.deps, clock: { now: () => new Date(Date.now() + offsetMs) }, channelState };
    worker = await startWorker(deps, { logger: silent, missedMessageScanIntervalMs: 3_600_000, relayIntervalMs: 60_000 });
    ctx = {
      db: stack.db,
      queue: stack.deps.queue,
      mailer: stack.deps.mailer,
      appUrl: stack.deps.config.appUrl,
      secret: stack.deps.appSecret,
      now: () => new Date(Date.now() + offsetMs),
      isOnline: async (_w, chatUserId) => (await channelState.channelCounts(`private-user.${chatUserId}`)).subscriptionCount > 0,
      rateLimiter: new MemoryRateLimiter(),
      log: silent,
    };
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
    await stack?.deps.mailer.close();
    await smtp?.close();
  });

  it('sends one grouped, escaped email per conversation after the delay, and only once (worker end to end)', async () => {
    offsetMs = 0;
    const tenant = await createTenant(stack.db, { name: 'Acme <Rentals>' });
    const gina = await user(tenant, 'guest-1', '<b>Gina</b>', 'gina@example.test');
    await user(tenant, 'host-1', 'Hal & Co', 'hal@example.test');
    const conv = await conversation(tenant, 'guest-1', 'host-1', { subject: 'booking:1' });
    await send(tenant, conv.id, 'host-1', 'Hello <script>alert(1)</script>');
    await send(tenant, conv.id, 'host-1', 'Are you still coming?');

    // Two minutes on, not yet N (15): the handler defers.
    offsetMs = 2 * 60_000;
    expect((await runScan()).get(gina.id)).toEqual({ outcome: 'deferred', reason: 'not_due' });

    // After the delay the worker's own scan and queue send it over real SMTP.
    offsetMs = DEFAULT_DELAY_MS + 60_000;
    await worker.scanMissedMessagesNow();
    await waitFor(() => mailsTo('gina@example.test').length === 1);
    const mail = mailsTo('gina@example.test')[0]!.raw;
    expect(mail).toContain('Subject: 2 new messages in booking:1');
    const html = htmlPart(mail);
    expect(html).toContain('Hal &amp; Co:</strong> Hello &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Hi &lt;b&gt;Gina&lt;/b&gt;');
    expect(html).toContain('Are you still coming?');
    expect(unfold(mail)).toMatch(/List-Unsubscribe: <http:\/\/localhost:\d+\/api\/notifications\/unsubscribe\?token=[^>]+>/);
    expect(mail).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');

    // Covered now (once the worker recorded it): neither the recipient nor the sender is a candidate any more.
    await waitFor(async () => {
      const [p] = await stack.db
        .select()
        .from(schema.participants)
        .where(and(eq(schema.participants.conversationId, conv.id), eq(schema.participants.chatUserId, gina.id)));
      return p!.lastNotifiedSeq === 2;
    });
    expect((await runScan()).has(gina.id)).toBe(false);
    expect(mailsTo('hal@example.test')).toHaveLength(0);
    expect(mailsTo('gina@example.test')).toHaveLength(1);

    // A later message starts a new batch: one more email with only the new message.
    await send(tenant, conv.id, 'host-1', 'Last call');
    offsetMs += DEFAULT_DELAY_MS + 60_000;
    expect((await runScan()).get(gina.id)).toEqual({ outcome: 'sent', messageCount: 1, upToSeq: 3 });
    expect(mailsTo('gina@example.test')).toHaveLength(2);
    expect(mailsTo('gina@example.test')[1]!.raw).toContain('Subject: 1 new message in booking:1');
    expect(mailsTo('gina@example.test')[1]!.raw).not.toContain('Are you still coming?');
  });

  it('skips users who are online, who read the messages, or whose configuration turns emails off', async () => {
    offsetMs = 0;
    const tenant = await createTenant(stack.db);
    const online = await user(tenant, 'guest-on', 'Olive', 'olive@example.test');
    await user(tenant, 'guest-read', 'Rita', 'rita@example.test');
    const otto = await user(tenant, 'guest-off', 'Otto', 'otto@example.test');
    await user(tenant, 'host-2', 'Host', 'host2@example.test');
    const c1 = await conversation(tenant, 'guest-on', 'host-2');
    const c2 = await conversation(tenant, 'guest-read', 'host-2');
    await stack.db
      .update(schema.widgetConfigs)
      .set({ policies: { missed_message_email: { enabled: false } } })
      .where(and(eq(schema.widgetConfigs.workspaceId, tenant.workspaceId), eq(schema.widgetConfigs.slug, 'guest-host')));
    const c3 = await conversation(tenant, 'guest-off', 'host-2', { widget: 'guest-host' });
    for (const c of [c1, c2, c3]) await send(tenant, c.id, 'host-2', 'ping');
    // Rita reads (the receipts path: participants.last_read_seq).
    const [rita] = await stack.db.select().from(schema.chatUsers).where(eq(schema.chatUsers.externalId, 'guest-read'));
    await stack.db
      .update(schema.participants)
      .set({ lastReadSeq: 1 })
      .where(and(eq(schema.participants.conversationId, c2.id), eq(schema.participants.chatUserId, rita!.id)));
    await channelState.addSubscription(`private-user.${online.id}`);

    offsetMs = DEFAULT_DELAY_MS + 60_000;
    const outcomes = await runScan();
    expect(outcomes.get(online.id)).toEqual({ outcome: 'deferred', reason: 'online' });
    expect(outcomes.has(rita!.id)).toBe(false); // read: not even a candidate
    expect(outcomes.get(otto.id)).toEqual({ outcome: 'skipped', reason: 'disabled' });
    expect(mailsTo('olive@example.test')).toHaveLength(0);
    expect(mailsTo('rita@example.test')).toHaveLength(0);
    expect(mailsTo('otto@example.test')).toHaveLength(0);

    // Olive goes offline: the deferred batch is emailed on a later scan; Otto's was settled, not retried.
    await channelState.removeSubscription(`private-user.${online.id}`);
    const later = await runScan();
    expect(later.get(online.id)).toMatchObject({ outcome: 'sent' });
    expect(later.has(otto.id)).toBe(false);
    expect(mailsTo('olive@example.test')).toHaveLength(1);
  });

  it('caps emails per workspace per day and audits the skip; sending messages keeps working (F-15)', async () => {
    offsetMs = 0;
    const tenant = await createTenant(stack.db);
    await stack.db.update(schema.workspaces).set({ settings: { email_daily_cap: 1 } }).where(eq(schema.workspaces.id, tenant.workspaceId));
    await user(tenant, 'host-3', 'Host', null);
    for (const g of ['cap-a', 'cap-b', 'cap-c']) {
      await user(tenant, g, g, `${g}@example.test`);
      const c = await conversation(tenant, g, 'host-3');
      await send(tenant, c.id, 'host-3', `hello ${g}`);
    }
    offsetMs = DEFAULT_DELAY_MS + 60_000;
    const outcomes = [...(await runScan()).values()];
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'skipped' && o.reason === 'daily_cap')).toHaveLength(2);
    const sent = smtp.mails.filter((m) => m.to.some((t) => t.startsWith('cap-')));
    expect(sent).toHaveLength(1);
    const audits = await stack.db
      .select()
      .from(schema.auditLog)
      .where(and(eq(schema.auditLog.workspaceId, tenant.workspaceId), eq(schema.auditLog.action, 'email.missed_message.skipped_daily_cap')));
    expect(audits).toHaveLength(1);
    const c = await conversation(tenant, 'cap-a', 'host-3');
    await send(tenant, c.id, 'host-3', 'still works');
    // The cap is this workspace's: another workspace's email still goes out, with only its own data (T-17).
    const other = await createTenant(stack.db);
    const olga = await user(other, 'cap-other', 'Olga', 'olga@example.test');
    await user(other, 'host-other', 'Other host', null);
    const oc = await conversation(other, 'cap-other', 'host-other');
    await send(other, oc.id, 'host-other', 'hello from the other workspace');
    offsetMs += DEFAULT_DELAY_MS + 60_000;
    expect((await runScan()).get(olga.id)).toMatchObject({ outcome: 'sent' });
    const [olgas] = mailsTo('olga@example.test');
    expect(olgas!.raw).toContain('hello from the other workspace');
    expect(olgas!.raw).not.toContain('hello cap-');
  });

  it('runs the job idempotently: the same job twice sends one email (F-11)', async () => {
    offsetMs = 0;
    const tenant = await createTenant(stack.db);
    const guest = await user(tenant, 'guest-idem', 'Ida', 'ida@example.test');
    await user(tenant, 'host-idem', 'Host', null);
    const conv = await conversation(tenant, 'guest-idem', 'host-idem');
    await send(tenant, conv.id, 'host-idem', 'once');
    offsetMs = DEFAULT_DELAY_MS + 60_000;
    const job = { workspaceId: tenant.workspaceId, conversationId: conv.id, chatUserId: guest.id, fromSeq: 0 };
    const first = await runMissedMessageJob(ctx, job);
    const second = await runMissedMessageJob(ctx, job);
    expect(first).toMatchObject({ outcome: 'sent', messageCount: 1 });
    expect(second).toMatchObject({ outcome: 'skipped', reason: 'nothing_unread' });
    expect(mailsTo('ida@example.test')).toHaveLength(1);
    // The scan finds nothing left for this participant either.
    expect((await runScan()).has(guest.id)).toBe(false);
    expect(mailsTo('ida@example.test')).toHaveLength(1);
  });

  it('unsubscribes through the link: GET only confirms, POST opts out, a forged token is refused', async () => {
    offsetMs = 0;
    const tenant = await createTenant(stack.db);
    await user(tenant, 'guest-unsub', 'Uma', 'uma@example.test');
    await user(tenant, 'host-unsub', 'Host', null);
    const conv = await conversation(tenant, 'guest-unsub', 'host-unsub');
    await send(tenant, conv.id, 'host-unsub', 'first');
    offsetMs = DEFAULT_DELAY_MS + 60_000;
    await runScan();
    const [mail] = mailsTo('uma@example.test');
    const link = /List-Unsubscribe: <(http[^>]+)>/.exec(unfold(mail!.raw))![1]!;
    const path = new URL(link).pathname + new URL(link).search;

    const confirm = await stack.app.inject({ method: 'GET', url: path });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('<form method="post"');
    const [before] = await stack.db.select().from(schema.chatUsers).where(eq(schema.chatUsers.externalId, 'guest-unsub'));
    expect(before!.emailOptOutAt).toBeNull();

    const forged = path.replace(/token=([^&]+)/, (_m, t: string) => `token=${t.slice(0, -2)}xx`);
    expect((await stack.app.inject({ method: 'POST', url: forged })).statusCode).toBe(404);
    const done = await stack.app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(done.statusCode, done.body).toBe(200);
    const [after] = await stack.db.select().from(schema.chatUsers).where(eq(schema.chatUsers.externalId, 'guest-unsub'));
    expect(after!.emailOptOutAt).toBeInstanceOf(Date);

    await send(tenant, conv.id, 'host-unsub', 'second');
    offsetMs += DEFAULT_DELAY_MS + 60_000;
    const [uma] = await stack.db.select().from(schema.chatUsers).where(eq(schema.chatUsers.externalId, 'guest-unsub'));
    expect((await runScan()).has(uma!.id)).toBe(false);
    expect(mailsTo('uma@example.test')).toHaveLength(1);
  });

  it('uses the workspace’s own template when it has one', async () => {
    offsetMs = 0;
    const tenant = await createTenant(stack.db);
    await stack.db.insert(schema.emailTemplates).values({
      workspaceId: tenant.workspaceId,
      key: 'missed_message',
      subject: 'Custom: {{message_count}} for {{recipient_name}}',
      html: '<p>Custom {{recipient_name}}</p>{{messages_html}}<a href="{{unsubscribe_url}}">u</a>',
      text: 'Custom {{recipient_name}}\n{{messages_text}}',
    });
    await user(tenant, 'guest-tpl', 'Tia', 'tia@example.test');
    await user(tenant, 'host-tpl', 'Host', null);
    const conv = await conversation(tenant, 'guest-tpl', 'host-tpl');
    await send(tenant, conv.id, 'host-tpl', 'templated');
    offsetMs = DEFAULT_DELAY_MS + 60_000;
    await runScan();
    const [mail] = mailsTo('tia@example.test');
    expect(mail!.raw).toContain('Subject: Custom: 1 for Tia');
    expect(mail!.raw).toContain('<p>Custom Tia</p>');
  });

  it('previews a widget configuration’s template with sample data, escaped like a real send, within its workspace', async () => {
    const tenant = await createTenant(stack.db, { name: 'Rentals <b>&</b> Co' });
    const other = await createTenant(stack.db);
    const [config] = await stack.db
      .insert(schema.widgetConfigs)
      .values({ workspaceId: tenant.workspaceId, slug: 'vip', name: 'VIP', policies: { missed_message_email: { template_key: 'vip' } } })
      .returning({ id: schema.widgetConfigs.id });
    await stack.db.insert(schema.emailTemplates).values({
      workspaceId: tenant.workspaceId,
      key: 'vip',
      subject: 'VIP {{message_count_label}} for {{recipient_name}}',
      html: '<h1>{{workspace_name}}</h1>{{messages_html}}<a href="{{unsubscribe_url}}">u</a>',
      text: '{{workspace_name}}: {{messages_text}}',
    });
    const appUrl = stack.deps.config.appUrl;
    const preview = await previewMissedMessageEmail({ db: stack.db, workspaceId: tenant.workspaceId, widgetConfigId: config!.id, appUrl });
    expect(preview.templateKey).toBe('vip');
    expect(preview.subject).toBe('VIP 2 new messages for Alex Example');
    expect(preview.html).toContain('<h1>Rentals &lt;b&gt;&amp;&lt;/b&gt; Co</h1>');
    expect(preview.html).toContain('<li><strong>Sam:</strong> Hi! Is the flat still free next weekend?</li>');
    expect(preview.text).toBe('Rentals <b>&</b> Co: Sam: Hi! Is the flat still free next weekend?\nSam: We would arrive on Friday evening.');
    // Sample data can be overridden (markup in it is escaped), and a draft is rendered before it is saved.
    const draft = await previewMissedMessageEmail({
      db: stack.db,
      workspaceId: tenant.workspaceId,
      appUrl,
      draft: { subject: 'Draft {{conversation_title}}', html: '<p>{{recipient_name}}</p>', text: '{{recipient_name}}' },
      sample: { recipientName: '<img src=x onerror=alert(1)>' },
    });
    expect(draft).toMatchObject({ templateKey: 'missed_message', subject: 'Draft Booking #1234', html: '<p>&lt;img src=x onerror=alert(1)&gt;</p>' });
    // Without a configuration the default key, and the built-in template (this workspace has no missed_message row).
    expect((await previewMissedMessageEmail({ db: stack.db, workspaceId: tenant.workspaceId, appUrl })).html).toContain('Unsubscribe</a>');
    // Another workspace cannot preview (or learn about) this configuration (T-17).
    await expect(previewMissedMessageEmail({ db: stack.db, workspaceId: other.workspaceId, widgetConfigId: config!.id, appUrl })).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
  });
});

describe('embedded mode without SMTP_URL: .eml files in DATA_DIR/mail', () => {
  it('writes one RFC 822 file per email, as SMTP would carry it', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-eml-'));
    try {
      const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, MAIL_FROM: 'Chat <chat@example.test>' });
      expect(config.mail.smtpUrl).toBeUndefined();
      const deps = await composeDeps({ config, roles: ['worker'] });
      try {
        await deps.mailer.send({
          to: 'eve@example.test',
          subject: '2 new messages in booking:1',
          html: '<p>Hi Eve</p>',
          text: 'Hi Eve',
          headers: { 'List-Unsubscribe': '<https://chat.example.test/u?token=t>' },
        });
      } finally {
        await deps.dispose();
      }
      const files = readdirSync(path.join(dataDir, 'mail'));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/\.eml$/);
      const eml = readFileSync(path.join(dataDir, 'mail', files[0]!), 'utf8');
      expect(eml).toMatch(/^From: Chat <chat@example\.test>$/m);
      expect(eml).toMatch(/^To: eve@example\.test$/m);
      expect(eml).toMatch(/^Subject: 2 new messages in booking:1$/m);
      expect(eml).toMatch(/^List-Unsubscribe: <https:\/\/chat\.example\.test\/u\?token=t>$/m);
      expect(eml).toContain('Content-Type: text/html');
      expect(eml).toContain('<p>Hi Eve</p>');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
