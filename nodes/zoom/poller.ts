/**
 * Polling of presence, shared per user. Every node that polls the same user through the same account
 * subscribes to one poll. The poll reads at the shortest interval of its subscribers and passes each
 * reading (or error) to all of them.
 */
import { PresenceReading } from "./client";
import { BudgetRequestAbortedError } from "./limiter";
import { Clock, systemClock } from "./timers";

export interface PollSubscriber {
  /** Milliseconds between two reads. */
  intervalMs: number;
  /** Reads the user's presence; the signal aborts the read once the poll stops. */
  read(signal: AbortSignal): Promise<PresenceReading>;
  onReading(reading: PresenceReading): void;
  onError(error: unknown): void;
}

class SharedPoll {
  readonly subscribers = new Set<PollSubscriber>();
  private timer: unknown;
  private reading: Promise<void> | undefined;
  private readonly controller = new AbortController();

  constructor(
    private readonly clock: Clock,
    private readonly onCallbackError: (error: unknown) => void,
  ) {}

  /** Reads now, unless a read is under way already, and schedules the next read after it. */
  readNow(): void {
    if (this.reading || this.controller.signal.aborted) {
      return;
    }
    const reader = this.subscribers.values().next().value as PollSubscriber | undefined;
    if (!reader) {
      return;
    }

    this.clearTimer();
    this.reading = reader.read(this.controller.signal).then(
      (reading) => this.deliver((subscriber) => subscriber.onReading(reading)),
      (error: unknown) => {
        if (!(error instanceof BudgetRequestAbortedError)) {
          this.deliver((subscriber) => subscriber.onError(error));
        }
      },
    ).finally(() => {
      this.reading = undefined;
      this.schedule();
    });
  }

  stop(): void {
    this.clearTimer();
    this.controller.abort();
  }

  private schedule(): void {
    if (this.controller.signal.aborted || this.subscribers.size === 0) {
      return;
    }
    const intervalMs = Math.min(...[...this.subscribers].map((subscriber) => subscriber.intervalMs));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.readNow();
    }, intervalMs);
  }

  private deliver(call: (subscriber: PollSubscriber) => void): void {
    for (const subscriber of [...this.subscribers]) {
      try {
        call(subscriber);
      } catch (error) {
        this.onCallbackError(error);
      }
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

export class PollRegistry {
  private readonly polls = new Map<string, SharedPoll>();

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly onCallbackError: (error: unknown) => void = (error) => {
      process.emitWarning(`zoom-presence-in: a poll callback threw: ${error instanceof Error ? error.message : String(error)}`);
    },
  ) {}

  /**
   * Subscribes to the poll of a user (`key`: account and user) and reads at once, so the subscriber
   * gets the current status. Returns a function that ends the subscription; the poll stops with its
   * last subscriber.
   */
  subscribe(key: string, subscriber: PollSubscriber): () => void {
    let poll = this.polls.get(key);
    if (!poll) {
      poll = new SharedPoll(this.clock, this.onCallbackError);
      this.polls.set(key, poll);
    }
    poll.subscribers.add(subscriber);
    poll.readNow();

    return () => {
      const current = this.polls.get(key);
      if (!current?.subscribers.delete(subscriber) || current.subscribers.size > 0) {
        return;
      }
      current.stop();
      this.polls.delete(key);
    };
  }

  /** Number of polls running, for tests. */
  get size(): number {
    return this.polls.size;
  }

  /** Subscribers of the poll for `key`, for tests. */
  subscriberCount(key: string): number {
    return this.polls.get(key)?.subscribers.size ?? 0;
  }
}

/** The poll registry of the process, shared by every zoom-presence-in node. */
export const presencePolls = new PollRegistry();
