import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';

export interface EmailTemplate {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

/**
 * Built-in defaults; a workspace row (email_templates.workspace_id = the workspace) overrides the platform row
 * (workspace_id null), which overrides these. Variables are `{{name}}`; see renderEmailTemplate.
 */
export const DEFAULT_EMAIL_TEMPLATES: Readonly<Record<string, EmailTemplate>> = {
  missed_message: {
    subject: '{{message_count_label}} in {{conversation_title}}',
    html: [
      '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#1f2937">',
      '<p>Hi {{recipient_name}},</p>',
      '<p>You have {{message_count_label}} in <strong>{{conversation_title}}</strong> ({{workspace_name}}):</p>',
      '{{messages_html}}',
      '<p><a href="{{conversation_url}}">Open the conversation</a></p>',
      '<p style="font-size:12px;color:#6b7280">You get this email because you were away when these messages arrived. ',
      '<a href="{{unsubscribe_url}}">Unsubscribe</a></p>',
      '</body></html>',
    ].join(''),
    text: [
      'Hi {{recipient_name}},',
      '',
      'You have {{message_count_label}} in {{conversation_title}} ({{workspace_name}}):',
      '',
      '{{messages_text}}',
      '',
      'Open the conversation: {{conversation_url}}',
      '',
      'Unsubscribe: {{unsubscribe_url}}',
    ].join('\n'),
  },
};

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * `{{name}}` substitution. In the HTML part every value is HTML-escaped — tenant and user text (names, message
 * content) can never inject markup — except the names in `trustedHtml`, which the caller built from escaped parts.
 * Unknown variables render empty. The subject loses line breaks (no header injection).
 */
export function renderEmailTemplate(
  template: EmailTemplate,
  vars: Readonly<Record<string, string>>,
  trustedHtml: ReadonlySet<string> = new Set(),
): EmailTemplate {
  const fill = (source: string, encode: (name: string, value: string) => string) =>
    source.replace(/\{\{\s*([a-z0-9_]+)\s*\}\}/g, (_m, name: string) => encode(name, vars[name] ?? ''));
  return {
    subject: fill(template.subject, (_n, v) => v).replace(/[\r\n]+/g, ' ').trim().slice(0, 250),
    html: fill(template.html, (n, v) => (trustedHtml.has(n) ? v : escapeHtml(v))),
    text: fill(template.text, (_n, v) => v),
  };
}

export async function loadEmailTemplate(params: { db: Executor; workspaceId: string; key: string }): Promise<EmailTemplate> {
  const t = schema.emailTemplates;
  const [own] = await params.db
    .select()
    .from(t)
    .where(and(eq(t.workspaceId, params.workspaceId), eq(t.key, params.key)))
    .limit(1);
  if (own) return own;
  const [platform] = await params.db
    .select()
    .from(t)
    .where(and(isNull(t.workspaceId), eq(t.key, params.key)))
    .limit(1);
  if (platform) return platform;
  return DEFAULT_EMAIL_TEMPLATES[params.key] ?? DEFAULT_EMAIL_TEMPLATES.missed_message!;
}
