/** An error answer of the API (`{"error":{"code","message","details"}}`) or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** Seconds from `Retry-After` (429/503), when the server sent one. */
  readonly retryAfterS: number | null;

  constructor(status: number, code: string, message: string, details?: unknown, retryAfterS: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterS = retryAfterS;
  }

  /** Worth retrying unchanged: the network, a timeout, rate limiting or a server-side failure. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export async function toApiError(res: Response): Promise<ApiError> {
  const retryAfter = Number(res.headers.get('retry-after'));
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let details: unknown;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
    details = body.error?.details;
  } catch {
    // not JSON (a proxy page): keep the status-derived code
  }
  return new ApiError(res.status, code, message, details, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null);
}

export function networkError(err: unknown): ApiError {
  return new ApiError(0, 'network_error', err instanceof Error ? err.message : 'Network request failed');
}
