/** The retry policy for failed presence updates, and the keys that identify windows and budgets. */
import { NetworkError, PresenceError, ZoomApiError } from "./errors";
import { FailureDecision } from "./limiter";

/**
 * Classifies a failed attempt: 429 is waited out, 5xx responses and network errors are retried with
 * backoff, and everything else (4xx, rejected credentials) ends the update.
 */
export function decideFailure(error: unknown): FailureDecision {
  const decision = decideByKind(error);
  if (error instanceof PresenceError && error.beforeApiRequest) {
    return { ...decision, reachedServer: false };
  }
  return decision;
}

function decideByKind(error: unknown): FailureDecision {
  if (error instanceof ZoomApiError) {
    if (error.statusCode === 429) {
      return { action: "rate-limited", retryAfterMs: error.retryAfterMs, reachedServer: true };
    }
    if (error.statusCode >= 500) {
      return { action: "retry", retryAfterMs: error.retryAfterMs, reachedServer: true };
    }
    return { action: "fail", reachedServer: true };
  }
  if (error instanceof NetworkError) {
    return { action: "retry", reachedServer: error.maybeDelivered };
  }
  return { action: "fail", reachedServer: true };
}

/** Identifies an account's request budget: the API host and the Zoom account (or config node). */
export function accountKey(apiHost: string, account: string): string {
  return `${apiHost}\n${account}`;
}

/**
 * Identifies one user's window. Emails are compared without case, as Zoom does; user ids are
 * case-sensitive and kept as they are.
 */
export function userKey(accountKeyValue: string, userId: string): string {
  const user = userId.includes("@") ? userId.toLowerCase() : userId;
  return `${accountKeyValue}\n${user}`;
}
