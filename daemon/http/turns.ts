/**
 * Slices of the event loop, handed out in arrival order. A signing request does most of
 * its work in a few synchronous stretches (checking the document, then writing the
 * answer); when 32 requests become ready together, running all their stretches back to
 * back holds the event loop for several milliseconds, and a health check that arrives
 * meanwhile waits for all of them. `next()` lets waiters go on in the current turn until
 * it has run for `sliceMs`, then in the next turn — after the loop has polled its sockets,
 * so a `/healthz` waits for at most about one slice. Within a slice, requests still share
 * system calls (one IPC message to the module host, one audit fdatasync, one log write).
 */
import { performance } from 'node:perf_hooks';

export class TurnQueue {
  private waiting: (() => void)[] = [];
  private head = 0;
  private scheduled = false;
  private sliceStart = 0;

  constructor(private readonly sliceMs = 1) {}

  /** Resolves after every earlier waiter, in this slice or a later turn of the loop. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.startSlice);
      }
    });
  }

  /** Waiters not yet released. */
  get length(): number {
    return this.waiting.length - this.head;
  }

  private readonly startSlice = (): void => {
    this.sliceStart = performance.now();
    this.release();
  };

  /**
   * Releases one waiter; its stretch runs in the microtasks queued by resolve(), before the
   * one queued here that decides whether the next waiter still fits in the slice.
   */
  private readonly release = (): void => {
    const resolve = this.waiting[this.head++];
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= 1024) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    resolve?.();
    queueMicrotask(this.continue);
  };

  private readonly continue = (): void => {
    if (this.length === 0) this.scheduled = false;
    else if (performance.now() - this.sliceStart < this.sliceMs) this.release();
    // An immediate queued while immediates run waits for the next iteration of the loop,
    // after its poll phase: that is what lets sockets in between two slices.
    else setImmediate(this.startSlice);
  };
}
