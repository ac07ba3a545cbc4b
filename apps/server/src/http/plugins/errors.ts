import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError, errorRegistry, type ErrorCode } from '@reusable-chat/core';

interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: ErrorCode, message?: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message: message ?? errorRegistry[code].message, ...(details ? { details } : {}) } };
}

/** Fastify's own error codes mapped onto the registry, so clients see one vocabulary. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_request',
  FST_ERR_INVALID_URL: 'malformed_request',
  FST_ERR_BAD_URL: 'malformed_request',
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_FILES_LIMIT: 'payload_too_large',
  FST_PARTS_LIMIT: 'payload_too_large',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
};

/**
 * The one place HTTP errors are translated (ARCHITECTURE.md convention 4). Never a stack trace, never SQL:
 * anything unrecognised is logged with its request id and answered as internal_error.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    if (err instanceof AppError) {
      if (err.retryAfterS !== undefined) reply.header('retry-after', String(err.retryAfterS));
      return reply.code(err.status).send(errorBody(err.code, err.message, err.details));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        path: v.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.'),
        message: v.message ?? 'invalid',
        location: (err as FastifyError).validationContext ?? 'body',
      }));
      return reply.code(422).send(errorBody('validation_failed', undefined, { issues }));
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ err: { message: err.message, issues: err.cause.issues } }, 'response failed its schema');
      return reply.code(500).send(errorBody('internal_error'));
    }
    const fe = err as FastifyError;
    if (fe.code && fastifyCodes[fe.code]) {
      return reply.code(errorRegistry[fastifyCodes[fe.code]!].status).send(errorBody(fastifyCodes[fe.code]!));
    }
    if (fe.statusCode === 429) {
      return reply.code(429).send(errorBody('rate_limited'));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      // e.g. a SyntaxError from the JSON parser or a body parser error without a known code.
      return reply.code(fe.statusCode === 413 ? 413 : 400).send(errorBody(fe.statusCode === 413 ? 'payload_too_large' : 'malformed_request'));
    }
    if (isServiceUnavailable(err)) {
      request.log.warn({ err }, 'dependency unavailable');
      return reply.code(503).header('retry-after', '5').send(errorBody('service_unavailable'));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send(errorBody('internal_error'));
  });

  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send(errorBody('route_not_found'));
  });
}

function isServiceUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', '57P01', '57P03', '53300'].includes(code)
  );
}
