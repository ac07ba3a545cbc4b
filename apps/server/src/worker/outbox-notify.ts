import { OUTBOX_NOTIFY_CHANNEL } from '@reusable-chat/core';
import type { Database } from '@reusable-chat/db';
import type { WorkerLogger } from './worker-logger.ts';

/** postgres-js' LISTEN API (the client drizzle's postgres-js driver exposes as `$client`). */
interface ListeningClient {
  listen(channel: string, onNotify: () => void, onListen?: () => void): Promise<{ unlisten(): Promise<void> }>;
}

/**
 * Wakes the relay when any process commits an outbox row (LISTEN on the channel enqueueOutbox NOTIFYs), so a
 * worker in its own process relays within milliseconds of the commit instead of at its next poll; the poll stays
 * as the safety net (a notification missed while the listening connection was reconnecting). postgres-js listens
 * on a connection of its own and re-listens after a reconnect; `onListen` then wakes the relay once more to pick
 * up whatever was committed meanwhile. Returns the function that stops listening; a failure to listen only logs.
 */
export async function listenForOutboxRows(db: Database, wake: () => void, log: WorkerLogger): Promise<() => Promise<void>> {
  const client = (db as unknown as { $client?: Partial<ListeningClient> & { exec?: unknown } }).$client;
  // PGlite is one process: rows written there are relayed through the in-process wake-up (outbox-hook.ts).
  if (!client || typeof client.listen !== 'function' || typeof client.exec === 'function') return async () => undefined;
  try {
    const handle = await client.listen(OUTBOX_NOTIFY_CHANNEL, wake, wake);
    return async () => {
      await handle.unlisten().catch(() => undefined);
    };
  } catch (err) {
    log.warn({ err }, 'outbox LISTEN failed; the relay falls back to polling');
    return async () => undefined;
  }
}
