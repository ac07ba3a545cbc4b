import { describe, expect, it } from 'vitest';
import { BatchQueue } from '@reusable-chat/core';

/**
 * The group-commit queue behind the send path's context reads and write batches (send-message.ts): how items
 * join a batch, how many batches run at once, and the order they go in.
 */
describe('BatchQueue', () => {
  /** A flush that records its batches and finishes when told to. */
  const recorder = () => {
    const batches: number[][] = [];
    const finish: (() => void)[] = [];
    let running = 0;
    let maxRunning = 0;
    const flush = (batch: number[]) => {
      batches.push(batch);
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      return new Promise<void>((resolve) =>
        finish.push(() => {
          running -= 1;
          resolve();
        }),
      );
    };
    return { batches, finish, flush, maxRunning: () => maxRunning };
  };
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('with one batch in flight, gathers what arrives until the I/O phase ends (PGlite runs statements on this thread)', async () => {
    const r = recorder();
    const q = new BatchQueue<number>(1, r.flush);
    // Pushed from separate callbacks of one turn of the event loop, as requests read in one I/O phase are.
    q.push(1);
    await Promise.resolve();
    q.push(2);
    await Promise.resolve();
    q.push(3);
    await turn();
    expect(r.batches).toEqual([[1, 2, 3]]);
    q.push(4);
    q.push(5);
    await turn();
    // The first batch is still running: the next waits for it.
    expect(r.batches).toHaveLength(1);
    r.finish.shift()!();
    await turn();
    await turn();
    expect(r.batches).toEqual([[1, 2, 3], [4, 5]]);
    r.finish.shift()!();
  });

  it('with the pipeline, starts a second batch while the first runs, never a third', async () => {
    const r = recorder();
    const q = new BatchQueue<number>(2, r.flush);
    q.push(1);
    q.push(2);
    await Promise.resolve();
    expect(r.batches).toEqual([[1, 2]]);
    q.push(3);
    await Promise.resolve();
    expect(r.batches).toEqual([[1, 2], [3]]);
    q.push(4);
    q.push(5);
    await turn();
    expect(r.batches).toHaveLength(2);
    r.finish.shift()!();
    await turn();
    expect(r.batches).toEqual([[1, 2], [3], [4, 5]]);
    expect(r.maxRunning()).toBe(2);
    for (const f of r.finish.splice(0)) f();
  });

  it('splits a burst into batches of at most 64, in arrival order', async () => {
    const r = recorder();
    const q = new BatchQueue<number>(1, r.flush);
    for (let i = 0; i < 150; i++) q.push(i);
    for (let n = 0; n < 3; n++) {
      await turn();
      r.finish.shift()?.();
    }
    await turn();
    expect(r.batches.map((b) => b.length)).toEqual([64, 64, 22]);
    expect(r.batches.flat()).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });
});
