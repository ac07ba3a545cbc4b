import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

/** Query parameters whose values never reach a log line (checklist S-02). */
const SENSITIVE_QUERY = /^(auth_signature|signature|token|access_token|api_key|key|sig|expires|code)$/i;

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) if (SENSITIVE_QUERY.test(name)) params.set(name, '[REDACTED]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

export function loggerOptions(level: string): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        'req.headers["x-csrf-token"]',
        'req.headers["x-xsrf-token"]',
        'res.headers["set-cookie"]',
        '*.password',
        '*.token',
        '*.api_key',
        '*.secret',
      ],
      censor: '[REDACTED]',
    },
    serializers: {
      req(req: { method: string; url: string; id: string; ip?: string }) {
        return { id: req.id, method: req.method, url: redactUrl(req.url), ip: req.ip };
      },
    },
  };
}

type LogMethod = (...args: unknown[]) => void;
type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Fastify makes a child logger for every request (its request id as a binding). With redaction configured,
 * pino's child() is one of the dearer steps of a request that never logs — the common case at `warn` and
 * above. This child is made on the first call at an enabled level; until then calls at disabled levels
 * return at once, and the output of any line is the same as with an eager child.
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.options) as FastifyBaseLogger);
  }

  #write(level: LogLevel, args: unknown[]): void {
    if (this.#child) {
      (this.#child[level] as LogMethod)(...args);
      return;
    }
    const values = this.parent.levels.values;
    const threshold = this.options.level !== undefined ? (values[this.options.level] ?? this.parent.levelVal) : this.parent.levelVal;
    if ((values[level] ?? 0) >= threshold) (this.#real()[level] as LogMethod)(...args);
  }

  get level(): string {
    return this.#child?.level ?? this.options.level ?? this.parent.level;
  }

  set level(value: string) {
    this.#real().level = value;
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }

  error(...args: unknown[]): void {
    this.#write('error', args);
  }

  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }

  info(...args: unknown[]): void {
    this.#write('info', args);
  }

  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }

  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: request loggers made only when a request logs (see LazyChildLogger). */
export const lazyChildLoggerFactory: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) =>
  isPino(logger) ? (new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger) : logger.child(bindings, options);

/** Fastify's stand-in when logging is off has no levels to consult; it is cheap to call anyway. */
function isPino(logger: FastifyBaseLogger): logger is FastifyBaseLogger & Logger {
  const candidate = logger as Partial<Logger>;
  return typeof candidate.levelVal === 'number' && typeof candidate.levels?.values === 'object';
}
