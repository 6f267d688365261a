/** Message catalog look-ups with an English fallback. */
import type { NodeAPI } from "node-red";
import { PresenceError } from "../zoom/errors";

/**
 * Translates `namespace.key`. Node-RED returns the key itself when a catalog lacks it, and the
 * English text from the Zoom modules is used then.
 */
export function translate(RED: NodeAPI, key: string, params: Record<string, unknown>, fallback: string): string {
  const text = RED._(key, params as Record<string, string>);
  return !text || text === key ? fallback : text;
}

/** Returns the user-facing text of an error: the catalog's wording of a PresenceError, or the error's own message. */
export function errorText(RED: NodeAPI, namespace: string, error: unknown): string {
  if (error instanceof PresenceError) {
    return translate(RED, `${namespace}.${error.key}`, error.params, error.message);
  }
  return error instanceof Error ? error.message : String(error);
}
