import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLoggerFactory, loggerOptions } from '../../apps/server/src/logger.ts';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';

function capture(level: string): { logger: FastifyBaseLogger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino(loggerOptions(level) as pino.LoggerOptions, stream) as unknown as FastifyBaseLogger;
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const make = (parent: FastifyBaseLogger, bindings: Record<string, unknown>, options: Record<string, unknown> = {}) =>
  lazyChildLoggerFactory.call({} as FastifyInstance, parent, bindings, options, {} as never);

describe('request loggers made on first use', () => {
  it('drops disabled levels, writes enabled ones with the bindings and the redaction of an eager child', async () => {
    const { logger, lines } = capture('warn');
    const child = make(logger, { reqId: 'req-1' });
    child.info('not written');
    child.debug({ a: 1 }, 'not written');
    child.warn({ user: { token: 'secret-token' } }, 'written');
    child.error('also written');
    await new Promise((r) => setImmediate(r));
    const out = lines();
    expect(out.map((l) => l.msg)).toEqual(['written', 'also written']);
    expect(out[0]).toMatchObject({ reqId: 'req-1', level: 40, user: { token: '[REDACTED]' } });
    expect(child.level).toBe('warn');
  });

  it('honours a route log level given in the child options, and nests children', async () => {
    const { logger, lines } = capture('warn');
    const child = make(logger, { reqId: 'req-2' }, { level: 'debug' });
    child.debug('route debug');
    child.child({ module: 'x' }).info('nested');
    await new Promise((r) => setImmediate(r));
    expect(lines().map((l) => [l.msg, l.reqId])).toEqual([
      ['route debug', 'req-2'],
      ['nested', 'req-2'],
    ]);
  });
});
