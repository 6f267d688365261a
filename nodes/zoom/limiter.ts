/**
 * The rate limiter for presence updates. Zoom accepts one update per user per minute and a fixed
 * number of requests per second per account, so updates pass through two gates:
 *
 * - a window per (API host, account, user): it opens `minInterval` after Zoom's response to the
 *   previous update of that user. While a request is in flight or the window is closed, one update
 *   is held; a newer one replaces it under the `latest` policy.
 * - a budget per (API host, account): at most `accountRateLimit` requests in any one-second span,
 *   where a request's span starts when its response arrives (Zoom counts it on arrival, earlier).
 *   Reads of a presence (runInAccountBudget) take their turn in the same budget, but no user window.
 *
 * State lives in one PresenceScheduler per process, so nodes that update the same user share a
 * window, and the window survives a redeploy. The scheduler settles every job exactly once.
 */
import { Clock, Wakeable, WakeQueue, systemClock } from "./timers";

export type WhenLimited = "latest" | "drop" | "error";

/** The scheduler's decision about a failed attempt. */
export interface FailureDecision {
  /** `rate-limited`: wait and try again without counting an attempt; `retry`: back off and try again while attempts remain. */
  action: "rate-limited" | "retry" | "fail";
  /** Milliseconds the server asked to wait (Retry-After), when the response had it. */
  retryAfterMs?: number;
  /** False only when the request surely never reached the server; the user's window then stays open. */
  reachedServer: boolean;
}

export type Outcome<R> =
  | { type: "sent"; result: R }
  /** A newer update for the same user replaced this one before it was sent. */
  | { type: "superseded" }
  /** The owner closed before this update was sent. */
  | { type: "discarded" }
  /** The `drop` policy rejected it: the window was closed. */
  | { type: "dropped"; opensInMs: number | undefined }
  /** The `error` policy rejected it: the window was closed. */
  | { type: "rejected"; opensInMs: number | undefined }
  | { type: "failed"; error: unknown; attempts: number };

export interface JobSpec<R> {
  /** The node that submitted the job; cancelOwner() discards its jobs. */
  owner: object;
  /** Identifies the user's window: API host, account and user. */
  userKey: string;
  /** Identifies the account's request budget: API host and account. */
  accountKey: string;
  /** Requests per second allowed for the whole account. */
  accountRateLimit: number;
  /** Milliseconds between Zoom's response to one update of this user and the next update. */
  minIntervalMs: number;
  whenLimited: WhenLimited;
  /** Attempts for failures that the decision marks `retry`, counting the first. */
  maxAttempts: number;
  /** Sends one attempt. The signal aborts it when the owner closes. */
  attempt(signal: AbortSignal, budget: RequestBudget): Promise<R>;
  /** Called exactly once with the job's end. */
  settle(outcome: Outcome<R>, job: JobState): void;
  /** Called when the job is held, with the time the user's window opens if known. */
  held?(opensAt: number | undefined, job: JobState): void;
}

/** A job's history, for outputs such as `queuedMs` and `superseded`. */
export interface JobState {
  readonly arrivedAt: number;
  /** How many earlier updates of this user this one replaced, directly or through those it replaced. */
  superseded: number;
  attempts: number;
}

export interface SchedulerOptions {
  clock?: Clock;
  /** Classifies a failed attempt. */
  decide: (error: unknown) => FailureDecision;
  /** Backoff before retry number `attempt` (1 for the first retry). */
  backoffMs?: (attempt: number) => number;
  /** Receives an exception thrown by a job's callbacks, which the scheduler must survive. */
  onCallbackError?: (error: unknown) => void;
}

/**
 * Extra gap added to each one-second span of the account budget, which starts at a response. It
 * covers timers and clocks that round to whole milliseconds.
 */
export const ACCOUNT_SPAN_MARGIN_MS = 20;
const ACCOUNT_SPAN_MS = 1000;

interface Job<R> extends JobState {
  spec: JobSpec<R>;
  settled: boolean;
  ownerClosed: boolean;
  controller?: AbortController;
}

/** A request that needs only a slot in the account budget, such as reading a presence. */
export interface BudgetRequestSpec<R> {
  /** Identifies the account's request budget: API host and account. */
  accountKey: string;
  /** Requests per second allowed for the whole account. */
  accountRateLimit: number;
  /** Aborting it removes a waiting request, or aborts the one under way through run()'s signal. */
  signal?: AbortSignal;
  run(signal: AbortSignal, budget: RequestBudget): Promise<R>;
}

/**
 * The account budget from one attempt's side. An attempt that sends a second request (the repeat
 * with a new token after a 401) calls nextRequest() first, so that request takes its own turn.
 */
export interface RequestBudget {
  /** Marks the current request as responded to and waits until the budget allows one more. */
  nextRequest(): Promise<void>;
}

/** The function that marks a request's budget slot as responded to. */
interface SlotHolder {
  release: (respondedAt: number) => void;
}

/** The rejection of runInAccountBudget() when the caller's signal aborted before the request was sent. */
export class BudgetRequestAbortedError extends Error {
  constructor() {
    super("The request was aborted before it was sent");
    this.name = "BudgetRequestAbortedError";
  }
}

class BudgetRequest {
  /** Set once the request has started or was aborted while waiting; the ready queue skips it then. */
  done = false;

  constructor(readonly start: (release: (respondedAt: number) => void) => void) {}
}

class UserWindow implements Wakeable {
  wakeAt: number | undefined;
  opensAt = 0;
  inFlight: Job<unknown> | undefined;
  pending: Job<unknown> | undefined;
  /** True while the user waits in its account's ready queue. */
  queued = false;
  /** minInterval of each node that updates this user; the longest applies. */
  readonly intervals = new Map<object, number>();

  constructor(
    readonly key: string,
    readonly account: AccountBudget,
    private readonly scheduler: PresenceScheduler,
  ) {}

  windowMs(job: Job<unknown>): number {
    let longest = job.spec.minIntervalMs;
    for (const interval of this.intervals.values()) {
      longest = Math.max(longest, interval);
    }
    return longest;
  }

  isClosed(now: number): boolean {
    return this.inFlight !== undefined || now < this.opensAt;
  }

  wake(now: number): void {
    this.scheduler.onUserWake(this, now);
  }
}

class AccountBudget implements Wakeable {
  wakeAt: number | undefined;
  /**
   * One entry per request of the last `limit` requests: when its response arrived, or Infinity while
   * it is in flight. Zoom counts a request when it arrives, which is before its response, so a slot
   * counted from the response can never overlap Zoom's one-second span, however late the request left.
   */
  private slots: number[] = [];
  /** Changes when the limit changes, so the release of a slot from before cannot touch the new ones. */
  private generation = 0;
  private ready: Array<UserWindow | BudgetRequest> = [];
  private readyHead = 0;

  constructor(
    readonly key: string,
    private limit: number,
    private readonly scheduler: PresenceScheduler,
  ) {}

  setLimit(limit: number): void {
    if (limit !== this.limit) {
      this.limit = limit;
      this.slots = [];
      this.generation++;
    }
  }

  /** Returns the earliest time at which one more request fits in the budget; Infinity until a response frees a slot. */
  nextSlot(now: number): number {
    if (this.slots.length < this.limit) {
      return now;
    }
    const earliest = this.slots[this.earliestSlot()];
    return earliest === Infinity ? Infinity : Math.max(now, earliest + ACCOUNT_SPAN_MS + ACCOUNT_SPAN_MARGIN_MS);
  }

  /** Returns the index of the slot that frees first. A loop, because spreading a large limit into Math.min() can overflow the stack. */
  private earliestSlot(): number {
    let index = 0;
    for (let i = 1; i < this.slots.length; i++) {
      if (this.slots[i] < this.slots[index]) {
        index = i;
      }
    }
    return index;
  }

  /** Takes a slot for a request that starts now. The returned function marks its response, once. */
  take(): (respondedAt: number) => void {
    let index = this.slots.length;
    if (index < this.limit) {
      this.slots.push(Infinity);
    } else {
      index = this.earliestSlot();
      this.slots[index] = Infinity;
    }

    const generation = this.generation;
    let released = false;
    return (respondedAt) => {
      if (released || generation !== this.generation) {
        return;
      }
      released = true;
      this.slots[index] = respondedAt;
      this.scheduler.pump(this, respondedAt);
    };
  }

  enqueue(entry: UserWindow | BudgetRequest): void {
    if (entry instanceof UserWindow) {
      entry.queued = true;
    }
    this.ready.push(entry);
  }

  shiftReady(): UserWindow | BudgetRequest | undefined {
    if (this.readyHead >= this.ready.length) {
      return undefined;
    }
    const user = this.ready[this.readyHead];
    this.readyHead++;
    // Compact once the consumed head is large, so the array does not grow without end.
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
    return user;
  }

  get hasReady(): boolean {
    return this.readyHead < this.ready.length;
  }

  wake(now: number): void {
    this.scheduler.pump(this, now);
  }
}

/** Exponential backoff with jitter: half of `min(cap, base * 2^(attempt-1))` fixed, the other half random. */
export function backoffWithJitter(attempt: number, random: () => number = Math.random, baseMs = 1000, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class PresenceScheduler {
  private readonly clock: Clock;
  private readonly wakeQueue: WakeQueue;
  private readonly users = new Map<string, UserWindow>();
  private readonly accounts = new Map<string, AccountBudget>();
  private readonly jobsByOwner = new Map<object, Set<Job<unknown>>>();

  constructor(private readonly options: SchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    this.wakeQueue = new WakeQueue(this.clock);
  }

  /** Submits an update. Its spec's settle() is called exactly once, now or later. */
  submit<R>(spec: JobSpec<R>): JobState {
    const now = this.clock.now();
    const job: Job<R> = { spec, arrivedAt: now, superseded: 0, attempts: 0, settled: false, ownerClosed: false };
    this.track(job as Job<unknown>);

    const user = this.userWindow(spec);
    user.intervals.set(spec.owner, spec.minIntervalMs);

    const closed = user.isClosed(now);
    if (closed && spec.whenLimited !== "latest") {
      const opensInMs = user.inFlight ? undefined : user.opensAt - now;
      this.settle(job, spec.whenLimited === "drop" ? { type: "dropped", opensInMs } : { type: "rejected", opensInMs });
      return job;
    }

    if (user.pending) {
      this.supersede(user.pending, job as Job<unknown>);
    }
    user.pending = job as Job<unknown>;

    if (!closed) {
      if (!user.queued) {
        user.account.enqueue(user);
      }
      this.pump(user.account, now);
    } else {
      this.hold(user, job as Job<unknown>);
    }
    return job;
  }

  /**
   * Discards every job of an owner that has not been sent, aborts its requests in flight, and
   * forgets its minInterval. Returns how many updates were discarded.
   */
  cancelOwner(owner: object): number {
    const jobs = this.jobsByOwner.get(owner);
    let discarded = 0;

    for (const job of jobs ?? []) {
      job.ownerClosed = true;
      discarded++;
      if (job.controller) {
        // The request is on the wire: abort it, and finish() settles the job as discarded.
        // NOTE: a request already sent can reach Zoom after the abort, later than the window assumes,
        // so the next update for the user may get a 429, which it then waits out.
        job.controller.abort();
        continue;
      }

      const user = this.users.get(job.spec.userKey);
      if (user?.pending === job) {
        user.pending = undefined;
      }
      this.settle(job, { type: "discarded" });
    }

    for (const user of this.users.values()) {
      user.intervals.delete(owner);
    }
    return discarded;
  }

  /** Updates held or in flight for a user, for status texts and tests. */
  describeUser(userKey: string): { opensAt: number; inFlight: boolean; pending: boolean } | undefined {
    const user = this.users.get(userKey);
    return user && { opensAt: user.opensAt, inFlight: user.inFlight !== undefined, pending: user.pending !== undefined };
  }

  /** Number of users with state (a window not yet open, or an update held or in flight). */
  get userCount(): number {
    return this.users.size;
  }

  /** Sends what the account budget allows from its ready queue, and wakes the budget when the next slot frees. */
  pump(account: AccountBudget, now: number): void {
    while (account.hasReady) {
      const slot = account.nextSlot(now);
      if (slot === Infinity) {
        // Every slot is in flight: the next response pumps the queue again.
        return;
      }
      if (slot > now) {
        if (account.wakeAt === undefined || account.wakeAt > slot) {
          this.wakeQueue.schedule(account, slot);
        }
        return;
      }

      const entry = account.shiftReady() as UserWindow | BudgetRequest;
      if (entry instanceof BudgetRequest) {
        if (!entry.done) {
          entry.done = true;
          entry.start(account.take());
        }
        continue;
      }

      entry.queued = false;
      if (entry.pending && !entry.isClosed(now)) {
        this.dispatch(entry, now);
      }
    }
  }

  /**
   * Sends a request once the account budget has a slot for it, without opening or closing any user
   * window. Resolves or rejects with run()'s result; rejects with BudgetRequestAbortedError when the
   * signal aborts while the request waits. Failures are not retried.
   */
  runInAccountBudget<R>(spec: BudgetRequestSpec<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (spec.signal?.aborted) {
        reject(new BudgetRequestAbortedError());
        return;
      }

      const account = this.accountBudget(spec.accountKey, spec.accountRateLimit);
      const controller = new AbortController();
      const onAbort = () => {
        controller.abort();
        if (!request.done) {
          request.done = true;
          reject(new BudgetRequestAbortedError());
        }
      };
      const request = new BudgetRequest((release) => {
        const holder: SlotHolder = { release };
        let running: Promise<R>;
        try {
          running = spec.run(controller.signal, this.requestBudget(account, holder, controller.signal));
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(resolve, reject).finally(() => {
          spec.signal?.removeEventListener("abort", onAbort);
          holder.release(this.clock.now());
        });
      });
      spec.signal?.addEventListener("abort", onAbort, { once: true });

      account.enqueue(request);
      this.pump(account, this.clock.now());
    });
  }

  onUserWake(user: UserWindow, now: number): void {
    if (user.pending && !user.isClosed(now)) {
      if (!user.queued) {
        user.account.enqueue(user);
      }
      this.pump(user.account, now);
      return;
    }
    if (!user.pending && !user.inFlight && now >= user.opensAt) {
      this.users.delete(user.key);
    }
  }

  private dispatch(user: UserWindow, now: number): void {
    const job = user.pending as Job<unknown>;
    user.pending = undefined;
    user.inFlight = job;
    job.attempts++;
    job.controller = new AbortController();
    const holder: SlotHolder = { release: user.account.take() };

    let attempt: Promise<unknown>;
    try {
      attempt = job.spec.attempt(job.controller.signal, this.requestBudget(user.account, holder, job.controller.signal));
    } catch (error) {
      attempt = Promise.reject(error);
    }
    attempt.then(
      (result) => this.finish(user, job, { ok: true, result }, holder),
      (error: unknown) => this.finish(user, job, { ok: false, error }, holder),
    );
  }

  /** Lets an attempt that has a budget slot give it back and wait for a new one for its next request. */
  private requestBudget(account: AccountBudget, holder: SlotHolder, signal: AbortSignal): RequestBudget {
    return {
      nextRequest: () =>
        new Promise<void>((resolve, reject) => {
          holder.release(this.clock.now());
          if (signal.aborted) {
            reject(new BudgetRequestAbortedError());
            return;
          }

          const request = new BudgetRequest((release) => {
            holder.release = release;
            resolve();
          });
          signal.addEventListener(
            "abort",
            () => {
              if (!request.done) {
                request.done = true;
                reject(new BudgetRequestAbortedError());
              }
            },
            { once: true },
          );
          account.enqueue(request);
          this.pump(account, this.clock.now());
        }),
    };
  }

  private finish(
    user: UserWindow,
    job: Job<unknown>,
    outcome: { ok: true; result: unknown } | { ok: false; error: unknown },
    slot: SlotHolder,
  ): void {
    const now = this.clock.now();
    user.inFlight = undefined;
    job.controller = undefined;
    const windowMs = user.windowMs(job);

    if (outcome.ok) {
      user.opensAt = now + windowMs;
      this.settle(job, job.ownerClosed ? { type: "discarded" } : { type: "sent", result: outcome.result });
    } else {
      this.handleFailure(user, job, outcome.error, now, windowMs);
    }

    this.afterAnswer(user, now);
    slot.release(now);
  }

  private handleFailure(user: UserWindow, job: Job<unknown>, error: unknown, now: number, windowMs: number): void {
    const decision = job.ownerClosed ? { action: "fail" as const, reachedServer: true } : this.options.decide(error);

    if (decision.action === "rate-limited") {
      // A 429 does not use up an attempt: Zoom will accept the update once the wait is over.
      job.attempts--;
      user.opensAt = now + (decision.retryAfterMs ?? windowMs);
      this.retryOrReplace(user, job);
      return;
    }

    if (decision.action === "retry" && job.attempts < job.spec.maxAttempts) {
      const backoff = (this.options.backoffMs ?? backoffWithJitter)(job.attempts);
      user.opensAt = Math.max(user.opensAt, now + Math.max(backoff, decision.retryAfterMs ?? 0));
      this.retryOrReplace(user, job);
      return;
    }

    user.opensAt = decision.reachedServer ? now + windowMs : Math.max(user.opensAt, now);
    if (job.ownerClosed) {
      this.settle(job, { type: "discarded" });
      return;
    }
    this.settle(job, { type: "failed", error, attempts: job.attempts });
  }

  /** Holds a job for another attempt, unless a newer update for the user arrived meanwhile. */
  private retryOrReplace(user: UserWindow, job: Job<unknown>): void {
    if (user.pending) {
      this.supersede(job, user.pending);
      return;
    }
    user.pending = job;
    this.hold(user, job);
  }

  private afterAnswer(user: UserWindow, now: number): void {
    if (user.pending && !user.isClosed(now)) {
      this.onUserWake(user, now);
      return;
    }
    // Wake at the window's opening, either to send the held update or to forget the idle user.
    this.wakeQueue.schedule(user, Math.max(now, user.opensAt));
  }

  private hold(user: UserWindow, job: Job<unknown>): void {
    if (!user.inFlight && user.wakeAt !== user.opensAt) {
      this.wakeQueue.schedule(user, user.opensAt);
    }
    const opensAt = user.inFlight ? undefined : user.opensAt;
    this.callback(() => job.spec.held?.(opensAt, job));
  }

  private supersede(older: Job<unknown>, newer: Job<unknown>): void {
    newer.superseded += older.superseded + 1;
    this.settle(older, { type: "superseded" });
  }

  private settle(job: Job<unknown>, outcome: Outcome<unknown>): void {
    if (job.settled) {
      return;
    }
    job.settled = true;
    this.untrack(job);
    this.callback(() => job.spec.settle(outcome, job));
  }

  private callback(run: () => void): void {
    try {
      run();
    } catch (error) {
      if (this.options.onCallbackError) {
        this.options.onCallbackError(error);
      } else {
        throw error;
      }
    }
  }

  private accountBudget(accountKey: string, accountRateLimit: number): AccountBudget {
    let account = this.accounts.get(accountKey);
    if (!account) {
      account = new AccountBudget(accountKey, accountRateLimit, this);
      this.accounts.set(accountKey, account);
    } else {
      account.setLimit(accountRateLimit);
    }
    return account;
  }

  private userWindow(spec: JobSpec<unknown>): UserWindow {
    const account = this.accountBudget(spec.accountKey, spec.accountRateLimit);

    let user = this.users.get(spec.userKey);
    if (!user) {
      user = new UserWindow(spec.userKey, account, this);
      this.users.set(spec.userKey, user);
    }
    return user;
  }

  private track(job: Job<unknown>): void {
    let jobs = this.jobsByOwner.get(job.spec.owner);
    if (!jobs) {
      jobs = new Set();
      this.jobsByOwner.set(job.spec.owner, jobs);
    }
    jobs.add(job);
  }

  private untrack(job: Job<unknown>): void {
    const jobs = this.jobsByOwner.get(job.spec.owner);
    jobs?.delete(job);
    if (jobs?.size === 0) {
      this.jobsByOwner.delete(job.spec.owner);
    }
  }
}
