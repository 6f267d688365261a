/**
 * Calls to the Zoom REST API for presence: the bearer token, one retry with a new token after a 401,
 * and the mapping of Zoom's error responses to typed errors with helpful text.
 */
// Multipart bodies use undici's own FormData: undici is already the HTTP client, it streams FormData
// bodies natively and sets the boundary header, so the form-data package would add a dependency for nothing.
import { FormData } from "undici";
import { AuthError, NetworkError, PresenceError, ZoomApiError } from "./errors";
import { HttpResponse, sendRequest, toNetworkError } from "./http";
import { PresenceUpdate } from "./input";
import { TokenSource, parseJson, withTrailingSlash } from "./token";

export type BodyEncoding = "json" | "multipart";

export interface ZoomClientOptions {
  /** For example `https://api.zoom.us/v2`. */
  apiBaseUrl: string;
  tokens: TokenSource;
  timeoutMs: number;
}

/** Callbacks into a call, for the caller's rate limiting. */
export interface CallHooks {
  /** Runs before the request is repeated with a new token after a 401, and may wait. */
  beforeRetry?: () => Promise<void>;
}

export interface SetPresenceResult {
  statusCode: number;
  trackingId?: string;
}

export interface PresenceReading {
  /** The status exactly as Zoom spelled it. */
  status: string;
  endTime?: string;
  remainingMinutes?: number;
}

const SCOPE_CODES = new Set([4700, 4711]);

export class ZoomClient {
  private readonly apiBase: string;

  constructor(private readonly options: ZoomClientOptions) {
    this.apiBase = withTrailingSlash(options.apiBaseUrl);
  }

  get apiHost(): string {
    return new URL(this.apiBase).host;
  }

  /** Sends `PUT /users/{userId}/presence_status`. Resolves on 204; throws a PresenceError otherwise. */
  async setPresence(update: PresenceUpdate, encoding: BodyEncoding, signal?: AbortSignal, hooks?: CallHooks): Promise<SetPresenceResult> {
    const response = await this.call("PUT", presencePath(update.userId), update.userId, signal, hooks, () => encodeBody(update, encoding));
    return { statusCode: response.statusCode, trackingId: trackingIdOf(response) };
  }

  /** Reads `GET /users/{userId}/presence_status`. */
  async getPresence(userId: string, signal?: AbortSignal, hooks?: CallHooks): Promise<PresenceReading> {
    const response = await this.call("GET", presencePath(userId), userId, signal, hooks);
    const body = parseJson(response.body) ?? {};
    const reading: PresenceReading = { status: typeof body.status === "string" ? body.status : "" };
    if (typeof body.end_time === "string") {
      reading.endTime = body.end_time;
    }
    if (typeof body.remaining_time === "number") {
      reading.remainingMinutes = body.remaining_time;
    }
    return reading;
  }

  private async call(
    method: "GET" | "PUT",
    path: string,
    userId: string,
    signal: AbortSignal | undefined,
    hooks: CallHooks | undefined,
    makeBody?: () => { body: string | FormData; contentType?: string },
  ): Promise<HttpResponse> {
    const url = new URL(path, this.apiBase);
    const tokens = this.options.tokens;

    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) {
        // The repeated request after a 401 is a request of its own: it waits for the caller's
        // permission (the account's request budget) and is not sent once the caller has aborted.
        await hooks?.beforeRetry?.();
        if (signal?.aborted) {
          throw toNetworkError({ name: "AbortError" }, url, this.options.timeoutMs);
        }
      }

      const token = await tokenForApiCall(tokens);
      const encoded = makeBody?.();
      const headers: Record<string, string> = { authorization: `Bearer ${token.value}`, accept: "application/json" };
      if (encoded?.contentType) {
        headers["content-type"] = encoded.contentType;
      }

      const response = await sendRequest({ url, method, headers, body: encoded?.body, timeoutMs: this.options.timeoutMs, signal });
      if (response.statusCode < 300) {
        return response;
      }

      if (response.statusCode === 401) {
        tokens.invalidate(token.value);
        if (tokens.refreshable && attempt === 1) {
          continue;
        }
      }
      throw apiError(response, userId);
    }
  }
}

/**
 * Gets a token for an API call. Any failure here means the API call never went out, which the rate
 * limiter needs to know to keep the user's window open.
 */
async function tokenForApiCall(tokens: TokenSource) {
  try {
    return await tokens.getToken();
  } catch (error) {
    if (error instanceof NetworkError && error.maybeDelivered) {
      const copy = new NetworkError(error.message, { key: error.key, params: error.params }, error.host, false);
      copy.beforeApiRequest = true;
      throw copy;
    }
    if (error instanceof PresenceError) {
      error.beforeApiRequest = true;
    }
    throw error;
  }
}

/** Returns the API path for a user's presence. The user id is encoded as one path segment, so `../x` stays inside it. */
export function presencePath(userId: string): string {
  return `users/${encodeURIComponent(userId)}/presence_status`;
}

function encodeBody(update: PresenceUpdate, encoding: BodyEncoding): { body: string | FormData; contentType?: string } {
  if (encoding === "multipart") {
    const form = new FormData();
    form.append("status", update.status);
    if (update.duration !== undefined) {
      form.append("duration", String(update.duration));
    }
    return { body: form };
  }

  const body: { status: string; duration?: number } = { status: update.status };
  if (update.duration !== undefined) {
    body.duration = update.duration;
  }
  return { body: JSON.stringify(body), contentType: "application/json" };
}

function trackingIdOf(response: HttpResponse): string | undefined {
  const value = response.headers["x-zm-trackingid"];
  return typeof value === "string" ? value : undefined;
}

/** Turns an error response into a typed error whose message says what the user can do about it. */
export function apiError(response: HttpResponse, userId: string): PresenceError {
  const body = parseJson(response.body);
  const statusCode = response.statusCode;
  const code = typeof body?.code === "number" ? body.code : undefined;
  const zoomMessage = typeof body?.message === "string" ? body.message : undefined;
  const trackingId = trackingIdOf(response);
  const reason = zoomMessage ?? `HTTP ${statusCode}`;

  if (statusCode === 401) {
    return new AuthError(
      `Zoom rejected the access token (HTTP 401, code ${code ?? "none"}): ${reason}`,
      { key: "errors.token-rejected", params: { code: code ?? "none", message: reason } },
      statusCode,
      code,
      zoomMessage,
      trackingId,
    );
  }

  const error = (text: string, key: string) =>
    new ZoomApiError(text, { key, params: { userId, statusCode, code: code ?? "none", message: reason } }, statusCode, code, zoomMessage, trackingId, retryAfterMs(response));

  if (code === 5301) {
    return error(`Zoom could not update the presence of user ${userId} (code 5301): the user must be signed in to a Zoom desktop client`, "errors.zoom-5301");
  }
  if (code === 5411) {
    return error(`Zoom refused to update user ${userId} (code 5411): this app has no permission to change that user's presence`, "errors.zoom-5411");
  }
  if (statusCode === 404 || code === 1001) {
    return error(`Zoom user ${userId} does not exist in this account (HTTP ${statusCode}, code ${code ?? "none"})`, "errors.zoom-1001");
  }
  if (code !== undefined && SCOPE_CODES.has(code)) {
    return error(
      `The access token lacks a scope (code ${code}): add user:write:admin or user:update:presence_status:admin to the Zoom app, and user:read:admin or user:read:presence_status:admin to read presence`,
      "errors.zoom-scopes",
    );
  }
  if (statusCode === 429) {
    return error(`Zoom rate limit reached for user ${userId} (HTTP 429): ${reason}`, "errors.zoom-429");
  }
  return error(`Zoom answered HTTP ${statusCode} (code ${code ?? "none"}) for user ${userId}: ${reason}`, "errors.zoom-other");
}

/** Reads Retry-After as seconds or as a date (HTTP date or ISO 8601), relative to now. */
export function retryAfterMs(response: HttpResponse, now: number = Date.now()): number | undefined {
  const header = response.headers["retry-after"];
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) {
    return undefined;
  }
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) {
    return Math.round(Number(value) * 1000);
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
