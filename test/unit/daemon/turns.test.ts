/**
 * TurnQueue: waiters go on in arrival order, several in one turn of the event loop while
 * the slice lasts, and the loop gets a turn of its own (timers, sockets) between slices.
 */
import { performance } from 'node:perf_hooks';
import { TurnQueue } from '../../../daemon/http/turns';

/** Keeps the thread busy for `ms` (a stretch of synchronous work). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spinning on purpose
  }
}

describe('TurnQueue', () => {
  it('releases waiters in arrival order', async () => {
    const turns = new TurnQueue();
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => turns.next().then(() => void order.push(i))),
    );
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(turns.length).toBe(0);
  });

  it('ends a slice once it has run for sliceMs: a timer due meanwhile runs before the next waiter', async () => {
    const turns = new TurnQueue(1);
    const events: string[] = [];
    const stretch = (name: string) => async (): Promise<void> => {
      await turns.next();
      events.push(name);
      if (name === 'a') setTimeout(() => events.push('timer'), 0);
      busy(3);
    };
    await Promise.all(['a', 'b', 'c'].map((n) => stretch(n)()));
    expect(events).toEqual(['a', 'timer', 'b', 'c']);
  });

  it('lets waiters share a turn while the slice lasts: the timer waits for all of them', async () => {
    const turns = new TurnQueue(10_000);
    const events: string[] = [];
    const stretch = (name: string) => async (): Promise<void> => {
      await turns.next();
      events.push(name);
      if (name === 'a') setTimeout(() => events.push('timer'), 0);
      busy(2);
    };
    await Promise.all(['a', 'b', 'c'].map((n) => stretch(n)()));
    await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual(['a', 'b', 'c', 'timer']);
  });

  it('starts afresh after it ran dry', async () => {
    const turns = new TurnQueue();
    await turns.next();
    await new Promise((r) => setImmediate(r));
    const order: string[] = [];
    await Promise.all([
      turns.next().then(() => order.push('x')),
      turns.next().then(() => order.push('y')),
    ]);
    expect(order).toEqual(['x', 'y']);
  });
});
