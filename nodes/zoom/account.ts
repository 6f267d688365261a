/**
 * A Zoom account as a config node describes it: which cloud, how to authenticate, and the limits
 * that apply to the whole account. Builds the client that presence nodes share.
 */
import { AuthError, InputError } from "./errors";
import { ZoomClient } from "./client";
import { accountKey } from "./policy";
import { ServerToServerTokenSource, StaticTokenSource, TokenSource } from "./token";

export type AuthType = "s2s" | "token";
export type Cloud = "zoom.us" | "zoomgov.com" | "custom";

/** The flow properties of a `zoom-account` config node, with defaults applied. */
export interface AccountSettings {
  authType: AuthType;
  cloud: Cloud;
  apiBaseUrl: string;
  oauthBaseUrl: string;
  /** Base URL of the WebSockets event endpoint for the custom cloud; empty to derive it from apiBaseUrl. */
  wsBaseUrl: string;
  /** The ID of the app's WebSockets event subscription, from the Zoom App Marketplace. */
  wsSubscriptionId: string;
  /** Requests per second for the whole Zoom account, shared by every app on it. */
  accountRateLimit: number;
  /** Seconds before a token request or API call times out. */
  timeout: number;
  /** Attempts for network errors, timeouts and 5xx responses, counting the first. */
  maxAttempts: number;
  configVersion: number;
}

export interface AccountCredentials {
  accountId?: string;
  clientId?: string;
  clientSecret?: string;
  accessToken?: string;
  /** The app's secret token, which signs its webhook requests. */
  webhookSecretToken?: string;
}

/** The client and limits that presence nodes use for one account. */
export interface AccountConnection {
  client: ZoomClient;
  tokens: TokenSource;
  apiBaseUrl: string;
  oauthBaseUrl: string;
  /** Identifies the account's request budget across config nodes. */
  accountKey: string;
  accountRateLimit: number;
  maxAttempts: number;
  timeoutMs: number;
  /** The secret token for webhook signatures; empty when none is configured. */
  webhookSecretToken: string;
  wsSubscriptionId: string;
  /** Returns the WebSockets event base URL, or throws InputError when the custom one is invalid. */
  wsBaseUrl(): string;
}

export const CURRENT_CONFIG_VERSION = 1;

export const CLOUDS: Record<Exclude<Cloud, "custom">, { apiBaseUrl: string; oauthBaseUrl: string }> = {
  "zoom.us": { apiBaseUrl: "https://api.zoom.us/v2", oauthBaseUrl: "https://zoom.us" },
  "zoomgov.com": { apiBaseUrl: "https://api.zoomgov.com/v2", oauthBaseUrl: "https://zoomgov.com" },
};

/** WebSockets event endpoints per cloud. */
export const WEBSOCKET_BASE_URLS: Record<Exclude<Cloud, "custom">, string> = {
  "zoom.us": "wss://ws.zoom.us",
  // NOTE: a guess by analogy with zoom.us; no Zoom document names the WebSocket host of zoomgov.com.
  "zoomgov.com": "wss://ws.zoomgov.com",
};

export const ACCOUNT_DEFAULTS: AccountSettings = {
  authType: "s2s",
  cloud: "zoom.us",
  apiBaseUrl: "",
  oauthBaseUrl: "",
  wsBaseUrl: "",
  wsSubscriptionId: "",
  accountRateLimit: 10,
  timeout: 15,
  maxAttempts: 5,
  configVersion: CURRENT_CONFIG_VERSION,
};

/**
 * Brings the properties of a config node saved by any version of this package to the current
 * format. Flows saved before `configVersion` existed are version 0 and get the defaults for every
 * property they lack. Numbers saved by the editor as strings are read as numbers.
 */
export function migrateAccountSettings(raw: Record<string, unknown>): AccountSettings {
  const settings: AccountSettings = {
    authType: raw.authType === "token" ? "token" : "s2s",
    cloud: raw.cloud === "zoomgov.com" || raw.cloud === "custom" ? raw.cloud : "zoom.us",
    apiBaseUrl: typeof raw.apiBaseUrl === "string" ? raw.apiBaseUrl.trim() : "",
    oauthBaseUrl: typeof raw.oauthBaseUrl === "string" ? raw.oauthBaseUrl.trim() : "",
    wsBaseUrl: typeof raw.wsBaseUrl === "string" ? raw.wsBaseUrl.trim() : "",
    wsSubscriptionId: typeof raw.wsSubscriptionId === "string" ? raw.wsSubscriptionId.trim() : "",
    accountRateLimit: positiveNumber(raw.accountRateLimit, ACCOUNT_DEFAULTS.accountRateLimit),
    timeout: positiveNumber(raw.timeout, ACCOUNT_DEFAULTS.timeout),
    maxAttempts: Math.max(1, Math.floor(positiveNumber(raw.maxAttempts, ACCOUNT_DEFAULTS.maxAttempts))),
    configVersion: CURRENT_CONFIG_VERSION,
  };
  return settings;
}

/** Returns the API and OAuth base URLs for the settings' cloud. Throws InputError for a bad custom URL. */
export function resolveBaseUrls(settings: AccountSettings): { apiBaseUrl: string; oauthBaseUrl: string } {
  if (settings.cloud !== "custom") {
    return CLOUDS[settings.cloud];
  }
  return {
    apiBaseUrl: checkBaseUrl("apiBaseUrl", settings.apiBaseUrl),
    oauthBaseUrl: checkBaseUrl("oauthBaseUrl", settings.oauthBaseUrl),
  };
}

/**
 * Returns the WebSockets event base URL for the settings' cloud. For the custom cloud it is the
 * wsBaseUrl setting, or when that is empty the origin of the API base URL with ws: for http: and wss:
 * for https:. Throws InputError for an invalid custom URL.
 */
export function resolveWebSocketBaseUrl(settings: AccountSettings): string {
  if (settings.cloud !== "custom") {
    return WEBSOCKET_BASE_URLS[settings.cloud];
  }
  if (settings.wsBaseUrl === "") {
    const api = new URL(checkBaseUrl("apiBaseUrl", settings.apiBaseUrl));
    return `${api.protocol === "https:" ? "wss:" : "ws:"}//${api.host}`;
  }

  let url: URL | undefined;
  try {
    url = new URL(settings.wsBaseUrl);
  } catch {
    // Not a URL at all: reported below together with the wrong-protocol case.
    url = undefined;
  }
  if (!url || (url.protocol !== "ws:" && url.protocol !== "wss:")) {
    throw new InputError("wsBaseUrl", `Invalid WebSocket base URL "${settings.wsBaseUrl}": expected a ws or wss URL`, {
      key: "errors.ws-base-url",
      params: { value: settings.wsBaseUrl },
    });
  }
  return settings.wsBaseUrl.replace(/\/+$/, "");
}

/**
 * Builds the connection for a config node. `configNodeId` identifies the account in token mode,
 * where no account id is known. Throws AuthError for missing credentials.
 */
export function createConnection(settings: AccountSettings, credentials: AccountCredentials, configNodeId: string): AccountConnection {
  const { apiBaseUrl, oauthBaseUrl } = resolveBaseUrls(settings);
  const timeoutMs = settings.timeout * 1000;
  const tokens = createTokenSource(settings, credentials, oauthBaseUrl, timeoutMs);
  const client = new ZoomClient({ apiBaseUrl, tokens, timeoutMs });
  const account = settings.authType === "s2s" ? (credentials.accountId ?? "").trim() : `config:${configNodeId}`;

  return {
    client,
    tokens,
    apiBaseUrl,
    oauthBaseUrl,
    accountKey: accountKey(new URL(apiBaseUrl).host, account),
    accountRateLimit: settings.accountRateLimit,
    maxAttempts: settings.maxAttempts,
    timeoutMs,
    webhookSecretToken: credentials.webhookSecretToken ?? "",
    wsSubscriptionId: settings.wsSubscriptionId,
    wsBaseUrl: () => resolveWebSocketBaseUrl(settings),
  };
}

function createTokenSource(settings: AccountSettings, credentials: AccountCredentials, oauthBaseUrl: string, timeoutMs: number): TokenSource {
  if (settings.authType === "token") {
    const accessToken = (credentials.accessToken ?? "").trim();
    if (!accessToken) {
      throw new AuthError("Missing access token", { key: "errors.token-missing" });
    }
    return new StaticTokenSource(accessToken);
  }

  const accountId = (credentials.accountId ?? "").trim();
  const clientId = (credentials.clientId ?? "").trim();
  const clientSecret = credentials.clientSecret ?? "";
  for (const [field, value] of [["account ID", accountId], ["client ID", clientId], ["client secret", clientSecret]]) {
    if (!value) {
      throw new AuthError(`Missing ${field}: enter it in the Zoom account config node`, { key: "errors.credentials-missing", params: { field } });
    }
  }
  return new ServerToServerTokenSource(oauthBaseUrl, { accountId, clientId, clientSecret }, timeoutMs);
}

function checkBaseUrl(field: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // Not a URL at all: reported below together with the wrong-protocol case.
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new InputError(field, `Invalid ${field} "${value}": expected an http or https URL`, {
      key: "errors.base-url",
      params: { field, value },
    });
  }
  return value.replace(/\/+$/, "");
}

function positiveNumber(value: unknown, fallback: number): number {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof number === "number" && Number.isFinite(number) && number > 0 ? number : fallback;
}
