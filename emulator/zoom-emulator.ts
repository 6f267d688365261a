// A local HTTP server that behaves like Zoom's OAuth token endpoint and the User API's presence
// status endpoints, for tests and demos. It listens on 127.0.0.1 only.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";

import {
  DEFAULT_DND_MINUTES,
  DO_NOT_DISTURB,
  PUT_STATUSES,
  canonicalStatus,
  spellForEvent,
  spellForGet,
  validatePresenceUpdate,
  type ZoomErrorBody,
} from "./presence-rules";
import {
  EventSocketServer,
  buildPresenceEvent,
  sendWebhook,
  type EventSocketRecord,
  type WebhookResponse,
  type WebhookSendOptions,
  type ZoomEvent,
} from "./events";
import { BodyTooLargeError, parseBody, readBody, type ParsedBody } from "./request-body";
import { SlidingWindowCounter } from "./request-window";

export interface EmulatorAccount {
  accountId: string;
  clientId: string;
  clientSecret: string;
  /** Scopes granted to this account's tokens. Default: user:read:admin and user:write:admin. */
  scopes?: string[];
}

export interface EmulatorUser {
  id: string;
  email: string;
  /** Presence status in any spelling Zoom uses. Default "Available". */
  status?: string;
  /** Whether the user is signed in to a Zoom client. Default true. */
  signedIn?: boolean;
  /**
   * Whether the user is signed in only to Zoom's web client, which does not apply presence changes:
   * PUT then returns 204 but the status stays. Default false.
   */
  webClientOnly?: boolean;
}

export interface EmulatorOptions {
  /** TCP port. Default 0, which picks a free port. The host is always 127.0.0.1. */
  port?: number;
  /** Default: one account, DEFAULT_ACCOUNT. */
  accounts?: EmulatorAccount[];
  /** Default: one user, DEFAULT_USER. The user id "me" resolves to the first user. */
  users?: EmulatorUser[];
  /** When true, a PUT or GET for an unknown user id or email creates that user. Default false (404, code 1001). */
  autoCreateUsers?: boolean;
  /** Access token lifetime in seconds. Default 3600. */
  tokenLifetimeSeconds?: number;
  /**
   * Minimum time in ms between two accepted presence updates of one user. A second update inside
   * it gets 429. Counted from when the emulator received the previous accepted PUT. Default 60000.
   */
  presenceWindowMs?: number;
  /** Maximum API requests (token requests excluded) per account in any 1 s span. Default unlimited. */
  accountRateLimit?: number;
  /** When true, GET returns In_A_Meeting, In_A_Call and In_A_Calendar_Event as the live API does. Default false. */
  liveSpellings?: boolean;
  /** The subscription ID that WebSocket connections to /ws must name. Default DEFAULT_SUBSCRIPTION_ID. */
  wsSubscriptionId?: string;
}

/** Options of setStatus. */
export interface SetStatusOptions {
  /** Also push a user.presence_status_updated event to every open WebSocket. Default false. */
  emitEvent?: boolean;
}

/** Options of presenceEvent, for events that are late or out of order. */
export interface PresenceEventOptions {
  /** The status in any spelling; the event spells it as Zoom's events do. Default the user's status. */
  status?: string;
  /** When the status changed, in epoch ms. Default now. */
  changedAt?: number;
  /** event_ts in epoch ms. Default changedAt. */
  eventTs?: number;
}

export type RecordedRoute = "token" | "presence.put" | "presence.get" | "other";
export type FaultRoute = Exclude<RecordedRoute, "other">;

/** One request as the emulator received it, and the status code of its response. */
export interface RecordedRequest {
  route: RecordedRoute;
  method: string;
  /** Path as sent, still percent-encoded, without the query string. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  /** Parsed JSON, parsed URL-encoded form, or the multipart fields as strings. Undefined when empty or unparsable. */
  body: unknown;
  contentType?: string;
  /** Date.now() when the request arrived. */
  receivedAt: number;
  /**
   * Status code sent. It stays 0 until the response is sent, for requests reset or left hanging
   * by a fault, and when the client closed the connection before a delayed response.
   */
  statusCode: number;
  /** The user id from the path, percent-decoded, as the client sent it ("me", an id or an email). */
  userId?: string;
}

/** A failure sent in place of the real route's response, or a delay added to the real response. */
export interface Fault {
  /** Status code sent instead of the real route's response. The emulator's state does not change. */
  status?: number;
  /** Body for `status`: a string is sent as is, anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Delay in ms before the response (the fault's or the real one) or before the reset. */
  delayMs?: number;
  /** "reset" destroys the socket without a response, and "hang" never sends one. */
  action?: "reset" | "hang";
  /** Number of requests the fault applies to. Default 1, and Infinity keeps it until clearFaults(). */
  times?: number;
}

export const DEFAULT_ACCOUNT: Readonly<EmulatorAccount> = {
  accountId: "emu-account",
  clientId: "emu-client",
  clientSecret: "emu-secret",
};
export const DEFAULT_USER: Readonly<EmulatorUser> = { id: "u1", email: "desk@example.com" };
export const DEFAULT_SCOPES: readonly string[] = ["user:read:admin", "user:write:admin"];
export const DEFAULT_SUBSCRIPTION_ID = "emu-subscription";

/** Scopes that allow each API route. A token needs one of them. */
const ROUTE_SCOPES: Readonly<Record<"presence.put" | "presence.get", readonly string[]>> = {
  "presence.put": ["user:update:presence_status:admin", "user:write:admin"],
  "presence.get": ["user:read:presence_status:admin", "user:read:admin", "user:write:admin"],
};

const MAX_BODY_BYTES = 1024 * 1024;
const PRESENCE_PATH = /^\/v2\/users\/([^/]+)\/presence_status\/?$/;

interface TokenRecord {
  accountId: string;
  scopes: readonly string[];
  expiresAt: number;
  revoked: boolean;
}

interface UserState {
  id: string;
  email: string;
  status: string;
  signedIn: boolean;
  webClientOnly: boolean;
  dndEndsAt?: number;
  statusBeforeDnd?: string;
  lastAcceptedPutAt?: number;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

function zoomError(status: number, code: number, message: string, headers?: Record<string, string>): Reply {
  return { status, body: { code, message }, headers };
}

function oauthError(status: number, error: string, reason: string): Reply {
  return { status, body: { reason, error } };
}

function invalidToken(message = "Invalid access token."): Reply {
  return zoomError(401, 124, message);
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed percent-escape is kept as sent, so it matches no user and gets 404.
    return segment;
  }
}

/** Formats a time like Zoom's API timestamps: ISO 8601 in UTC without milliseconds. */
function zoomTimestamp(time: number): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class ZoomEmulator {
  readonly baseUrl: string;
  readonly apiBaseUrl: string;
  readonly oauthBaseUrl: string;
  readonly requests: RecordedRequest[] = [];

  private readonly tokens = new Map<string, TokenRecord>();
  private readonly tokenList: string[] = [];
  private readonly accounts: EmulatorAccount[];
  private readonly usersById = new Map<string, UserState>();
  private readonly usersByEmail = new Map<string, UserState>();
  private firstUser: UserState | undefined;
  private autoCreatedCount = 0;

  private readonly autoCreateUsers: boolean;
  private readonly tokenLifetimeSeconds: number;
  private readonly accountRateLimit: number | undefined;
  private readonly accountWindows = new Map<string, SlidingWindowCounter>();
  private presenceWindowMs: number;
  private liveSpellings: boolean;

  private readonly faults: Record<FaultRoute, QueuedFault[]> = { token: [], "presence.put": [], "presence.get": [] };
  private readonly sockets = new Set<Socket>();
  private socketsAccepted = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly eventSockets: EventSocketServer;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    port: number,
    options: EmulatorOptions,
  ) {
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.apiBaseUrl = `${this.baseUrl}/v2`;
    this.oauthBaseUrl = this.baseUrl;

    this.accounts = (options.accounts ?? [DEFAULT_ACCOUNT]).map((account) => ({ ...account }));
    this.autoCreateUsers = options.autoCreateUsers ?? false;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
    this.accountRateLimit = options.accountRateLimit;
    this.presenceWindowMs = options.presenceWindowMs ?? 60_000;
    this.liveSpellings = options.liveSpellings ?? false;
    for (const user of options.users ?? [DEFAULT_USER]) {
      this.addUser(user);
    }

    this.eventSockets = new EventSocketServer({
      subscriptionId: options.wsSubscriptionId ?? DEFAULT_SUBSCRIPTION_ID,
      authenticate: (token) => this.authenticateEventSocket(token),
    });

    server.on("connection", (socket: Socket) => this.trackSocket(socket));
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      this.handleRequest(req, res).catch((error: unknown) => this.answerInternalError(res, error));
    });
  }

  /** Starts an emulator listening on 127.0.0.1 and resolves once it accepts connections. */
  static async start(options: EmulatorOptions = {}): Promise<ZoomEmulator> {
    validateOptions(options);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    return new ZoomEmulator(server, port, options);
  }

  /** Every access token issued so far, in order, including expired and revoked ones. */
  get issuedTokens(): readonly string[] {
    return this.tokenList;
  }

  requestsFor(route: RecordedRoute): RecordedRequest[] {
    return this.requests.filter((request) => request.route === route);
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Adds a user. Throws if the id or email is already taken or the status is unknown. */
  addUser(user: EmulatorUser): void {
    const emailKey = user.email.toLowerCase();
    if (this.usersById.has(user.id) || this.usersByEmail.has(emailKey)) {
      throw new Error(`Emulator user already exists: ${user.id} <${user.email}>`);
    }

    const state: UserState = {
      id: user.id,
      email: user.email,
      status: requireCanonicalStatus(user.status ?? "Available"),
      signedIn: user.signedIn ?? true,
      webClientOnly: user.webClientOnly ?? false,
    };
    this.usersById.set(state.id, state);
    this.usersByEmail.set(emailKey, state);
    this.firstUser ??= state;
  }

  /** Returns the user's stored status in the PUT spelling, or undefined for an unknown user. */
  getStatus(userIdOrEmail: string): string | undefined {
    const user = this.findUser(userIdOrEmail);
    if (user === undefined) {
      return undefined;
    }
    this.expireDoNotDisturb(user, Date.now());
    return user.status;
  }

  /**
   * Sets a user's status as if the user changed it in the Zoom client. It does not count as a
   * PUT for the presence window. Do Not Disturb lasts durationMinutes, or until changed when omitted.
   */
  setStatus(userIdOrEmail: string, status: string, durationMinutes?: number, options: SetStatusOptions = {}): void {
    const user = this.requireUser(userIdOrEmail);
    this.applyStatus(user, requireCanonicalStatus(status), durationMinutes, Date.now());
    if (options.emitEvent) {
      this.emitPresenceEvent(user.id);
    }
  }

  /**
   * Builds a user.presence_status_updated event for a user, as a webhook body or WebSocket message
   * carries it. A status that is not a PUT status (Offline, Mobile_signed_in, or any other text) is
   * used as given. NOTE: PUTs and setStatus() without emitEvent push no event.
   */
  presenceEvent(userIdOrEmail: string, options: PresenceEventOptions = {}): ZoomEvent {
    const user = this.requireUser(userIdOrEmail);
    const status = options.status === undefined ? user.status : (canonicalStatus(options.status) ?? options.status);
    return buildPresenceEvent({
      accountId: this.accounts[0]?.accountId ?? "",
      userId: user.id,
      email: user.email,
      presenceStatus: spellForEvent(status),
      changedAt: options.changedAt ?? Date.now(),
      eventTs: options.eventTs,
    });
  }

  /** Pushes a presence event for the user (with its current status, or `status`) to every open WebSocket. */
  emitPresenceEvent(userIdOrEmail: string, status?: string): ZoomEvent {
    const event = this.presenceEvent(userIdOrEmail, { status });
    this.eventSockets.push(event);
    return event;
  }

  /** Pushes any event object to every open WebSocket and returns how many connections received it. */
  pushEvent(event: ZoomEvent): number {
    return this.eventSockets.push(event);
  }

  /** POSTs an event to a webhook URL, signed like Zoom signs it (or badly, or stale, as the options set). */
  sendWebhook(url: string, event: unknown, options: WebhookSendOptions): Promise<WebhookResponse> {
    return sendWebhook(url, event, options);
  }

  /** Drops every WebSocket connection without a close handshake. */
  dropWebSockets(): void {
    this.eventSockets.drop();
  }

  /** Number of open WebSocket connections. */
  openWebSockets(): number {
    return this.eventSockets.openCount;
  }

  /** Every WebSocket upgrade request so far, accepted or refused, in order. */
  get webSocketConnections(): readonly EventSocketRecord[] {
    return this.eventSockets.connections;
  }

  /** Turns the responses to WebSocket heartbeats on or off (default on). */
  setHeartbeatAnswers(on: boolean): void {
    this.eventSockets.answerHeartbeats = on;
  }

  /** Number of heartbeats received on all WebSocket connections. */
  get heartbeatsReceived(): number {
    return this.eventSockets.heartbeats;
  }

  setSignedIn(userIdOrEmail: string, signedIn: boolean): void {
    this.requireUser(userIdOrEmail).signedIn = signedIn;
  }

  /** Sets whether the user is signed in only to the web client, where PUT returns 204 without effect. */
  setWebClientOnly(userIdOrEmail: string, webClientOnly: boolean): void {
    this.requireUser(userIdOrEmail).webClientOnly = webClientOnly;
  }

  /** Revokes every token issued so far, so API requests with them get 401 with code 124. */
  revokeTokens(): void {
    for (const record of this.tokens.values()) {
      record.revoked = true;
    }
  }

  /** Makes every token issued so far expired, as if its lifetime had passed. */
  expireTokens(): void {
    const now = Date.now();
    for (const record of this.tokens.values()) {
      record.expiresAt = Math.min(record.expiresAt, now);
    }
  }

  setPresenceWindowMs(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`presenceWindowMs must be a finite number >= 0, got ${ms}`);
    }
    this.presenceWindowMs = ms;
  }

  setLiveSpellings(on: boolean): void {
    this.liveSpellings = on;
  }

  /** Queues a fault for a route. Faults of one route apply in the order they were injected. */
  injectFault(route: FaultRoute, fault: Fault): void {
    validateFault(fault);
    this.faults[route].push({ fault: { ...fault }, remaining: fault.times ?? 1 });
  }

  /** Removes the faults still queued for one route, or for every route when none is given. */
  clearFaults(route?: FaultRoute): void {
    const queues = route === undefined ? Object.values(this.faults) : [this.faults[route]];
    for (const queue of queues) {
      queue.length = 0;
    }
  }

  /** Number of sockets currently open to the emulator. */
  openConnections(): number {
    return this.sockets.size;
  }

  /** Number of sockets accepted since the emulator started. */
  totalConnections(): number {
    return this.socketsAccepted;
  }

  /** Stops listening, destroys every open socket and cancels delayed responses. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    this.eventSockets.close();
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();

    const serverClosed = new Promise<void>((resolve, reject) => {
      this.server.close((error) => (error ? reject(error) : resolve()));
    });
    const socketsClosed = [...this.sockets].map(
      (socket) => new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.destroy();
      }),
    );
    await Promise.all([serverClosed, ...socketsClosed]);
  }

  private trackSocket(socket: Socket): void {
    this.socketsAccepted += 1;
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", this.baseUrl);
    if (url.pathname !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    this.eventSockets.handleUpgrade(req, socket, head, url);
  }

  // The WebSocket endpoint checks its access_token query parameter as the API checks a bearer token.
  private authenticateEventSocket(token: string | null): { ok: true } | { ok: false; status: number; message: string } {
    const record = token === null ? undefined : this.tokens.get(token);
    if (record === undefined || record.revoked) {
      return { ok: false, status: 401, message: "Invalid access token." };
    }
    if (Date.now() >= record.expiresAt) {
      return { ok: false, status: 401, message: "Access token is expired." };
    }
    return { ok: true };
  }

  private async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const url = new URL(req.url ?? "/", this.baseUrl);
    const method = req.method ?? "GET";
    const { route, userId } = classifyRoute(method, url.pathname);

    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        this.send(res, undefined, zoomError(413, 413, "Request entity too large."));
        return;
      }
      // The client aborted the request, so no response can be delivered.
      return;
    }

    const contentType = req.headers["content-type"];
    const parsedBody = await parseBody(contentType, raw);
    const record: RecordedRequest = {
      route,
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      rawBody: raw.toString("utf8"),
      body: recordableBody(parsedBody),
      contentType,
      receivedAt,
      statusCode: 0,
      userId,
    };
    this.requests.push(record);

    const fault = route === "other" ? undefined : this.takeFault(route);
    if (fault !== undefined) {
      this.applyFault(fault, req, res, record, () => this.answer(record, req, url, parsedBody));
      return;
    }
    this.send(res, record, this.answer(record, req, url, parsedBody));
  }

  private answer(record: RecordedRequest, req: IncomingMessage, url: URL, body: ParsedBody): Reply {
    switch (record.route) {
      case "token":
        return this.answerToken(req, url, body);
      case "presence.put":
      case "presence.get":
        return this.answerApi(record, req, url, body);
      default:
        return zoomError(404, 404, "Not found");
    }
  }

  private takeFault(route: FaultRoute): Fault | undefined {
    const queue = this.faults[route];
    const head = queue[0];
    if (head === undefined) {
      return undefined;
    }
    head.remaining -= 1;
    if (head.remaining <= 0) {
      queue.shift();
    }
    return head.fault;
  }

  // A delay-only fault runs the real route at once, so its state change happens on arrival as
  // when Zoom is slow to respond, and sends the real response after the delay.
  private applyFault(fault: Fault, req: IncomingMessage, res: ServerResponse, record: RecordedRequest, realAnswer: () => Reply): void {
    if (fault.action === "hang") {
      return;
    }

    let act: () => void;
    if (fault.action === "reset") {
      act = () => req.socket.destroy();
    } else if (fault.status !== undefined) {
      const reply: Reply = { status: fault.status, body: fault.body, headers: fault.headers };
      act = () => this.send(res, record, reply);
    } else {
      const reply = realAnswer();
      act = () => this.send(res, record, reply);
    }

    this.runAfter(fault.delayMs ?? 0, act);
  }

  private runAfter(delayMs: number, action: () => void): void {
    if (delayMs <= 0) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, delayMs);
    this.timers.add(timer);
  }

  private answerToken(req: IncomingMessage, url: URL, body: ParsedBody): Reply {
    const account = this.authenticateClient(req.headers.authorization);
    if (account === undefined) {
      return oauthError(401, "invalid_client", "Invalid client_id or client_secret");
    }

    // Parameters may come in the query string or a URL-encoded body, and the body wins when both have one.
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (body.kind === "urlencoded") {
      Object.assign(params, body.value);
    }

    // NOTE: only the Server-to-Server grant is emulated, so authorization_code and refresh_token
    // get the unknown-grant response. The reason texts of these 400 responses are guesses.
    if (params.grant_type !== "account_credentials") {
      return oauthError(400, "unsupported_grant_type", "Invalid request : Unsupported grant type");
    }
    if (params.account_id === undefined || params.account_id === "") {
      return oauthError(400, "invalid_request", "Invalid request : account_id is required.");
    }
    if (params.account_id !== account.accountId) {
      return oauthError(400, "invalid_request", "Invalid request : Invalid account_id.");
    }

    const accessToken = randomBytes(32).toString("base64url");
    const scopes = account.scopes ?? DEFAULT_SCOPES;
    this.tokens.set(accessToken, {
      accountId: account.accountId,
      scopes,
      expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000,
      revoked: false,
    });
    this.tokenList.push(accessToken);

    return {
      status: 200,
      body: {
        access_token: accessToken,
        token_type: "bearer",
        expires_in: this.tokenLifetimeSeconds,
        scope: scopes.join(" "),
        api_url: this.baseUrl,
      },
    };
  }

  private authenticateClient(authorization: string | undefined): EmulatorAccount | undefined {
    const match = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (match === null) {
      return undefined;
    }
    const decoded = Buffer.from(match[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon === -1) {
      return undefined;
    }
    const clientId = decoded.slice(0, colon);
    const clientSecret = decoded.slice(colon + 1);
    return this.accounts.find((account) => account.clientId === clientId && account.clientSecret === clientSecret);
  }

  // Order of checks: access token, account rate limit, scopes, then the route itself.
  private answerApi(record: RecordedRequest, req: IncomingMessage, url: URL, body: ParsedBody): Reply {
    const now = record.receivedAt;
    const tokenCheck = this.authenticateBearer(req.headers.authorization, url, now);
    if ("status" in tokenCheck) {
      return tokenCheck;
    }

    const rateLimited = this.checkAccountRateLimit(tokenCheck.accountId, now);
    if (rateLimited !== undefined) {
      return rateLimited;
    }

    const route = record.route as "presence.put" | "presence.get";
    const allowed = ROUTE_SCOPES[route];
    if (!allowed.some((scope) => tokenCheck.scopes.includes(scope))) {
      return zoomError(400, 4711, `Invalid access token, does not contain scopes:[${allowed.join(", ")}].`);
    }

    const userId = record.userId as string;
    return route === "presence.put" ? this.answerPresencePut(userId, body, now) : this.answerPresenceGet(userId, now);
  }

  private authenticateBearer(authorization: string | undefined, url: URL, now: number): TokenRecord | Reply {
    // Zoom accepts tokens only in the Authorization header.
    if (url.searchParams.has("access_token")) {
      return invalidToken();
    }

    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    const record = match === null ? undefined : this.tokens.get(match[1]);
    if (record === undefined || record.revoked) {
      return invalidToken();
    }
    if (now >= record.expiresAt) {
      return invalidToken("Access token is expired.");
    }
    return record;
  }

  private checkAccountRateLimit(accountId: string, now: number): Reply | undefined {
    const limit = this.accountRateLimit;
    if (limit === undefined) {
      return undefined;
    }

    let window = this.accountWindows.get(accountId);
    if (window === undefined) {
      window = new SlidingWindowCounter(1000);
      this.accountWindows.set(accountId, window);
    }
    if (window.tryAcquire(now, limit)) {
      return undefined;
    }

    return zoomError(429, 429, "You have reached the maximum per-second rate limit for this API. Try again later.", {
      "X-RateLimit-Category": "Medium",
      "X-RateLimit-Type": "QPS",
      "X-RateLimit-Limit": String(limit),
      "X-RateLimit-Remaining": "0",
      "Retry-After": "1",
    });
  }

  // Order of checks: body validation, user lookup, signed-in state, then the per-user window.
  private answerPresencePut(userId: string, body: ParsedBody, now: number): Reply {
    const validation = validatePresenceUpdate(body);
    if (!validation.ok) {
      return { status: 400, body: validation.error satisfies ZoomErrorBody };
    }

    const user = this.resolveUser(userId);
    if (user === undefined) {
      return zoomError(404, 1001, `User does not exist: ${userId}.`);
    }
    if (!user.signedIn) {
      return zoomError(400, 5301, "Request to update the presence status of this user failed.");
    }

    const last = user.lastAcceptedPutAt;
    if (last !== undefined && now - last < this.presenceWindowMs) {
      const retryAfterSeconds = Math.max(1, Math.ceil((last + this.presenceWindowMs - now) / 1000));
      return zoomError(
        429,
        429,
        "Too many requests submitted to update the presence status of this user. Try again later.",
        { "Retry-After": String(retryAfterSeconds) },
      );
    }

    user.lastAcceptedPutAt = now;
    if (user.webClientOnly) {
      return { status: 204 };
    }
    const { status, durationMinutes } = validation.update;
    this.applyStatus(user, status, status === DO_NOT_DISTURB ? (durationMinutes ?? DEFAULT_DND_MINUTES) : undefined, now);
    return { status: 204 };
  }

  private answerPresenceGet(userId: string, now: number): Reply {
    const user = this.resolveUser(userId);
    if (user === undefined) {
      return zoomError(404, 1001, `User does not exist: ${userId}.`);
    }
    if (!user.signedIn) {
      // NOTE: Zoom does not document what GET returns for a signed-out user. "Offline" is what
      // its presence webhook reports for one.
      return { status: 200, body: { status: "Offline" } };
    }

    this.expireDoNotDisturb(user, now);
    const body: Record<string, unknown> = { status: spellForGet(user.status, this.liveSpellings) };
    if (user.status === DO_NOT_DISTURB && user.dndEndsAt !== undefined) {
      body.end_time = zoomTimestamp(user.dndEndsAt);
      body.remaining_time = Math.ceil((user.dndEndsAt - now) / 60_000);
    }
    return { status: 200, body };
  }

  private applyStatus(user: UserState, status: string, durationMinutes: number | undefined, now: number): void {
    if (status === DO_NOT_DISTURB) {
      if (user.status !== DO_NOT_DISTURB) {
        user.statusBeforeDnd = user.status;
      }
      user.dndEndsAt = durationMinutes === undefined ? undefined : now + durationMinutes * 60_000;
    } else {
      user.dndEndsAt = undefined;
      user.statusBeforeDnd = undefined;
    }
    user.status = status;
  }

  // When Do Not Disturb ends, the user gets back the status from before it (Available if none).
  private expireDoNotDisturb(user: UserState, now: number): void {
    if (user.status === DO_NOT_DISTURB && user.dndEndsAt !== undefined && now >= user.dndEndsAt) {
      user.status = user.statusBeforeDnd ?? "Available";
      user.dndEndsAt = undefined;
      user.statusBeforeDnd = undefined;
    }
  }

  private findUser(userIdOrEmail: string): UserState | undefined {
    if (userIdOrEmail === "me") {
      return this.firstUser;
    }
    return this.usersById.get(userIdOrEmail) ?? this.usersByEmail.get(userIdOrEmail.toLowerCase());
  }

  private requireUser(userIdOrEmail: string): UserState {
    const user = this.findUser(userIdOrEmail);
    if (user === undefined) {
      throw new Error(`Emulator user not found: ${userIdOrEmail}. Add it with addUser() first.`);
    }
    return user;
  }

  // Finds the user, or creates it when autoCreateUsers is on. An email-shaped id becomes the
  // email of a user with a generated id, and any other id gets a generated email.
  private resolveUser(userId: string): UserState | undefined {
    const existing = this.findUser(userId);
    if (existing !== undefined || !this.autoCreateUsers || userId === "me") {
      return existing;
    }

    this.autoCreatedCount += 1;
    const isEmail = userId.includes("@");
    this.addUser({
      id: isEmail ? `auto-${this.autoCreatedCount}` : userId,
      email: isEmail ? userId : `${userId}@auto.emulator.invalid`,
    });
    return this.findUser(userId);
  }

  private send(res: ServerResponse, record: RecordedRequest | undefined, reply: Reply): void {
    if (res.headersSent || res.destroyed) {
      return;
    }

    const headers: Record<string, string> = { "x-zm-trackingid": `v=2.0;clid=emu;rid=WEB_${randomUUID().replaceAll("-", "")}` };
    let payload: string | undefined;
    if (reply.body !== undefined) {
      payload = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
      headers["content-type"] = "application/json";
    }
    // Header names are lower-cased so a fault's "Content-Type" replaces the default one.
    for (const [name, value] of Object.entries(reply.headers ?? {})) {
      headers[name.toLowerCase()] = value;
    }

    if (record !== undefined) {
      record.statusCode = reply.status;
    }
    res.writeHead(reply.status, headers);
    res.end(payload);
  }

  private answerInternalError(res: ServerResponse, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.send(res, undefined, zoomError(500, 500, `Emulator error: ${message}`));
  }
}

function classifyRoute(method: string, pathname: string): { route: RecordedRoute; userId?: string } {
  if (pathname === "/oauth/token") {
    return { route: method === "POST" ? "token" : "other" };
  }

  const match = PRESENCE_PATH.exec(pathname);
  if (match === null) {
    return { route: "other" };
  }
  const userId = decodePathSegment(match[1]);
  if (method === "PUT") {
    return { route: "presence.put", userId };
  }
  if (method === "GET") {
    return { route: "presence.get", userId };
  }
  return { route: "other", userId };
}

function recordableBody(body: ParsedBody): unknown {
  switch (body.kind) {
    case "json":
    case "urlencoded":
    case "multipart":
      return body.value;
    default:
      return undefined;
  }
}

function requireCanonicalStatus(status: string): string {
  const canonical = canonicalStatus(status);
  if (canonical === undefined) {
    throw new Error(`Unknown Zoom presence status: ${status}. Use one of: ${[...PUT_STATUSES].join(", ")}`);
  }
  return canonical;
}

function validateOptions(options: EmulatorOptions): void {
  const { tokenLifetimeSeconds, presenceWindowMs, accountRateLimit } = options;
  if (tokenLifetimeSeconds !== undefined && !(tokenLifetimeSeconds > 0)) {
    throw new RangeError(`tokenLifetimeSeconds must be > 0, got ${tokenLifetimeSeconds}`);
  }
  if (presenceWindowMs !== undefined && !(presenceWindowMs >= 0 && Number.isFinite(presenceWindowMs))) {
    throw new RangeError(`presenceWindowMs must be a finite number >= 0, got ${presenceWindowMs}`);
  }
  if (accountRateLimit !== undefined && !(Number.isInteger(accountRateLimit) && accountRateLimit >= 1)) {
    throw new RangeError(`accountRateLimit must be an integer >= 1, got ${accountRateLimit}`);
  }
}

function validateFault(fault: Fault): void {
  const times = fault.times ?? 1;
  if (!(times >= 1)) {
    throw new RangeError(`Fault times must be >= 1 or Infinity, got ${fault.times}`);
  }
  if (fault.action !== undefined && fault.status !== undefined) {
    throw new Error(`A fault has either an action (${fault.action}) or a status (${fault.status}), not both`);
  }
  if (fault.status !== undefined && !(Number.isInteger(fault.status) && fault.status >= 100 && fault.status <= 599)) {
    throw new RangeError(`Fault status must be an HTTP status code, got ${fault.status}`);
  }
  if (fault.delayMs !== undefined && !(fault.delayMs >= 0 && Number.isFinite(fault.delayMs))) {
    throw new RangeError(`Fault delayMs must be a finite number >= 0, got ${fault.delayMs}`);
  }
}
