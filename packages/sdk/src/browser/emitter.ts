type Listener = (...args: unknown[]) => void;

/** A minimal typed event emitter (no Node `events` in the browser bundle). */
export class Emitter<Events extends Record<string, unknown[]>> {
  private readonly handlers = new Map<keyof Events, Set<Listener>>();

  on<K extends keyof Events>(event: K, fn: (...args: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn as unknown as Listener);
    return () => this.off(event, fn);
  }

  off<K extends keyof Events>(event: K, fn: (...args: Events[K]) => void): void {
    this.handlers.get(event)?.delete(fn as unknown as Listener);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const fn of [...(this.handlers.get(event) ?? [])]) {
      try {
        fn(...args);
      } catch (err) {
        // One faulty listener (e.g. host-page code) must not break delivery to the others.
        console.error(err);
      }
    }
  }
}
