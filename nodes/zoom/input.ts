/**
 * Turns what a flow sends (`msg.payload`, `msg.userId`, `msg.duration` and the node's settings) into
 * one validated presence update, or an InputError that names the value at fault.
 */
import { InputError } from "./errors";
import { DO_NOT_DISTURB, SETTABLE_STATUSES, SettableStatus, parseSettableStatus } from "./statuses";

export const MIN_DURATION_MINUTES = 1;
export const MAX_DURATION_MINUTES = 1440;
/** Zoom's own default length of Do Not Disturb, used when neither the message nor the node sets one. */
export const DEFAULT_DURATION_MINUTES = 20;

/** A request to change one user's presence, ready to send. */
export interface PresenceUpdate {
  userId: string;
  status: SettableStatus;
  /** Minutes of Do Not Disturb; present only with that status. */
  duration?: number;
}

/** The parts of a message and of the node's settings that an update is made from. */
export interface UpdateSources {
  payload: unknown;
  msgUserId?: unknown;
  msgDuration?: unknown;
  /** The node's user id, already resolved from its typed input. */
  nodeUserId: unknown;
  /** The node's default Do Not Disturb minutes, as saved by the editor (a number or a numeric string). */
  nodeDuration: unknown;
}

/**
 * Maximum length of a user id, in characters. An email address has at most 254: RFC 5321 (4.5.3.1.3)
 * allows 256 octets for a path, angle brackets included. Zoom's user ids are shorter.
 */
export const MAX_USER_ID_LENGTH = 254;

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
/** A UTF-16 surrogate without its pair, which has no UTF-8 form and so cannot be percent-encoded into a URL. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const WHOLE_NUMBER = /^\s*\d+\s*$/;
const MAX_SHOWN_LENGTH = 60;

/** Parses and validates an update. Throws InputError, which names the field and value at fault. */
export function parseUpdate(sources: UpdateSources): PresenceUpdate {
  const fields = payloadFields(sources.payload);
  const status = parseStatus(fields.status);

  const userId = parseUserId(firstPresent(fields.userId, sources.msgUserId, sources.nodeUserId));

  if (status !== DO_NOT_DISTURB) {
    if (isPresent(fields.duration)) {
      throw new InputError(
        "payload.duration",
        `Invalid input: a duration applies only to ${DO_NOT_DISTURB}, not to ${status}`,
        { key: "errors.duration-with-status", params: { status } },
      );
    }
    return { userId, status };
  }

  const rawDuration = [fields.duration, sources.msgDuration, sources.nodeDuration].find(isPresent);
  const duration = rawDuration === undefined ? DEFAULT_DURATION_MINUTES : parseDuration(rawDuration);
  return { userId, status, duration };
}

/** Reads status, duration and userId from a payload that is a status string or an object. */
function payloadFields(payload: unknown): { status: unknown; duration?: unknown; userId?: unknown } {
  if (typeof payload === "string") {
    return { status: payload };
  }
  if (isPlainObject(payload)) {
    return {
      status: ownField(payload, "status"),
      duration: ownField(payload, "duration"),
      userId: ownField(payload, "userId"),
    };
  }
  throw new InputError(
    "payload",
    `Invalid payload: expected a status string or an object {status, duration?, userId?}, got ${typeName(payload)}`,
    { key: "errors.payload-type", params: { type: typeName(payload) } },
  );
}

export function parseStatus(value: unknown): SettableStatus {
  if (typeof value !== "string") {
    throw new InputError("payload.status", `Invalid status: expected a string, got ${typeName(value)}`, {
      key: "errors.status-type",
      params: { type: typeName(value) },
    });
  }

  const status = parseSettableStatus(value);
  if (status === undefined) {
    const accepted = SETTABLE_STATUSES.join(", ");
    throw new InputError(
      "payload.status",
      `Invalid status ${showValue(value)}: expected one of ${accepted} (case-insensitive), or an alias such as dnd`,
      { key: "errors.unknown-status", params: { value: showValue(value), accepted } },
    );
  }
  return status;
}

/** Accepts whole minutes from 1 to 1440, as a number or a string of digits. */
export function parseDuration(value: unknown): number {
  let minutes = Number.NaN;
  if (typeof value === "number") {
    minutes = value;
  } else if (typeof value === "string" && WHOLE_NUMBER.test(value)) {
    minutes = Number(value);
  }

  if (!Number.isInteger(minutes) || minutes < MIN_DURATION_MINUTES || minutes > MAX_DURATION_MINUTES) {
    throw new InputError(
      "duration",
      `Invalid duration ${showValue(value)}: expected whole minutes from ${MIN_DURATION_MINUTES} to ${MAX_DURATION_MINUTES}`,
      { key: "errors.duration", params: { value: showValue(value) } },
    );
  }
  return minutes;
}

/**
 * Accepts a Zoom user id or email: a non-empty string (a number is taken as its digits) that is not
 * "." or "..", has no control characters or lone surrogates, and has at most MAX_USER_ID_LENGTH
 * characters once trimmed. The value is used as one URL path segment.
 */
export function parseUserId(value: unknown): string {
  const text = typeof value === "number" && Number.isFinite(value) ? String(value) : value;
  const valid =
    typeof text === "string" &&
    text.trim() !== "" &&
    text.trim() !== "." &&
    text.trim() !== ".." &&
    !CONTROL_CHARACTERS.test(text) &&
    !LONE_SURROGATE.test(text);

  if (!valid) {
    throw new InputError(
      "userId",
      `Invalid user id ${showValue(value)}: expected a Zoom user id or email, not empty, "." or "..", without control characters`,
      { key: "errors.user-id", params: { value: showValue(value) } },
    );
  }

  const userId = (text as string).trim();
  if (userId.length > MAX_USER_ID_LENGTH) {
    throw new InputError(
      "userId",
      `Invalid user id ${showValue(value)}: longer than ${MAX_USER_ID_LENGTH} characters, the limit of a Zoom user id or email`,
      { key: "errors.user-id-length", params: { value: showValue(value), max: MAX_USER_ID_LENGTH } },
    );
  }
  return userId;
}

/** Quotes a value for an error message, cut to a readable length and with control characters escaped. */
export function showValue(value: unknown): string {
  let text: string;
  if (typeof value === "string") {
    text = JSON.stringify(value.length > MAX_SHOWN_LENGTH ? value.slice(0, MAX_SHOWN_LENGTH) : value);
    if (value.length > MAX_SHOWN_LENGTH) {
      text = `${text.slice(0, -1)}…" (${value.length} characters)`;
    }
    return text;
  }
  if (value === undefined || value === null || typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return `(${typeName(value)})`;
}

export function typeName(value: unknown): string {
  if (value === null) {
    return "null";
  }
  if (Array.isArray(value)) {
    return "array";
  }
  if (Buffer.isBuffer(value)) {
    return "Buffer";
  }
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** Reads an own property only, so keys inherited from a prototype are never taken as input. */
function ownField(object: Record<string, unknown>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, name) ? object[name] : undefined;
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

function firstPresent(...values: unknown[]): unknown {
  return values.find((value) => value !== undefined && value !== null);
}
