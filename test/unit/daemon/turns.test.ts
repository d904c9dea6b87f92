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

/**
 * Three requests a, b, c, each one stretch of `ms` after its turn; a's stretch sets a
 * timer that is due at once. Resolves with the order in which the stretches and the
 * timer ran.
 */
async function threeStretches(turns: TurnQueue, ms: number): Promise<string[]> {
  const events: string[] = [];
  const stretch = async (name: string): Promise<void> => {
    await turns.next();
    events.push(name);
    if (name === 'a') setTimeout(() => events.push('timer'), 0);
    busy(ms);
  };
  await Promise.all(['a', 'b', 'c'].map(stretch));
  await new Promise((r) => setTimeout(r, 5));
  return events;
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
    expect(await threeStretches(new TurnQueue(1), 3)).toEqual(['a', 'timer', 'b', 'c']);
  });

  it('lets waiters share a turn while the slice lasts: the timer waits for all of them', async () => {
    expect(await threeStretches(new TurnQueue(10_000), 2)).toEqual(['a', 'b', 'c', 'timer']);
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
