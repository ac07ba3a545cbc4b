/** Which real backends the suite runs against (SPEC §1: real services when the URLs are set). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;

export type Backend = 'pglite' | 'postgres';
/** Use with describe.each: every behaviour runs on PGlite, and on PostgreSQL when TEST_DATABASE_URL is set. */
export const backends: Backend[] = ['pglite', ...(TEST_DATABASE_URL ? (['postgres'] as const) : [])];
