export interface RateLimitResult {
  readonly allowed: boolean;
  readonly remaining: number;
  /** Seconds until the window frees a slot; used for Retry-After. */
  readonly retryAfterS: number;
}
export interface RateLimiter {
  /** Counts one hit for `key` within a sliding/fixed window of `windowS` seconds. */
  hit(key: string, limit: number, windowS: number): Promise<RateLimitResult>;
}
