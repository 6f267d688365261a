/**
 * A clock with timers, and a queue that runs many wake-ups from one timer. Per-user timers would cost
 * a Timeout object each; a binary heap keyed by wake time costs one array slot per waiting entry.
 */

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // A waiting update must not keep Node.js alive once everything else has stopped.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Something that can be woken. `wakeAt` is the time of its one live entry; older entries are skipped. */
export interface Wakeable {
  wakeAt: number | undefined;
  wake(now: number): void;
}

interface Entry {
  at: number;
  target: Wakeable;
}

/** Wakes each target at (or just after) its wakeAt time. A target has at most one live entry. */
export class WakeQueue {
  private readonly heap: Entry[] = [];
  private timer: unknown;
  private timerAt: number | undefined;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.heap.length;
  }

  /** Schedules a wake-up, replacing any earlier schedule of the same target. */
  schedule(target: Wakeable, at: number): void {
    target.wakeAt = at;
    this.push({ at, target });
    this.arm();
  }

  cancel(target: Wakeable): void {
    // The heap entry stays and is skipped when it comes up, because wakeAt no longer matches.
    target.wakeAt = undefined;
  }

  /** Stops the timer and forgets every entry. */
  clear(): void {
    for (const entry of this.heap) {
      entry.target.wakeAt = undefined;
    }
    this.heap.length = 0;
    this.disarm();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    const now = this.clock.now();

    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const entry = this.pop();
      if (entry.target.wakeAt === entry.at) {
        entry.target.wakeAt = undefined;
        entry.target.wake(now);
      }
    }
    this.arm();
  }

  private arm(): void {
    while (this.heap.length > 0 && this.heap[0].target.wakeAt !== this.heap[0].at) {
      this.pop();
    }
    if (this.heap.length === 0) {
      this.disarm();
      return;
    }

    const at = this.heap[0].at;
    if (this.timerAt !== undefined && this.timerAt <= at) {
      return;
    }
    this.disarm();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
    }
    this.timer = undefined;
    this.timerAt = undefined;
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent].at <= entry.at) {
        break;
      }
      heap[index] = heap[parent];
      index = parent;
    }
    heap[index] = entry;
  }

  private pop(): Entry {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop() as Entry;
    if (heap.length === 0) {
      return top;
    }

    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) {
        break;
      }
      const right = left + 1;
      const child = right < heap.length && heap[right].at < heap[left].at ? right : left;
      if (heap[child].at >= last.at) {
        break;
      }
      heap[index] = heap[child];
      index = child;
    }
    heap[index] = last;
    return top;
  }
}
