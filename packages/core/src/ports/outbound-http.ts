/**
 * Server-side HTTP to URLs a tenant chose (webhook targets). The implementation must refuse private,
 * loopback and link-local addresses at connect time (checklist O-01…O-03), never follow redirects (O-02),
 * cap the response size and the total time (O-04). Callers learn only status and latency, never the
 * response body (O-05).
 */
export interface OutboundHttpRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs?: number;
}

export type OutboundHttpFailure =
  | 'invalid_url'
  | 'blocked_address'
  | 'timeout'
  | 'connection_failed'
  | 'response_too_large';

export type OutboundHttpResult =
  | { readonly ok: true; readonly status: number; readonly latencyMs: number }
  | { readonly ok: false; readonly failure: OutboundHttpFailure; readonly message: string; readonly latencyMs: number };

export interface OutboundHttpClient {
  /** POSTs `body`; resolves for every outcome (a non-2xx status is `ok: true` with that status). */
  post(request: OutboundHttpRequest): Promise<OutboundHttpResult>;
}
