import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Transporter } from 'nodemailer';
import type { Mailer, MailMessage } from '@reusable-chat/core/ports';

/**
 * Sends through SMTP when a URL is configured; otherwise writes RFC 822 `.eml` files into `DATA_DIR/mail`
 * (SPEC §1 embedded default) using nodemailer's own stream transport, so the files are what SMTP would carry.
 */
export class NodemailerMailer implements Mailer {
  /** nodemailer is loaded with the first email: a server that sends none never loads it. */
  private transport: Promise<Transporter> | undefined;
  constructor(
    private readonly options: { from: string; smtpUrl?: string | undefined; mailDir: string },
  ) {}

  private load(): Promise<Transporter> {
    this.transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      this.options.smtpUrl
        ? nodemailer.createTransport(this.options.smtpUrl)
        : nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }),
    );
    return this.transport;
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const transport = await this.load();
    const info = await transport.sendMail({
      from: this.options.from,
      to: message.to,
      subject: message.subject,
      html: message.html,
      text: message.text,
      headers: message.headers ? { ...message.headers } : undefined,
    });
    if (!this.options.smtpUrl) {
      await mkdir(this.options.mailDir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`;
      await writeFile(`${this.options.mailDir}/${name}`, (info as unknown as { message: Buffer }).message);
    }
    return { messageId: String(info.messageId) };
  }

  async close(): Promise<void> {
    (await this.transport)?.close();
  }
}
