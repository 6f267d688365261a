/**
 * Zoom's event objects, as a webhook request body or a WebSocket message carries them, and the order
 * of presence events per user, so that a late delivery cannot replace a newer status.
 */

export const PRESENCE_EVENT = "user.presence_status_updated";
export const URL_VALIDATION_EVENT = "endpoint.url_validation";

/** A `user.presence_status_updated` event, reduced to the fields this package uses. */
export interface PresenceEvent {
  userId: string;
  email?: string;
  accountId?: string;
  /** The status exactly as Zoom spelled it. */
  rawStatus: string;
  /** `payload.object.date_time`: when the status changed, as Zoom wrote it. */
  dateTime?: string;
  time: EventTime;
  /** `payload.object.app`: the client app that reported the change, when the event contains it. */
  app?: Record<string, unknown>;
}

/** When an event happened, in epoch milliseconds, for ordering. */
export interface EventTime {
  /** From `payload.object.date_time`. */
  changedAt?: number;
  /** From `event_ts`. */
  sentAt?: number;
}

export type ParsedEvent =
  | { kind: "presence"; event: PresenceEvent }
  | { kind: "url-validation"; plainToken: string }
  | { kind: "other"; name: string }
  | { kind: "invalid"; reason: string };

/** Reads an event object. Only presence events and URL validation are parsed in full. */
export function parseEvent(value: unknown): ParsedEvent {
  if (!isObject(value) || typeof value.event !== "string") {
    return { kind: "invalid", reason: "not an event object" };
  }
  const payload = isObject(value.payload) ? value.payload : undefined;

  if (value.event === URL_VALIDATION_EVENT) {
    const plainToken = payload?.plainToken;
    return typeof plainToken === "string" && plainToken !== "" ? { kind: "url-validation", plainToken } : { kind: "invalid", reason: "no payload.plainToken" };
  }
  if (value.event !== PRESENCE_EVENT) {
    return { kind: "other", name: value.event };
  }

  const object = isObject(payload?.object) ? payload.object : undefined;
  const userId = object?.id;
  const rawStatus = object?.presence_status;
  if (typeof userId !== "string" || userId === "" || typeof rawStatus !== "string" || rawStatus === "") {
    return { kind: "invalid", reason: "no payload.object.id or payload.object.presence_status" };
  }

  const event: PresenceEvent = { userId, rawStatus, time: {} };
  if (typeof object?.email === "string" && object.email !== "") {
    event.email = object.email;
  }
  if (typeof payload?.account_id === "string") {
    event.accountId = payload.account_id;
  }
  if (typeof object?.date_time === "string") {
    event.dateTime = object.date_time;
    const changedAt = Date.parse(object.date_time);
    if (!Number.isNaN(changedAt)) {
      event.time.changedAt = changedAt;
    }
  }
  if (typeof value.event_ts === "number" && Number.isFinite(value.event_ts)) {
    event.time.sentAt = value.event_ts;
  }
  if (isObject(object?.app)) {
    event.app = { ...object.app };
  }
  return { kind: "presence", event };
}

/** Parses JSON text into an event. Text that is not JSON is an invalid event. */
export function parseEventText(text: string): ParsedEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "not JSON" };
  }
  return parseEvent(value);
}

/**
 * Compares two event times: by the time of the change, and by the time Zoom sent the event when the
 * changes happened in the same second (date_time has whole seconds). Returns a negative number when
 * `a` is older, 0 when the times are equal or cannot be compared.
 */
export function compareEventTimes(a: EventTime, b: EventTime): number {
  const primaryA = a.changedAt ?? a.sentAt;
  const primaryB = b.changedAt ?? b.sentAt;
  if (primaryA === undefined || primaryB === undefined) {
    return 0;
  }
  if (primaryA !== primaryB) {
    return primaryA - primaryB;
  }
  if (a.sentAt !== undefined && b.sentAt !== undefined) {
    return a.sentAt - b.sentAt;
  }
  return 0;
}

/** Users whose last event time is kept; past this the oldest entries are forgotten. */
export const MAX_ORDERED_USERS = 10_000;

/** The time of the newest event accepted per user. */
export class EventOrder {
  private readonly newest = new Map<string, EventTime>();

  /**
   * Returns false for an event older than the newest one accepted for the user, and true otherwise,
   * remembering its time. An event without a time is always accepted.
   */
  accept(userKey: string, time: EventTime): boolean {
    const newest = this.newest.get(userKey);
    if (newest !== undefined && compareEventTimes(time, newest) < 0) {
      return false;
    }
    if (time.changedAt === undefined && time.sentAt === undefined) {
      return true;
    }

    this.newest.delete(userKey);
    this.newest.set(userKey, time);
    if (this.newest.size > MAX_ORDERED_USERS) {
      const oldest = this.newest.keys().next().value as string;
      this.newest.delete(oldest);
    }
    return true;
  }

  clear(): void {
    this.newest.clear();
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
