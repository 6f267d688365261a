/**
 * The presence status vocabulary: the values Zoom's "update a user's presence status" call accepts,
 * and the spellings that users and Zoom's other surfaces use for the same statuses.
 */

/** Statuses that `PUT /users/{userId}/presence_status` accepts, spelled as this package sends them. */
export const SETTABLE_STATUSES = [
  "Available",
  "Away",
  "Do_Not_Disturb",
  "In_Calendar_Event",
  "Presenting",
  "In_A_Zoom_Meeting",
  "On_A_Call",
  "Out_of_Office",
  "Busy",
] as const;

export type SettableStatus = (typeof SETTABLE_STATUSES)[number];

export const DO_NOT_DISTURB: SettableStatus = "Do_Not_Disturb";

/**
 * Other spellings and what they mean. `Do_No_Disturb` is the spelling in Zoom's OpenAPI enum; the
 * `In_A_...` forms are what the live GET endpoint returns; `In_Meeting` and `On_Phone_Call` are the
 * webhook spellings.
 */
const ALIASES: Record<string, SettableStatus> = {
  dnd: "Do_Not_Disturb",
  do_no_disturb: "Do_Not_Disturb",
  in_meeting: "In_A_Zoom_Meeting",
  in_a_meeting: "In_A_Zoom_Meeting",
  on_phone_call: "On_A_Call",
  in_a_call: "On_A_Call",
  in_a_calendar_event: "In_Calendar_Event",
};

const BY_KEY = new Map<string, SettableStatus>();
for (const status of SETTABLE_STATUSES) {
  BY_KEY.set(statusKey(status), status);
}
for (const [alias, status] of Object.entries(ALIASES)) {
  BY_KEY.set(alias, status);
}

/**
 * Folds a spelling to its lookup key: trimmed, lower case, with every run of spaces, hyphens and
 * underscores turned into one underscore.
 */
export function statusKey(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_-]+/g, "_");
}

/** Returns the canonical settable status for a spelling or alias, or undefined for an unknown spelling. */
export function parseSettableStatus(text: string): SettableStatus | undefined {
  return BY_KEY.get(statusKey(text));
}

/** Every accepted alias, for help texts and error messages. */
export function statusAliases(): Readonly<Record<string, SettableStatus>> {
  return ALIASES;
}

/** Statuses that only reading a presence returns: they cannot be set. */
export const READ_ONLY_STATUSES = ["Offline", "Mobile_signed_in"] as const;

/** A status in the package's canonical vocabulary: a settable status or a read-only one. */
export type ObservedStatus = SettableStatus | (typeof READ_ONLY_STATUSES)[number];

/** A place where a presence status is spelled: the PUT body, the GET response, or a webhook or WebSocket event. */
export type Surface = "put" | "get" | "event";

/**
 * The spelling of each canonical status on each surface, as Zoom's live API and events spell them.
 * An absent entry means the surface has no spelling for that status: `Offline` cannot be set, and no
 * event spelling of `Out_of_Office` is documented.
 */
export const SPELLINGS: Readonly<Record<ObservedStatus, Readonly<Partial<Record<Surface, string>>>>> = {
  Available: { put: "Available", get: "Available", event: "Available" },
  Away: { put: "Away", get: "Away", event: "Away" },
  Do_Not_Disturb: { put: "Do_Not_Disturb", get: "Do_Not_Disturb", event: "Do_Not_Disturb" },
  In_A_Zoom_Meeting: { put: "In_A_Zoom_Meeting", get: "In_A_Meeting", event: "In_Meeting" },
  On_A_Call: { put: "On_A_Call", get: "In_A_Call", event: "On_Phone_Call" },
  In_Calendar_Event: { put: "In_Calendar_Event", get: "In_A_Calendar_Event", event: "In_Calendar_Event" },
  Presenting: { put: "Presenting", get: "Presenting", event: "Presenting" },
  Out_of_Office: { put: "Out_of_Office", get: "Out_of_Office" },
  Busy: { put: "Busy", get: "Busy", event: "Busy" },
  Offline: { get: "Offline", event: "Offline" },
  Mobile_signed_in: { event: "Mobile_signed_in" },
};

const OBSERVED_BY_KEY = new Map<string, ObservedStatus>();
for (const [status, spellings] of Object.entries(SPELLINGS) as Array<[ObservedStatus, Partial<Record<Surface, string>>]>) {
  OBSERVED_BY_KEY.set(statusKey(status), status);
  for (const spelling of Object.values(spellings)) {
    OBSERVED_BY_KEY.set(statusKey(spelling), status);
  }
}
// The spelling of Zoom's OpenAPI enum, in case a read returns it.
OBSERVED_BY_KEY.set(statusKey("Do_No_Disturb"), "Do_Not_Disturb");

/**
 * Maps a status as Zoom reported it (GET response or event, any of the spellings in SPELLINGS,
 * compared without case) to the canonical status. Returns undefined for any other value, which callers
 * pass on unchanged instead of guessing its meaning.
 */
export function parseObservedStatus(raw: string): ObservedStatus | undefined {
  return OBSERVED_BY_KEY.get(statusKey(raw));
}

/** Returns how a surface spells a canonical status, or undefined when it has no spelling for it. */
export function spellStatus(status: ObservedStatus, surface: Surface): string | undefined {
  return SPELLINGS[status][surface];
}

/** The class of a presence for a light or a node status: busy (red), available (green), away (yellow) or offline (grey). */
export type StatusClass = "busy" | "available" | "away" | "offline" | "unknown";

const STATUS_CLASSES: Readonly<Record<ObservedStatus, StatusClass>> = {
  Available: "available",
  Mobile_signed_in: "available",
  Away: "away",
  Out_of_Office: "away",
  Do_Not_Disturb: "busy",
  In_A_Zoom_Meeting: "busy",
  On_A_Call: "busy",
  Presenting: "busy",
  In_Calendar_Event: "busy",
  Busy: "busy",
  Offline: "offline",
};

/** Classifies a canonical status; any other value is `unknown`. */
export function classifyStatus(status: string): StatusClass {
  return Object.prototype.hasOwnProperty.call(STATUS_CLASSES, status) ? STATUS_CLASSES[status as ObservedStatus] : "unknown";
}
