export interface RateLimitResult {
  readonly allowed: boolean;
  readonly remaining: number;
  /** Seconds until the window resets when nothing is left (refused, or the last unit used); 0 otherwise. For Retry-After. */
  readonly retryAfterS: number;
}
export interface RateLimiter {
  /**
   * Counts `cost` (default 1) against `key` within a fixed window of `windowS` seconds: requests per
   * minute, or bytes per day with the size as the cost. A cost of 0 reads the count without adding to it.
   */
  hit(key: string, limit: number, windowS: number, cost?: number): Promise<RateLimitResult>;
}
