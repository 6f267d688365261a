/**
 * A client for Zoom's WebSockets event subscription. It connects to
 * `{ws}/ws?subscriptionId=…&access_token=…`, sends `{"module":"heartbeat"}` every 30 s and passes on
 * the event JSON of each `message`. After a loss it reconnects with exponential backoff and jitter,
 * with a new token from the token source on each attempt.
 *
 * The access token is part of the URL by Zoom's design, so neither the URL nor undici's error objects
 * (which may contain it) leave this module: states and problems carry texts built here.
 */
import { WebSocket } from "undici";
import { proxyDispatcher } from "./http";
import { backoffWithJitter } from "./limiter";
import { Clock, systemClock } from "./timers";

export const HEARTBEAT_INTERVAL_MS = 30_000;
/** A connection open this long counts as stable, and the next reconnect starts the backoff over. */
export const STABLE_CONNECTION_MS = 60_000;
const FIRST_RECONNECT_MS = 1000;
const MAX_RECONNECT_MS = 60_000;

/** Delay before reconnect attempt number `attempt` (1 for the first): 0.5–1 s, then doubling up to 30–60 s. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  return backoffWithJitter(attempt, random, FIRST_RECONNECT_MS, MAX_RECONNECT_MS);
}

/** Builds the event subscription URL. The result contains the access token: never log it. */
export function eventSocketUrl(wsBaseUrl: string, subscriptionId: string, accessToken: string): URL {
  const url = new URL("ws", wsBaseUrl.endsWith("/") ? wsBaseUrl : `${wsBaseUrl}/`);
  url.searchParams.set("subscriptionId", subscriptionId);
  url.searchParams.set("access_token", accessToken);
  return url;
}

export type EventSocketState =
  | { state: "connecting"; attempt: number }
  | { state: "open" }
  | { state: "reconnecting"; attempt: number; delayMs: number; reason: string };

export interface EventSocketOptions {
  /** Returns the URL to connect to, with an access token in it, and that token. */
  connectTarget(): Promise<{ url: URL; token: string }>;
  /** Called with the token of each connection that closed or failed, so the next attempt gets another. */
  invalidateToken(token: string): void;
  /** Called on every open, first and reconnects; events from the time without a connection are lost. */
  onOpen(): void;
  /** The `content` of a `message`: the event JSON as a string. */
  onEvent(content: string): void;
  onState(state: EventSocketState): void;
  /** A message that is neither a heartbeat response nor an event, described without its content. */
  onProblem(description: string): void;
  heartbeatMs?: number;
  backoffMs?: (attempt: number) => number;
  stableMs?: number;
  connectTimeoutMs?: number;
  clock?: Clock;
}

interface Connection {
  socket: WebSocket;
  token: string;
  openedAt?: number;
}

export class ZoomEventSocket {
  private readonly clock: Clock;
  private readonly heartbeatMs: number;
  private current: Connection | undefined;
  private attempt = 0;
  private stopped = false;
  private reconnectTimer: unknown;
  private heartbeatTimer: unknown;
  private lastReceivedAt = 0;

  constructor(private readonly options: EventSocketOptions) {
    this.clock = options.clock ?? systemClock;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
  }

  start(): void {
    void this.connect();
  }

  /** Closes the connection and cancels every timer. Events after this are ignored. */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const connection = this.current;
    this.current = undefined;
    connection?.socket.close(1000, "closed by Node-RED");
  }

  private async connect(): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.options.onState({ state: "connecting", attempt: this.attempt + 1 });

    let target: { url: URL; token: string };
    try {
      target = await this.options.connectTarget();
    } catch (error) {
      this.scheduleReconnect(`no access token: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (this.stopped) {
      return;
    }

    const dispatcher = proxyDispatcher(this.options.connectTimeoutMs ?? 15_000);
    let socket: WebSocket;
    try {
      socket = new WebSocket(target.url, dispatcher ? { dispatcher } : undefined);
    } catch {
      // The constructor's error message contains the URL, and so the token: it is not passed on.
      this.options.invalidateToken(target.token);
      this.scheduleReconnect("invalid WebSocket URL");
      return;
    }
    const connection: Connection = { socket, token: target.token };
    this.current = connection;

    socket.addEventListener("open", () => this.onOpen(connection));
    socket.addEventListener("message", (event) => this.onMessage(connection, event.data));
    socket.addEventListener("close", (event) => this.onClose(connection, event.code, event.reason));
    // undici follows every error event with a close event, which reconnects. The error event has no
    // detail that could be shown without the URL.
    socket.addEventListener("error", () => undefined);
  }

  private onOpen(connection: Connection): void {
    if (this.current !== connection) {
      return;
    }
    connection.openedAt = this.clock.now();
    this.lastReceivedAt = connection.openedAt;
    this.scheduleHeartbeat(connection);
    this.options.onState({ state: "open" });
    this.options.onOpen();
  }

  private onMessage(connection: Connection, data: unknown): void {
    if (this.current !== connection) {
      return;
    }
    this.lastReceivedAt = this.clock.now();
    if (typeof data !== "string") {
      this.options.onProblem("a binary message");
      return;
    }

    let message: { module?: unknown; success?: unknown; content?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      this.options.onProblem("a message that is not JSON");
      return;
    }
    if (message.module === "heartbeat" && message.success !== false) {
      return;
    }
    if (message.module === "message" && message.success !== false && typeof message.content === "string") {
      this.options.onEvent(message.content);
      return;
    }
    this.options.onProblem(`a message with module ${JSON.stringify(message.module)} and success ${JSON.stringify(message.success)}`);
  }

  private onClose(connection: Connection, code: number, reason: string): void {
    if (this.current !== connection) {
      return;
    }
    this.current = undefined;
    this.clearHeartbeat();

    // Each reconnect gets a token other than the one in the old URL.
    this.options.invalidateToken(connection.token);
    if (connection.openedAt !== undefined && this.clock.now() - connection.openedAt >= (this.options.stableMs ?? STABLE_CONNECTION_MS)) {
      this.attempt = 0;
    }
    const cleanReason = reason.replaceAll(connection.token, "[token]").slice(0, 120);
    const how = connection.openedAt === undefined ? "connection failed" : "connection closed";
    this.scheduleReconnect(cleanReason ? `${how} (code ${code}: ${cleanReason})` : `${how} (code ${code})`);
  }

  private scheduleHeartbeat(connection: Connection): void {
    this.heartbeatTimer = this.clock.setTimeout(() => {
      this.heartbeatTimer = undefined;
      if (this.current !== connection) {
        return;
      }
      // Zoom responds to every heartbeat, so two intervals without any message mean the connection is gone.
      if (this.clock.now() - this.lastReceivedAt > 2 * this.heartbeatMs) {
        this.current = undefined;
        this.options.invalidateToken(connection.token);
        connection.socket.close(4000, "no heartbeat answer");
        this.scheduleReconnect("no answer to heartbeats");
        return;
      }
      connection.socket.send(JSON.stringify({ module: "heartbeat" }));
      this.scheduleHeartbeat(connection);
    }, this.heartbeatMs);
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) {
      return;
    }
    this.attempt++;
    const delayMs = (this.options.backoffMs ?? reconnectDelayMs)(this.attempt);
    this.options.onState({ state: "reconnecting", attempt: this.attempt, delayMs, reason });
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delayMs);
  }

  private clearHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) {
      this.clock.clearTimeout(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
    }
  }

  private clearTimers(): void {
    this.clearHeartbeat();
    if (this.reconnectTimer !== undefined) {
      this.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
  }
}

/** The callbacks of a node that uses a shared WebSocket connection. */
export type EventSocketSubscriber = Pick<EventSocketOptions, "onOpen" | "onEvent" | "onState" | "onProblem">;

interface SharedSocket {
  socket: ZoomEventSocket;
  subscribers: Set<EventSocketSubscriber>;
  state?: EventSocketState;
}

/**
 * One WebSocket connection per event subscription, shared by every node that follows it. Zoom
 * delivers each event of a subscription once, and a second connection to the same subscription may
 * replace the first, so nodes must not open one each.
 */
export class SharedEventSockets {
  private readonly sockets = new Map<string, SharedSocket>();

  /**
   * Subscribes to the connection for `key` (WebSocket base URL, subscription ID and account), and
   * opens it with `create` when it is the first subscriber. A subscriber that joins an open
   * connection gets the open state and onOpen() at once. Returns a function that ends the
   * subscription; the connection closes with its last subscriber.
   */
  subscribe(key: string, create: (fanOut: EventSocketSubscriber) => ZoomEventSocket, subscriber: EventSocketSubscriber): () => void {
    let shared = this.sockets.get(key);
    if (!shared) {
      const subscribers = new Set<EventSocketSubscriber>();
      const entry: SharedSocket = { subscribers, socket: undefined as unknown as ZoomEventSocket };
      entry.socket = create({
        onOpen: () => subscribers.forEach((each) => each.onOpen()),
        onEvent: (content) => subscribers.forEach((each) => each.onEvent(content)),
        onState: (state) => {
          entry.state = state;
          subscribers.forEach((each) => each.onState(state));
        },
        onProblem: (description) => subscribers.forEach((each) => each.onProblem(description)),
      });
      shared = entry;
      this.sockets.set(key, shared);
      shared.subscribers.add(subscriber);
      shared.socket.start();
    } else {
      shared.subscribers.add(subscriber);
      if (shared.state) {
        subscriber.onState(shared.state);
      }
      if (shared.state?.state === "open") {
        subscriber.onOpen();
      }
    }

    return () => {
      const current = this.sockets.get(key);
      if (!current?.subscribers.delete(subscriber) || current.subscribers.size > 0) {
        return;
      }
      current.socket.stop();
      this.sockets.delete(key);
    };
  }

  /** Number of connections, for tests. */
  get size(): number {
    return this.sockets.size;
  }
}

/** The shared connections of the process. */
export const eventSockets = new SharedEventSockets();
