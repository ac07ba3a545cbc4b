/** Queue-level attempts when a handler throws (database or queue faults, not receiver failures), then dead letter. */
export const WORKER_JOB_ATTEMPTS = 5;
