/**
 * Counts accepted events inside a sliding time span, for a limit like "at most N requests in
 * any 1 s". Old entries are dropped from the front in amortised constant time.
 */
export class SlidingWindowCounter {
  private readonly times: number[] = [];
  private head = 0;

  constructor(private readonly spanMs: number) {}

  /** Records an event at `now` and returns true if fewer than `limit` were recorded in the span before it. */
  tryAcquire(now: number, limit: number): boolean {
    this.dropBefore(now - this.spanMs);
    if (this.times.length - this.head >= limit) {
      return false;
    }
    this.times.push(now);
    return true;
  }

  private dropBefore(cutoff: number): void {
    while (this.head < this.times.length && this.times[this.head] <= cutoff) {
      this.head += 1;
    }

    // Compact once the dropped prefix is large, so memory stays proportional to the span.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
  }
}
