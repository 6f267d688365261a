// Zoom's presence vocabulary and the validation Zoom applies to
// PUT /v2/users/{userId}/presence_status, as the emulator reproduces them.
import type { ParsedBody } from "./request-body";

/**
 * Status values PUT accepts, spelled exactly (case-sensitive). The OpenAPI enum spells Do Not
 * Disturb "Do_No_Disturb", while Zoom's descriptions and clients send "Do_Not_Disturb", so
 * both are accepted.
 */
export const PUT_STATUSES: ReadonlySet<string> = new Set([
  "Away",
  "Available",
  "In_Calendar_Event",
  "Presenting",
  "In_A_Zoom_Meeting",
  "On_A_Call",
  "Out_of_Office",
  "Busy",
  "Do_Not_Disturb",
  "Do_No_Disturb",
]);

export const DO_NOT_DISTURB = "Do_Not_Disturb";

/** Do Not Disturb duration in minutes when a PUT gives none. */
export const DEFAULT_DND_MINUTES = 20;
export const MAX_DND_MINUTES = 1440;

/** Spellings the live GET endpoint has been seen returning in place of the PUT spellings. */
const LIVE_SPELLINGS: Readonly<Record<string, string>> = {
  In_A_Zoom_Meeting: "In_A_Meeting",
  On_A_Call: "In_A_Call",
  In_Calendar_Event: "In_A_Calendar_Event",
};

/** Spellings that presence events use in place of the PUT spellings. */
const EVENT_SPELLINGS: Readonly<Record<string, string>> = {
  In_A_Zoom_Meeting: "In_Meeting",
  On_A_Call: "On_Phone_Call",
};

/** Other spellings of a stored status mapped to the canonical (PUT) spelling. */
const CANONICAL_SPELLINGS: Readonly<Record<string, string>> = {
  Do_No_Disturb: DO_NOT_DISTURB,
  In_A_Meeting: "In_A_Zoom_Meeting",
  In_A_Call: "On_A_Call",
  In_A_Calendar_Event: "In_Calendar_Event",
};

/**
 * Returns the canonical spelling of a status given in any known spelling, or undefined for
 * a value Zoom does not know.
 */
export function canonicalStatus(status: string): string | undefined {
  const canonical = CANONICAL_SPELLINGS[status] ?? status;
  return PUT_STATUSES.has(canonical) ? canonical : undefined;
}

/** Returns the spelling GET uses for a canonical status. */
export function spellForGet(status: string, liveSpellings: boolean): string {
  return liveSpellings ? (LIVE_SPELLINGS[status] ?? status) : status;
}

/** Returns the spelling a `user.presence_status_updated` event uses for a canonical status. */
export function spellForEvent(status: string): string {
  return EVENT_SPELLINGS[status] ?? status;
}

/** A valid presence update: the canonical status and, for Do Not Disturb, its duration in minutes. */
export interface PresenceUpdate {
  status: string;
  durationMinutes?: number;
}

/** Zoom's error body for a request that failed validation. */
export interface ZoomErrorBody {
  code: number;
  message: string;
  errors?: { field: string; message: string }[];
}

export type PresenceUpdateResult = { ok: true; update: PresenceUpdate } | { ok: false; error: ZoomErrorBody };

function invalidField(field: string): PresenceUpdateResult {
  return { ok: false, error: { code: 300, message: "Validation Failed.", errors: [{ field, message: "Invalid field." }] } };
}

/**
 * Validates a PUT body like Zoom. Status is required and must be one of PUT_STATUSES. A duration
 * sent with Do Not Disturb must be an integer from 1 to MAX_DND_MINUTES: a string of digits in
 * multipart, a JSON number in JSON. Any other body gets 400 with code 300.
 */
export function validatePresenceUpdate(body: ParsedBody): PresenceUpdateResult {
  if (body.kind !== "json" && body.kind !== "multipart") {
    // NOTE: Zoom does not document its response to a body that is neither a JSON object nor
    // multipart, so this code and message are a guess.
    return { ok: false, error: { code: 300, message: "Request Body should be a valid JSON object." } };
  }

  const fields = body.value;
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    return { ok: false, error: { code: 300, message: "Request Body should be a valid JSON object." } };
  }

  const { status, duration } = fields as Record<string, unknown>;
  if (typeof status !== "string" || !PUT_STATUSES.has(status)) {
    return invalidField("status");
  }

  const canonical = canonicalStatus(status) as string;
  if (canonical !== DO_NOT_DISTURB || duration === undefined) {
    // NOTE: a duration sent with another status is ignored without validation, which follows
    // the documentation ("only for Do Not Disturb"); whether Zoom validates it anyway is unknown.
    return { ok: true, update: { status: canonical } };
  }

  const minutes = body.kind === "multipart" ? parseDigits(duration) : duration;
  if (typeof minutes !== "number" || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_DND_MINUTES) {
    return invalidField("duration");
  }
  return { ok: true, update: { status: canonical, durationMinutes: minutes } };
}

function parseDigits(value: unknown): number | undefined {
  return typeof value === "string" && /^[0-9]+$/.test(value) ? Number(value) : undefined;
}
