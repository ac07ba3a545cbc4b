/** The slice of pino the worker uses; Fastify's `app.log` and a plain pino logger both fit. */
export interface WorkerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
