/**
 * The last known presence status per (account, user), shared by the nodes of the process: the
 * status that zoom-presence-in last read or received, or that zoom-presence last set. zoom-presence
 * toggles from it.
 */
import { userKey } from "./policy";

export type KnownStatusSource = "set" | "poll" | "webhook" | "websocket" | "read";

export interface KnownStatus {
  /** Canonical status, or Zoom's spelling when it is not in the vocabulary. */
  status: string;
  source: KnownStatusSource;
  /** Epoch milliseconds when it was recorded. */
  recordedAt: number;
}

/** Users whose status is kept; past this the least recently recorded are forgotten. */
export const MAX_KNOWN_USERS = 10_000;

export class LastKnownStatuses {
  private readonly statuses = new Map<string, KnownStatus>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Records a status for each of the user's identifiers (id, email, the id a node was given), so a
   * look-up by any of them finds it.
   */
  record(accountKey: string, userIds: ReadonlyArray<string | undefined>, status: string, source: KnownStatusSource): void {
    const known: KnownStatus = { status, source, recordedAt: this.now() };
    for (const userId of new Set(userIds)) {
      if (userId === undefined || userId === "") {
        continue;
      }
      const key = userKey(accountKey, userId);
      this.statuses.delete(key);
      this.statuses.set(key, known);
    }
    while (this.statuses.size > MAX_KNOWN_USERS) {
      this.statuses.delete(this.statuses.keys().next().value as string);
    }
  }

  get(accountKey: string, userId: string): KnownStatus | undefined {
    return this.statuses.get(userKey(accountKey, userId));
  }

  clear(): void {
    this.statuses.clear();
  }
}

/** The store of the process. */
export const lastKnownStatuses = new LastKnownStatuses();
