// Random faults for the Zoom emulator: a catalogue of failures of the presence endpoint, and a timeline
// that injects them while a test's workload runs, with a record of what it did and when.
import type { Fault, ZoomEmulator } from "../../emulator/zoom-emulator";
import type { SeededRandom } from "./seeded-random";

/** The failures of one presence request that the fault suite draws from. */
export const PRESENCE_FAULT_KINDS = [
  "500",
  "502",
  "503",
  "503 Retry-After",
  "504",
  "reset",
  "slow",
  "hang",
  "429 bare",
  "429 Retry-After date",
] as const;

export type PresenceFaultKind = (typeof PRESENCE_FAULT_KINDS)[number];

/**
 * Builds the emulator fault for a kind. `timeoutMs` is the client's request timeout: a `slow` answer
 * comes half a second after it, so the client gives up first.
 */
export function presenceFault(kind: PresenceFaultKind, timeoutMs: number, now: number = Date.now()): Fault {
  const serverError = (status: number, message: string): Fault => ({ status, body: { code: status, message } });
  switch (kind) {
    case "500":
      return serverError(500, "Internal server error");
    case "502":
      return { status: 502, body: "<html><body>502 Bad Gateway</body></html>", headers: { "content-type": "text/html" } };
    case "503":
      return serverError(503, "Service unavailable");
    case "503 Retry-After":
      return { ...serverError(503, "Service unavailable"), headers: { "Retry-After": "1" } };
    case "504":
      return { status: 504, body: "" };
    case "reset":
      return { action: "reset" };
    case "slow":
      // No status: the emulator applies the update on arrival and sends the real answer late.
      return { delayMs: timeoutMs + 500 };
    case "hang":
      return { action: "hang" };
    case "429 bare":
      // No Retry-After and none of the X-RateLimit headers, as Zoom sometimes answers.
      return { status: 429, body: { code: 429, message: "Too many requests" } };
    case "429 Retry-After date":
      return {
        status: 429,
        body: { code: 429, message: "You have reached the maximum daily rate limit for this API." },
        // An HTTP date has whole seconds, so this asks for a wait of one to two seconds.
        headers: { "Retry-After": new Date(now + 2000).toUTCString() },
      };
  }
}

export interface TimelineEntry {
  /** Milliseconds since the timeline started. */
  at: number;
  what: string;
}

/** Runs actions at set times and on a tick, and records each one, until stop(). */
export class ChaosTimeline {
  readonly entries: TimelineEntry[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly startedAt = Date.now();
  private stopped = false;

  /** Runs `action` once, `atMs` after the timeline started. */
  at(atMs: number, what: string, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.run(what, action);
    }, Math.max(0, atMs - this.elapsed()));
    this.timers.add(timer);
  }

  /** Calls `tick` every `everyMs`; it returns a description of what it did, or undefined for nothing. */
  every(everyMs: number, tick: () => string | undefined): void {
    const timer = setInterval(() => {
      if (this.stopped) {
        return;
      }
      const what = tick();
      if (what !== undefined) {
        this.entries.push({ at: this.elapsed(), what });
      }
    }, everyMs);
    this.timers.add(timer);
  }

  /** Cancels every action still to come. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
  }

  elapsed(): number {
    return Date.now() - this.startedAt;
  }

  /** How often each description occurs, for a one-line report. */
  summary(): string {
    const counts = new Map<string, number>();
    for (const { what } of this.entries) {
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    return [...counts].map(([what, count]) => (count === 1 ? what : `${what} ×${count}`)).join(", ");
  }

  private run(what: string, action: () => void): void {
    if (this.stopped) {
      return;
    }
    this.entries.push({ at: this.elapsed(), what });
    action();
  }
}

/**
 * Injects one random presence fault on each tick with probability `perTick`. Each fault applies to the
 * next PUT that reaches the emulator, whichever user it is for.
 */
export function injectRandomPresenceFaults(
  timeline: ChaosTimeline,
  emulator: ZoomEmulator,
  random: SeededRandom,
  options: { tickMs: number; perTick: number; timeoutMs: number },
): void {
  timeline.every(options.tickMs, () => {
    if (!random.chance(options.perTick)) {
      return undefined;
    }
    const kind = random.pick(PRESENCE_FAULT_KINDS);
    emulator.injectFault("presence.put", presenceFault(kind, options.timeoutMs));
    return `PUT ${kind}`;
  });
}
