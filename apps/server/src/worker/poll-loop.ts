/**
 * A self-scheduling background loop: runs `tick` every `intervalMs`, immediately again when it reports more
 * work, sooner when woken, and with doubling back-off (capped) while it fails — e.g. the outbox relay while
 * Redis is down (checklist F-01/F-02: the outbox drains once it is back). Never runs two ticks at once.
 */
export type TickResult = 'idle' | 'more';

export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private wakeRequested = false;
  private stopped = true;
  private failures = 0;

  constructor(
    private readonly tick: () => Promise<TickResult>,
    private readonly options: { intervalMs: number; maxBackoffMs: number; onError: (err: unknown) => void },
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Run as soon as possible (a new outbox row was written in this process). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  /** Runs one tick now and waits for it (tests, shutdown flush). */
  async runOnce(): Promise<void> {
    while (this.running) await this.running;
    this.clearTimer();
    await this.execute();
  }

  /** Graceful: no new tick starts; a running tick finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    while (this.running) await this.running;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.execute();
    }, delayMs);
    this.timer.unref();
  }

  private execute(): Promise<void> {
    const run = (async () => {
      let next = this.options.intervalMs;
      try {
        const result = await this.tick();
        this.failures = 0;
        if (result === 'more') next = 0;
      } catch (err) {
        this.failures += 1;
        this.options.onError(err);
        next = Math.min(this.options.maxBackoffMs, this.options.intervalMs * 2 ** this.failures);
      }
      if (this.wakeRequested) {
        this.wakeRequested = false;
        next = 0;
      }
      return next;
    })();
    this.running = run.then(
      (next) => {
        this.running = undefined;
        this.schedule(next);
      },
      () => {
        this.running = undefined;
      },
    );
    return this.running;
  }
}
