import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Mailer, MailMessage } from '@reusable-chat/core/ports';

/**
 * Sends through SMTP when a URL is configured; otherwise writes RFC 822 `.eml` files into `DATA_DIR/mail`
 * (SPEC §1 embedded default) using nodemailer's own stream transport, so the files are what SMTP would carry.
 */
export class NodemailerMailer implements Mailer {
  private readonly transport: Transporter;
  constructor(
    private readonly options: { from: string; smtpUrl?: string | undefined; mailDir: string },
  ) {
    this.transport = options.smtpUrl
      ? nodemailer.createTransport(options.smtpUrl)
      : nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const info = await this.transport.sendMail({
      from: this.options.from,
      to: message.to,
      subject: message.subject,
      html: message.html,
      text: message.text,
      headers: message.headers ? { ...message.headers } : undefined,
    });
    if (!this.options.smtpUrl) {
      await mkdir(this.options.mailDir, { recursive: true });
      const { writeFile } = await import('node:fs/promises');
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`;
      await writeFile(`${this.options.mailDir}/${name}`, (info as unknown as { message: Buffer }).message);
    }
    return { messageId: String(info.messageId) };
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
