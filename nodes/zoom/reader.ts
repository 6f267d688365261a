/**
 * Reads a user's presence with `GET /users/{userId}/presence_status` through the account's request
 * budget, which it shares with presence updates, and retries failures that a later attempt may turn
 * into a success.
 */
import { AccountConnection } from "./account";
import { PresenceReading } from "./client";
import { BudgetRequestAbortedError, PresenceScheduler, backoffWithJitter } from "./limiter";
import { decideFailure } from "./policy";
import { Clock, systemClock } from "./timers";

export interface ReadOptions {
  /** Aborts a waiting or running read; the read then rejects with BudgetRequestAbortedError. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Backoff before retry number `attempt` (1 for the first retry). */
  backoffMs?: (attempt: number) => number;
}

/** The parts of an account connection that reading needs. */
export type ReadConnection = Pick<AccountConnection, "client" | "accountKey" | "accountRateLimit" | "maxAttempts">;

/**
 * Reads one user's presence. Network errors and 5xx responses are retried with backoff, and 429
 * responses after Retry-After, up to the connection's maxAttempts in all. Other failures reject at once.
 */
export async function readPresence(
  scheduler: PresenceScheduler,
  connection: ReadConnection,
  userId: string,
  options: ReadOptions = {},
): Promise<PresenceReading> {
  const clock = options.clock ?? systemClock;
  const backoffMs = options.backoffMs ?? backoffWithJitter;

  for (let attempt = 1; ; attempt++) {
    try {
      return await scheduler.runInAccountBudget({
        accountKey: connection.accountKey,
        accountRateLimit: connection.accountRateLimit,
        signal: options.signal,
        run: (signal, budget) => connection.client.getPresence(userId, signal, { beforeRetry: budget.nextRequest }),
      });
    } catch (error) {
      if (options.signal?.aborted) {
        throw new BudgetRequestAbortedError();
      }
      const decision = decideFailure(error);
      if (decision.action === "fail" || attempt >= connection.maxAttempts) {
        throw error;
      }
      const waitMs = decision.action === "rate-limited" ? (decision.retryAfterMs ?? backoffMs(attempt)) : Math.max(backoffMs(attempt), decision.retryAfterMs ?? 0);
      await sleep(clock, waitMs, options.signal);
    }
  }
}

/** Waits on the clock; rejects with BudgetRequestAbortedError when the signal aborts first. */
function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(new BudgetRequestAbortedError());
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
