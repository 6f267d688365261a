/**
 * Access tokens for the Zoom API. Server-to-Server OAuth tokens come from `POST {oauth}/oauth/token`
 * with the account_credentials grant. They are cached per (OAuth origin, account id, client id, client
 * secret) for the whole process, so two config nodes for one app share a token and a redeploy keeps it.
 */
import { createHash } from "node:crypto";
import { AuthError, ZoomApiError } from "./errors";
import { sendRequest } from "./http";

export interface ServerToServerCredentials {
  accountId: string;
  clientId: string;
  clientSecret: string;
}

export interface AccessToken {
  value: string;
  /** Space-separated scopes that Zoom granted; empty when the response had none. */
  scope: string;
}

/** A source of bearer tokens for API calls. */
export interface TokenSource {
  /** True when invalidate() makes the next getToken() fetch a different token. */
  readonly refreshable: boolean;
  getToken(): Promise<AccessToken>;
  /** Drops a token that the API rejected, unless a newer one has replaced it already. */
  invalidate(token: string): void;
}

interface CacheEntry {
  token?: AccessToken;
  /** Epoch milliseconds after which the cached token is not handed out any more. */
  reuseUntil: number;
  inFlight?: Promise<AccessToken>;
}

/** Cap on the margin before expiry, in milliseconds; a tenth of the lifetime applies when it is shorter. */
const MAX_EXPIRY_MARGIN_MS = 60_000;
const cache = new Map<string, CacheEntry>();

/** Tokens for a Server-to-Server OAuth app, fetched on demand and shared through the process-wide cache. */
export class ServerToServerTokenSource implements TokenSource {
  readonly refreshable = true;
  private readonly cacheKey: string;
  private readonly tokenUrl: URL;

  constructor(
    oauthBaseUrl: string,
    private readonly credentials: ServerToServerCredentials,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokenUrl = tokenUrlFor(oauthBaseUrl);
    // The secret is part of the key (as a hash), so a config node with a wrong secret never gets a
    // token that another node fetched with the right one, and reports the rejected credentials.
    const secretHash = createHash("sha256").update(credentials.clientSecret).digest("hex");
    this.cacheKey = [this.tokenUrl.origin, credentials.accountId, credentials.clientId, secretHash].join("\n");
  }

  async getToken(): Promise<AccessToken> {
    const entry = this.entry();
    if (entry.token && this.now() < entry.reuseUntil) {
      return entry.token;
    }

    // Concurrent callers wait for the one request already under way.
    entry.inFlight ??= this.fetchToken(entry).finally(() => {
      entry.inFlight = undefined;
    });
    return entry.inFlight;
  }

  invalidate(token: string): void {
    const entry = cache.get(this.cacheKey);
    if (entry?.token?.value === token) {
      entry.token = undefined;
      entry.reuseUntil = 0;
    }
  }

  private entry(): CacheEntry {
    let entry = cache.get(this.cacheKey);
    if (!entry) {
      entry = { reuseUntil: 0 };
      cache.set(this.cacheKey, entry);
    }
    return entry;
  }

  private async fetchToken(entry: CacheEntry): Promise<AccessToken> {
    const requestedAt = this.now();
    const { token, lifetimeMs } = await requestToken(this.tokenUrl, this.credentials, this.timeoutMs);
    entry.token = token;
    entry.reuseUntil = requestedAt + lifetimeMs - Math.min(MAX_EXPIRY_MARGIN_MS, lifetimeMs / 10);
    return token;
  }
}

/**
 * Requests a new token with the account_credentials grant, bypassing the cache. Throws AuthError when
 * Zoom rejects the credentials, ZoomApiError for other responses and NetworkError when no response arrives.
 */
export async function requestToken(
  tokenUrl: URL,
  credentials: ServerToServerCredentials,
  timeoutMs: number,
): Promise<{ token: AccessToken; lifetimeMs: number }> {
  const { accountId, clientId, clientSecret } = credentials;
  const basic = Buffer.from(`${clientId}:${clientSecret}`).toString("base64");

  const response = await sendRequest({
    url: tokenUrl,
    method: "POST",
    headers: {
      authorization: `Basic ${basic}`,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    },
    body: new URLSearchParams({ grant_type: "account_credentials", account_id: accountId }).toString(),
    timeoutMs,
  });

  const body = parseJson(response.body);
  if (response.statusCode === 200 && typeof body?.access_token === "string") {
    const lifetimeMs = Math.max(0, Number(body.expires_in) || 0) * 1000;
    const token = { value: body.access_token, scope: typeof body.scope === "string" ? body.scope : "" };
    return { token, lifetimeMs };
  }

  throw tokenError(response.statusCode, body, tokenUrl.host, response.headers["x-zm-trackingid"]);
}

/** Returns the token endpoint under an OAuth base URL such as `https://zoom.us`. */
export function tokenUrlFor(oauthBaseUrl: string): URL {
  return new URL("oauth/token", withTrailingSlash(oauthBaseUrl));
}

/** A pasted access token. It cannot be renewed, so a 401 ends the call. */
export class StaticTokenSource implements TokenSource {
  readonly refreshable = false;

  constructor(private readonly accessToken: string) {}

  async getToken(): Promise<AccessToken> {
    if (!this.accessToken) {
      throw new AuthError("Missing access token", { key: "errors.token-missing" });
    }
    return { value: this.accessToken, scope: "" };
  }

  invalidate(): void {}
}

/** Forgets every cached token. For tests that need a cold cache. */
export function clearTokenCache(): void {
  cache.clear();
}

function tokenError(
  statusCode: number,
  body: Record<string, unknown> | undefined,
  host: string,
  trackingHeader: string | string[] | undefined,
): Error {
  const trackingId = typeof trackingHeader === "string" ? trackingHeader : undefined;
  const reason = stringField(body, "reason") ?? stringField(body, "message") ?? stringField(body, "error") ?? `HTTP ${statusCode}`;

  if (statusCode === 400 || statusCode === 401) {
    return new AuthError(
      `Zoom rejected the credentials: ${reason} (check the account ID, client ID and client secret)`,
      { key: "errors.auth-failed", params: { reason } },
      statusCode,
      stringField(body, "error"),
      reason,
      trackingId,
    );
  }

  const code = typeof body?.code === "number" ? body.code : undefined;
  return new ZoomApiError(
    `Token request to ${host} failed with HTTP ${statusCode}: ${reason}`,
    { key: "errors.token-failed", params: { host, statusCode, reason } },
    statusCode,
    code,
    reason,
    trackingId,
  );
}

export function parseJson(text: string): Record<string, unknown> | undefined {
  if (!text) {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    // A response that is not JSON (a proxy's HTML error page, say) has no fields to read.
    return undefined;
  }
}

function stringField(body: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = body?.[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function withTrailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}
