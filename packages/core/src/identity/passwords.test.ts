import { describe, expect, it } from 'vitest';
import { hashPassword, passwordNeedsRehash, verifyPassword } from './passwords.ts';

describe('admin password hashing (scrypt)', () => {
  it('stores scrypt$N$r$p$salt$hash and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', stored)).toBe(false);
    expect(passwordNeedsRehash(stored)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same password')).not.toBe(await hashPassword('same password'));
  });

  it('reads the cost from the stored string, so older parameters still verify and ask for a re-hash', async () => {
    const stored = await hashPassword('pw-123456');
    const [, , , , salt] = stored.split('$');
    const { scryptSync } = await import('node:crypto');
    const weak = ['scrypt', 1024, 8, 1, salt, scryptSync('pw-123456', Buffer.from(salt!, 'base64url'), 32, { N: 1024, r: 8, p: 1 }).toString('base64url')].join('$');
    expect(await verifyPassword('pw-123456', weak)).toBe(true);
    expect(passwordNeedsRehash(weak)).toBe(true);
  });

  it('treats malformed or abusive stored hashes as a mismatch, never an exception', async () => {
    for (const stored of ['', 'plain', 'bcrypt$2b$10$x', 'scrypt$3$8$1$c2FsdA$aGFzaA', 'scrypt$1073741824$8$1$c2FsdA$aGFzaA', 'scrypt$32768$8$1$$']) {
      expect(await verifyPassword('whatever', stored)).toBe(false);
    }
  });
});
