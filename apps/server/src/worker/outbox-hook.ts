import { subscribeOutboxListener } from '@reusable-chat/core';
import type { AppDeps } from '../deps.ts';

/**
 * Same-process wake-ups: when the API writes an outbox row, a worker running in this process relays it at once
 * instead of at its next poll. Across processes (`reusable-chat worker`) the poll alone carries the rows.
 */
const wakers = new WeakMap<AppDeps, Set<() => void>>();
const installed = new WeakSet<AppDeps>();

export function onOutboxRecorded(deps: AppDeps, wake: () => void): () => void {
  let set = wakers.get(deps);
  if (!set) wakers.set(deps, (set = new Set()));
  set.add(wake);
  return () => set.delete(wake);
}

/**
 * Subscribes the after-commit outbox listener to this process's domain events, once per deps. Use-cases that
 * call recordDomainEventInOutbox inside their own transaction get the stronger guarantee; this listener covers
 * every other event (and dedupes against those by event id at delivery time).
 */
export function installOutboxListener(deps: AppDeps): () => void {
  if (installed.has(deps)) return () => undefined;
  installed.add(deps);
  const unsubscribe = subscribeOutboxListener({
    events: deps.events,
    db: deps.database.db,
    now: () => deps.clock.now(),
    onRecorded: () => {
      for (const wake of wakers.get(deps) ?? []) wake();
    },
  });
  return () => {
    installed.delete(deps);
    unsubscribe();
  };
}
