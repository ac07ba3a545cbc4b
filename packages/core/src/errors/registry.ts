/**
 * One error registry for every boundary (ARCHITECTURE.md convention 4). Handlers throw `AppError`;
 * each transport translates it in one place (HTTP: the Fastify error handler; realtime: pusher:error).
 * Every code here is documented in docs/errors.md — a test keeps the two in step.
 */
export const errorRegistry = {
  // 400 — the request could not be read
  malformed_request: { status: 400, message: 'The request body or query could not be parsed.' },
  invalid_cursor: { status: 400, message: 'The cursor is invalid or belongs to another list.' },
  // 401 — who are you?
  unauthenticated: { status: 401, message: 'Missing or invalid credentials.' },
  session_expired: { status: 401, message: 'The session has expired or was revoked.' },
  // 403 — you may not
  forbidden: { status: 403, message: 'This credential may not perform this action.' },
  csrf_failed: { status: 403, message: 'The CSRF token is missing or does not match.' },
  origin_not_allowed: { status: 403, message: 'This origin is not allowed for the workspace.' },
  workspace_suspended: { status: 403, message: 'The workspace is suspended.' },
  user_banned: { status: 403, message: 'This user is banned from the workspace.' },
  user_blocked: { status: 403, message: 'The other participant has blocked this user.' },
  // 404 — includes every cross-tenant id (never 403, so existence does not leak)
  not_found: { status: 404, message: 'The resource does not exist.' },
  route_not_found: { status: 404, message: 'No such route.' },
  // 409
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  idempotency_in_progress: { status: 409, message: 'A request with this Idempotency-Key is still in progress.' },
  // 413 / 415
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'This content type is not supported.' },
  // 422 — understood but refused
  validation_failed: { status: 422, message: 'The request did not pass validation.' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was used with a different request.' },
  policy_rejected: { status: 422, message: 'The message was rejected by the conversation policy.' },
  conversation_closed: { status: 422, message: 'The conversation is closed.' },
  // 429
  rate_limited: { status: 429, message: 'Too many requests; retry after the indicated time.' },
  // 500 / 503 — never with internals
  internal_error: { status: 500, message: 'An unexpected error occurred.' },
  service_unavailable: { status: 503, message: 'A dependency is unavailable; retry shortly.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorRegistry;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    /** Seconds, sent as Retry-After with 429 and 503. */
    readonly retryAfterS?: number,
  ) {
    super(message ?? errorRegistry[code].message);
    this.name = 'AppError';
    this.status = errorRegistry[code].status;
  }
}

export const notFound = (what?: string): AppError =>
  new AppError('not_found', what ? `${what} not found.` : undefined);

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
