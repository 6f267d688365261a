/** The `toggle` payload of zoom-presence: switches a user between Available and Do Not Disturb. */
import { DO_NOT_DISTURB, SettableStatus, parseObservedStatus, statusKey } from "./statuses";

export const TOGGLE = "toggle";

/** True for the payload `toggle` (any case), or an object whose `status` is `toggle`. */
export function isToggle(payload: unknown): boolean {
  if (typeof payload === "string") {
    return statusKey(payload) === TOGGLE;
  }
  if (typeof payload === "object" && payload !== null && !Array.isArray(payload) && Object.prototype.hasOwnProperty.call(payload, "status")) {
    const status = (payload as { status: unknown }).status;
    return typeof status === "string" && statusKey(status) === TOGGLE;
  }
  return false;
}

/** Do Not Disturb ends with Available; every other status (or none known) toggles to Do Not Disturb. */
export function toggleTarget(current: string | undefined): SettableStatus {
  return current !== undefined && parseObservedStatus(current) === DO_NOT_DISTURB ? "Available" : DO_NOT_DISTURB;
}

/**
 * Returns the payload with `toggle` replaced by the status. A duration in a payload object is kept for
 * Do Not Disturb and dropped for Available, where it does not apply.
 */
export function resolveToggle(payload: unknown, status: SettableStatus): unknown {
  if (typeof payload === "string") {
    return status;
  }
  const resolved: Record<string, unknown> = { ...(payload as Record<string, unknown>), status };
  if (status !== DO_NOT_DISTURB) {
    delete resolved.duration;
  }
  return resolved;
}
