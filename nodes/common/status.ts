/** The node status texts of this package, so every node shows the same things the same way. */
import type { Node, NodeAPI } from "node-red";
import { PresenceError } from "../zoom/errors";
import { translate } from "./i18n";

const SHORT_ERRORS: Record<string, string> = {
  invalid_input: "invalid input",
  rate_limited: "rate limited",
  auth_failed: "auth failed",
  zoom_error: "Zoom error",
  network_error: "network error",
};

/** Returns a short description of an error for a node status: the kind, and for Zoom error responses the HTTP status and Zoom's code. */
export function shortError(error: unknown): string {
  let short = "error";
  if (error instanceof PresenceError) {
    short = SHORT_ERRORS[error.kind] ?? error.kind;
    const { statusCode, code } = error as { statusCode?: number; code?: unknown };
    if (statusCode !== undefined) {
      short += ` ${statusCode}${code !== undefined ? `/${String(code)}` : ""}`;
    }
  }
  return short;
}

export class StatusHelper {
  /** Identifies the status on show, so a burst of identical updates translates and sends it once. */
  private shownKey: string | undefined;
  /** The last status set, shown again when a waiting update ends without being sent. */
  private lastSet: { status: string; duration?: number } | undefined;

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    private readonly namespace: string,
  ) {}

  /** Shows a status now set: a red dot for Do Not Disturb with its minutes, a green dot otherwise. */
  set(status: string, duration?: number): void {
    this.lastSet = { status, duration };
    if (!this.show(`set\n${status}\n${duration}`)) {
      return;
    }

    if (duration !== undefined) {
      const text = this.text("status.dnd", { minutes: duration }, `${status} ${duration} min`);
      this.node.status({ fill: "red", shape: "dot", text });
      return;
    }
    this.node.status({ fill: "green", shape: "dot", text: this.text("status.set", { status }, status) });
  }

  /** Shows the last status set again, or nothing when none was set; for an update that ended unsent. */
  restore(): void {
    if (this.lastSet) {
      this.set(this.lastSet.status, this.lastSet.duration);
    } else {
      this.clear();
    }
  }

  /** Shows an update held until the user's window opens. */
  queued(status: string, opensAt: number | undefined): void {
    this.shownKey = undefined;
    if (opensAt === undefined) {
      this.node.status({ fill: "yellow", shape: "ring", text: this.text("status.queued-after-answer", { status }, `queued: ${status}`) });
      return;
    }
    const seconds = Math.max(0, Math.ceil((opensAt - Date.now()) / 1000));
    this.node.status({ fill: "yellow", shape: "ring", text: this.text("status.queued", { status, seconds }, `queued: ${status} in ${seconds} s`) });
  }

  /** Shows a short error: the kind, and for Zoom responses the HTTP status and Zoom's code. */
  error(error: unknown): void {
    const short = shortError(error);
    if (!this.show(`error\n${short}`)) {
      return;
    }
    this.node.status({ fill: "red", shape: "ring", text: this.text("status.error", { error: short }, short) });
  }

  clear(): void {
    this.shownKey = undefined;
    this.node.status({});
  }

  /** Records what is about to be shown; false when it is on show already. */
  private show(key: string): boolean {
    if (this.shownKey === key) {
      return false;
    }
    this.shownKey = key;
    return true;
  }

  private text(key: string, params: Record<string, unknown>, fallback: string): string {
    return translate(this.RED, `${this.namespace}.${key}`, params, fallback);
  }
}
