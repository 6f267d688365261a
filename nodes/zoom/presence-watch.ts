/**
 * Follows the presence of one user, or of every user of an account, from one source: a shared poll,
 * verified webhook requests, or the WebSockets event subscription. It turns readings and events into
 * observations in the canonical vocabulary, drops late events, decides what to emit, records every
 * status in the last-known store, and describes the source's health for the node status.
 */
import { AccountConnection } from "./account";
import { PresenceReading } from "./client";
import { InputError, PresenceError } from "./errors";
import { EventSocketSubscriber, SharedEventSockets, ZoomEventSocket, eventSocketUrl, reconnectDelayMs } from "./event-socket";
import { EventOrder, PresenceEvent, parseEvent, parseEventText } from "./events";
import { LastKnownStatuses } from "./last-known";
import { BudgetRequestAbortedError, PresenceScheduler } from "./limiter";
import { PollRegistry } from "./poller";
import { userKey } from "./policy";
import { readPresence } from "./reader";
import { parseObservedStatus } from "./statuses";
import { SignatureFailure, urlValidationAnswer, verifyWebhook } from "./webhook";

export type PresenceSource = "poll" | "webhook" | "websocket";
export type EmitMode = "change" | "every";

export const PRESENCE_SOURCES: readonly PresenceSource[] = ["poll", "webhook", "websocket"];
export const MIN_POLL_INTERVAL_SECONDS = 10;
export const DEFAULT_POLL_INTERVAL_SECONDS = 60;

export interface WatchSettings {
  source: PresenceSource;
  /** The user to watch (a Zoom user id or email), or undefined for every user of the account. */
  userId?: string;
  /** Milliseconds between polls; used by the poll source only. */
  intervalMs: number;
  emit: EmitMode;
}

/** One status of one user, as the node outputs it. */
export interface PresenceObservation {
  userId: string;
  email?: string;
  source: PresenceSource;
  /** The canonical status, or Zoom's value unchanged when it is not in the vocabulary. */
  status: string;
  /** The status exactly as Zoom spelled it. */
  rawStatus: string;
  /** False when Zoom's value is not in the vocabulary. */
  known: boolean;
  /** When the status changed (events), or when it was read (GET), as an ISO 8601 date-time. */
  changedAt: string;
  endTime?: string;
  remainingMinutes?: number;
  app?: Record<string, unknown>;
}

/** A problem that keeps the source from working. The node status shows the most urgent one. */
export type WatchProblem =
  | { kind: "config"; error: PresenceError }
  | { kind: "connecting"; attempt: number }
  | { kind: "reconnecting"; delayMs: number; reason: string; attempt: number }
  | { kind: "rejected"; count: number; reason: SignatureFailure }
  | { kind: "poll-failed"; count: number; error: unknown }
  | { kind: "read-failed"; error: unknown };

export interface WatchView {
  source: PresenceSource;
  /** The last observation, of the watched user or of any user when all are watched. */
  current?: PresenceObservation;
  problem?: WatchProblem;
}

export type LogLevel = "info" | "warn";

export interface WatchCallbacks {
  /** An observation to send, chosen by the emit mode. */
  emit(observation: PresenceObservation): void;
  /** The view changed: re-render the node status from view(). */
  changed(): void;
  /** A log line: a message key of the node's catalog, its parameters and the English text. */
  log(level: LogLevel, key: string, params: Record<string, string | number>, text: string): void;
}

export interface WatchDependencies {
  connection: AccountConnection;
  scheduler: PresenceScheduler;
  polls: PollRegistry;
  sockets: SharedEventSockets;
  lastKnown: LastKnownStatuses;
  /** Overrides for the WebSocket client, for tests: heartbeat interval and reconnect backoff. */
  socket?: { heartbeatMs?: number; backoffMs?: (attempt: number) => number };
  now?: () => number;
}

export interface WebhookRequest {
  signature: string | undefined;
  timestamp: string | undefined;
  /** The raw body when the route could read it, else undefined. */
  rawBody?: string | Buffer;
  /** The body as parsed by Node-RED's HTTP stack, when it was parsed before the route. */
  parsedBody?: unknown;
}

export interface WebhookAnswer {
  statusCode: number;
  body?: unknown;
}

const REJECTION_REASONS: Record<SignatureFailure, string> = {
  "missing-signature": "no x-zm-signature header",
  "missing-timestamp": "no x-zm-request-timestamp header",
  "bad-timestamp": "x-zm-request-timestamp is not a number of seconds",
  stale: "x-zm-request-timestamp is more than 5 minutes off",
  "bad-signature": "the signature does not match the body and the secret token",
};

/** Maximum wait for the first WebSocket open before the status is read on start. */
const INITIAL_READ_WAIT_MS = 5000;

/** The key of a watched single user in the per-user maps, so that GET readings and events compare. */
const WATCHED = "\u0000watched";

export class PresenceWatcher {
  private readonly now: () => number;
  private readonly abort = new AbortController();
  private readonly order = new EventOrder();
  private readonly lastEmitted = new Map<string, string>();
  private readonly latest = new Map<string, PresenceObservation>();
  private readonly unknownWarned = new Set<string>();
  private readonly problems = new Map<WatchProblem["kind"], WatchProblem>();
  private current: PresenceObservation | undefined;
  private unsubscribePoll: (() => void) | undefined;
  private unsubscribeSocket: (() => void) | undefined;
  private initialReadTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly settings: WatchSettings,
    private readonly deps: WatchDependencies,
    private readonly callbacks: WatchCallbacks,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** Starts the source. Configuration errors become a `config` problem, not an exception. */
  start(): void {
    try {
      this.checkConfiguration();
    } catch (error) {
      if (!(error instanceof PresenceError)) {
        throw error;
      }
      this.setProblem({ kind: "config", error });
      this.callbacks.log("warn", error.key, error.params, error.message);
      return;
    }

    if (this.settings.userId === "me" && this.settings.source !== "poll") {
      this.callbacks.log("warn", "warn.me-with-events", {}, 'Events name users by id and email, so a node that watches "me" ignores them: enter the user\'s id or email');
    }

    switch (this.settings.source) {
      case "poll":
        this.startPoll(this.settings.userId as string);
        return;
      case "webhook":
        this.readOnce();
        return;
      case "websocket":
        this.startSocket();
        return;
    }
  }

  /** Stops polls, the WebSocket and reads under way. Nothing is emitted after this. */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.unsubscribePoll?.();
    this.unsubscribePoll = undefined;
    this.unsubscribeSocket?.();
    this.unsubscribeSocket = undefined;
    if (this.initialReadTimer !== undefined) {
      clearTimeout(this.initialReadTimer);
      this.initialReadTimer = undefined;
    }
  }

  view(): WatchView {
    return { source: this.settings.source, current: this.current, problem: this.topProblem() };
  }

  /**
   * Reads the watched user's status for an input message, and returns it to be sent whatever the emit
   * mode. When every user is watched, returns the last observation of each user seen, without a read.
   */
  async refresh(): Promise<PresenceObservation[]> {
    const userId = this.settings.userId;
    if (userId === undefined) {
      return [...this.latest.values()];
    }
    const config = this.problems.get("config");
    if (config) {
      throw (config as { error: PresenceError }).error;
    }

    let reading: PresenceReading;
    try {
      reading = await readPresence(this.deps.scheduler, this.deps.connection, userId, { signal: this.abort.signal });
    } catch (error) {
      // The input message ends with this error, so it is not logged here as well.
      if (!(error instanceof BudgetRequestAbortedError)) {
        this.setProblem({ kind: "read-failed", error });
      }
      throw error;
    }
    this.clearProblem("read-failed");
    const observation = this.fromReading(userId, reading);
    this.observe(WATCHED, observation, { forced: true });
    return [observation];
  }

  /** Verifies and handles one webhook request, and returns the HTTP response for Zoom. */
  handleWebhook(request: WebhookRequest): WebhookAnswer {
    const secretToken = this.deps.connection.webhookSecretToken;
    const bodies: Array<string | Buffer> = [];
    if (request.rawBody !== undefined) {
      bodies.push(request.rawBody);
    }
    let parsed = request.parsedBody;
    if (parsed === undefined && request.rawBody !== undefined) {
      try {
        parsed = JSON.parse(request.rawBody.toString());
      } catch {
        // Only the raw body can match then, and a verified body that is not JSON gets a 400 response.
        parsed = undefined;
      }
    }
    // NOTE: JSON.stringify reproduces Zoom's bytes only for compact JSON without escapes such as
    // \u00e9, so such a request is rejected when the route gets only the parsed body.
    if (parsed !== undefined) {
      bodies.push(JSON.stringify(parsed));
    }

    const check = verifyWebhook(secretToken, { signature: request.signature, timestamp: request.timestamp, bodies }, this.now());
    if (!check.ok) {
      this.rejectRequest(check.reason);
      return { statusCode: 401, body: { error: "invalid signature" } };
    }
    this.acceptRequests();

    const event = parsed === undefined ? { kind: "invalid" as const, reason: "not JSON" } : parseEvent(parsed);
    switch (event.kind) {
      case "url-validation":
        return { statusCode: 200, body: urlValidationAnswer(secretToken, event.plainToken) };
      case "presence":
        this.handleEvent(event.event, "webhook");
        return { statusCode: 204 };
      case "other":
        return { statusCode: 204 };
      case "invalid":
        this.callbacks.log("warn", "warn.invalid-event", { source: "webhook", reason: event.reason }, `Ignored a webhook event: ${event.reason}`);
        return { statusCode: 400, body: { error: "invalid event" } };
    }
  }

  private checkConfiguration(): void {
    const { source, userId } = this.settings;
    const connection = this.deps.connection;
    if (source === "poll" && userId === undefined) {
      throw new InputError("userId", "Polling needs a user: enter a Zoom user id or email", { key: "errors.poll-needs-user" });
    }
    if (source === "webhook" && connection.webhookSecretToken === "") {
      throw new InputError("webhookSecretToken", "Missing webhook secret token in the Zoom account configuration", { key: "errors.no-secret-token" });
    }
    if (source === "websocket") {
      if (connection.wsSubscriptionId === "") {
        throw new InputError("wsSubscriptionId", "Missing WebSocket subscription ID in the Zoom account configuration", { key: "errors.no-subscription-id" });
      }
      connection.wsBaseUrl();
    }
  }

  private startPoll(userId: string): void {
    const connection = this.deps.connection;
    this.unsubscribePoll = this.deps.polls.subscribe(userKey(connection.accountKey, userId), {
      intervalMs: this.settings.intervalMs,
      read: (signal) => readPresence(this.deps.scheduler, connection, userId, { signal }),
      onReading: (reading) => {
        if (this.stopped) {
          return;
        }
        const failed = this.problems.get("poll-failed") as { count: number } | undefined;
        if (failed) {
          this.callbacks.log("info", "log.poll-recovered", { userId, count: failed.count }, `Polling user ${userId} works again after ${failed.count} failed read(s)`);
          this.clearProblem("poll-failed");
        }
        this.observe(WATCHED, this.fromReading(userId, reading), { forced: false });
      },
      onError: (error) => {
        if (this.stopped) {
          return;
        }
        const failed = this.problems.get("poll-failed") as { count: number } | undefined;
        const count = (failed?.count ?? 0) + 1;
        if (count === 1) {
          const text = error instanceof Error ? error.message : String(error);
          this.callbacks.log("warn", "warn.poll-failed", { userId, error: text }, `Polling user ${userId} failed: ${text}`);
        }
        this.setProblem({ kind: "poll-failed", count, error });
      },
    });
  }

  private startSocket(): void {
    const connection = this.deps.connection;
    const wsBaseUrl = connection.wsBaseUrl();

    // The first read waits for the first open, so that it also covers the time before the
    // subscription started, but no longer than INITIAL_READ_WAIT_MS or the first failure.
    let initialReadDone = false;
    const initialRead = () => {
      if (!initialReadDone) {
        initialReadDone = true;
        clearTimeout(this.initialReadTimer);
        this.initialReadTimer = undefined;
        this.readOnce();
      }
    };
    this.initialReadTimer = setTimeout(initialRead, INITIAL_READ_WAIT_MS);
    this.initialReadTimer.unref();

    const key = [wsBaseUrl, connection.wsSubscriptionId, connection.accountKey].join("\n");
    const create = (fanOut: EventSocketSubscriber) =>
      new ZoomEventSocket({
        ...fanOut,
        connectTarget: async () => {
          const token = await connection.tokens.getToken();
          return { url: eventSocketUrl(wsBaseUrl, connection.wsSubscriptionId, token.value), token: token.value };
        },
        invalidateToken: (token) => connection.tokens.invalidate(token),
        heartbeatMs: this.deps.socket?.heartbeatMs,
        backoffMs: this.deps.socket?.backoffMs ?? reconnectDelayMs,
        connectTimeoutMs: connection.timeoutMs,
      });

    this.unsubscribeSocket = this.deps.sockets.subscribe(key, create, {
      onOpen: () => {
        if (this.stopped) {
          return;
        }
        this.clearProblem("connecting");
        this.clearProblem("reconnecting");
        const host = new URL(wsBaseUrl).host;
        this.callbacks.log("info", "log.ws-connected", { host }, `WebSocket connected to ${host}`);
        // Events from the time without a connection are lost: read the status after every open.
        if (initialReadDone) {
          this.readOnce();
        } else {
          initialRead();
        }
      },
      onEvent: (content) => this.handleSocketEvent(content),
      onState: (state) => {
        if (this.stopped) {
          return;
        }
        if (state.state === "connecting") {
          if (!this.problems.has("reconnecting")) {
            this.setProblem({ kind: "connecting", attempt: state.attempt });
          }
          return;
        }
        if (state.state === "reconnecting") {
          initialRead();
          this.clearProblem("connecting");
          if (state.attempt === 1) {
            this.callbacks.log("warn", "warn.ws-lost", { reason: state.reason }, `WebSocket ${state.reason}; reconnecting`);
          }
          this.setProblem({ kind: "reconnecting", delayMs: state.delayMs, reason: state.reason, attempt: state.attempt });
        }
      },
      onProblem: (description) => {
        this.callbacks.log("warn", "warn.ws-message", { description }, `Ignored ${description} from the WebSocket`);
      },
    });
  }

  private handleSocketEvent(content: string): void {
    const event = parseEventText(content);
    if (event.kind === "presence") {
      this.handleEvent(event.event, "websocket");
    } else if (event.kind === "invalid") {
      this.callbacks.log("warn", "warn.invalid-event", { source: "websocket", reason: event.reason }, `Ignored a websocket event: ${event.reason}`);
    }
  }

  private handleEvent(event: PresenceEvent, source: "webhook" | "websocket"): void {
    if (this.stopped || !this.watches(event)) {
      return;
    }
    const key = this.settings.userId === undefined ? event.userId : WATCHED;
    if (!this.order.accept(key, event.time)) {
      return;
    }

    const { status, known } = this.canonical(event.rawStatus, event.userId);
    const observation: PresenceObservation = {
      userId: event.userId,
      source,
      status,
      rawStatus: event.rawStatus,
      known,
      changedAt: event.dateTime ?? new Date(event.time.sentAt ?? this.now()).toISOString(),
    };
    if (event.email !== undefined) {
      observation.email = event.email;
    }
    if (event.app !== undefined) {
      observation.app = event.app;
    }
    this.observe(key, observation, { forced: false }, [event.userId, event.email, this.settings.userId]);
  }

  /** True when the event is about the watched user (by id, or by email without case), or all are watched. */
  private watches(event: PresenceEvent): boolean {
    const watched = this.settings.userId;
    if (watched === undefined) {
      return true;
    }
    return watched === event.userId || (event.email !== undefined && watched.toLowerCase() === event.email.toLowerCase());
  }

  /** Reads the watched user's status once (on start and after a reconnect) and handles it like a poll. */
  private readOnce(): void {
    const userId = this.settings.userId;
    if (userId === undefined) {
      return;
    }
    readPresence(this.deps.scheduler, this.deps.connection, userId, { signal: this.abort.signal }).then(
      (reading) => {
        if (this.stopped) {
          return;
        }
        this.clearProblem("read-failed");
        this.observe(WATCHED, this.fromReading(userId, reading), { forced: false });
      },
      (error: unknown) => {
        if (!this.stopped && !(error instanceof BudgetRequestAbortedError)) {
          this.readFailed(error);
        }
      },
    );
  }

  private readFailed(error: unknown): void {
    if (error instanceof BudgetRequestAbortedError) {
      return;
    }
    const userId = this.settings.userId ?? "";
    const text = error instanceof Error ? error.message : String(error);
    this.callbacks.log("warn", "warn.read-failed", { userId, error: text }, `Reading the status of user ${userId} failed: ${text}`);
    this.setProblem({ kind: "read-failed", error });
  }

  private fromReading(userId: string, reading: PresenceReading): PresenceObservation {
    const { status, known } = this.canonical(reading.status, userId);
    const observation: PresenceObservation = {
      userId,
      source: this.settings.source,
      status,
      rawStatus: reading.status,
      known,
      changedAt: new Date(this.now()).toISOString(),
    };
    if (userId.includes("@")) {
      observation.email = userId;
    }
    if (reading.endTime !== undefined) {
      observation.endTime = reading.endTime;
    }
    if (reading.remainingMinutes !== undefined) {
      observation.remainingMinutes = reading.remainingMinutes;
    }
    return observation;
  }

  private canonical(rawStatus: string, userId: string): { status: string; known: boolean } {
    const status = parseObservedStatus(rawStatus);
    if (status !== undefined) {
      return { status, known: true };
    }
    if (!this.unknownWarned.has(rawStatus)) {
      this.unknownWarned.add(rawStatus);
      this.callbacks.log(
        "warn",
        "warn.unknown-status",
        { status: rawStatus, userId },
        `Zoom reported the unknown status ${JSON.stringify(rawStatus)} for user ${userId}; it is passed on unchanged`,
      );
    }
    return { status: rawStatus, known: false };
  }

  /** Records an observation, and emits it when the emit mode requires it. A forced observation is returned to the caller instead. */
  private observe(key: string, observation: PresenceObservation, options: { forced: boolean }, userIds: Array<string | undefined> = [observation.userId, observation.email]): void {
    this.deps.lastKnown.record(this.deps.connection.accountKey, userIds, observation.status, observation.source);
    this.current = observation;
    this.latest.delete(observation.userId);
    this.latest.set(observation.userId, observation);

    const changed = this.lastEmitted.get(key) !== observation.status;
    this.lastEmitted.set(key, observation.status);
    if (!options.forced && (changed || this.settings.emit === "every")) {
      this.callbacks.emit(observation);
    }
    this.callbacks.changed();
  }

  private rejectRequest(reason: SignatureFailure): void {
    const rejected = this.problems.get("rejected") as { count: number } | undefined;
    const count = (rejected?.count ?? 0) + 1;
    if (count === 1) {
      const text = REJECTION_REASONS[reason];
      this.callbacks.log("warn", "warn.webhook-rejected", { reason: text }, `Rejected a webhook request with HTTP 401: ${text}`);
    }
    this.setProblem({ kind: "rejected", count, reason });
  }

  private acceptRequests(): void {
    const rejected = this.problems.get("rejected") as { count: number } | undefined;
    if (rejected) {
      this.callbacks.log("info", "log.webhook-accepted", { count: rejected.count }, `Accepted a signed webhook request after ${rejected.count} rejected one(s)`);
      this.clearProblem("rejected");
    }
  }

  private setProblem(problem: WatchProblem): void {
    this.problems.set(problem.kind, problem);
    this.callbacks.changed();
  }

  private clearProblem(kind: WatchProblem["kind"]): void {
    if (this.problems.delete(kind)) {
      this.callbacks.changed();
    }
  }

  private topProblem(): WatchProblem | undefined {
    for (const kind of ["config", "reconnecting", "connecting", "rejected", "poll-failed", "read-failed"] as const) {
      const problem = this.problems.get(kind);
      if (problem) {
        return problem;
      }
    }
    return undefined;
  }
}
