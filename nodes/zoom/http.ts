/**
 * HTTP transport for the Zoom API and OAuth hosts: one keep-alive undici Pool per origin, shared by
 * every config node in the process, with connect, headers and body timeouts on each request. When
 * HTTP_PROXY, HTTPS_PROXY (or their lower-case forms) are set, requests go through undici's
 * EnvHttpProxyAgent instead, which also honours NO_PROXY.
 */
import { Dispatcher, EnvHttpProxyAgent, FormData, Pool } from "undici";
import { NetworkError } from "./errors";

/** Connections per origin. A burst of updates queues on these sockets instead of opening one per update. */
export const POOL_CONNECTIONS = 16;
/** Response bodies larger than this are cut; Zoom's presence and token responses are well under 1 KiB. */
const MAX_BODY_BYTES = 64 * 1024;

export interface HttpRequest {
  url: URL;
  method: "GET" | "POST" | "PUT";
  headers: Record<string, string>;
  body?: string | FormData;
  /** Applies to connecting, to waiting for the headers, and to each gap while reading the body. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const pools = new Map<string, Pool>();
let proxyAgent: EnvHttpProxyAgent | undefined;

/** Sends one request and reads the whole response. Failures without a response become NetworkError. */
export async function sendRequest(request: HttpRequest): Promise<HttpResponse> {
  const dispatcher = dispatcherFor(request.url, request.timeoutMs);
  try {
    const response = await dispatcher.request({
      origin: request.url.origin,
      path: request.url.pathname + request.url.search,
      method: request.method,
      headers: request.headers,
      body: request.body,
      headersTimeout: request.timeoutMs,
      bodyTimeout: request.timeoutMs,
      signal: request.signal,
    });
    const body = await readBody(response.body);
    return { statusCode: response.statusCode, headers: response.headers, body };
  } catch (error) {
    throw toNetworkError(error, request.url, request.timeoutMs);
  }
}

/** Closes every pooled connection. Used by tests and on process shutdown. */
export async function closeAllPools(): Promise<void> {
  const closing = [...pools.values()].map((pool) => pool.close());
  pools.clear();
  if (proxyAgent) {
    closing.push(proxyAgent.close());
    proxyAgent = undefined;
  }
  await Promise.all(closing);
}

/**
 * Returns the proxy agent when HTTP_PROXY or HTTPS_PROXY is set, for connections that cannot use the
 * pools (WebSockets), or undefined for undici's global dispatcher.
 */
export function proxyDispatcher(connectTimeoutMs: number): Dispatcher | undefined {
  if (!proxyConfigured()) {
    return undefined;
  }
  proxyAgent ??= new EnvHttpProxyAgent({ connect: { timeout: connectTimeoutMs } });
  return proxyAgent;
}

function dispatcherFor(url: URL, connectTimeoutMs: number): Dispatcher {
  const proxy = proxyDispatcher(connectTimeoutMs);
  if (proxy) {
    return proxy;
  }

  const key = `${url.origin} ${connectTimeoutMs}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new Pool(url.origin, {
      connections: POOL_CONNECTIONS,
      connect: { timeout: connectTimeoutMs },
      keepAliveTimeout: 30_000,
    });
    pools.set(key, pool);
  }
  return pool;
}

function proxyConfigured(): boolean {
  const env = process.env;
  return Boolean(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy);
}

async function readBody(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size < MAX_BODY_BYTES) {
      chunks.push(buffer);
    }
    size += buffer.length;
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString("utf8");
}

const CONNECT_FAILURES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);
const TIMEOUTS = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/**
 * Describes a failed request by its error code only. undici's errors can hold the request options,
 * and so the Authorization header, so no part of the original error object is passed on.
 */
export function toNetworkError(error: unknown, url: URL, timeoutMs: number): NetworkError {
  if (error instanceof NetworkError) {
    return error;
  }

  const code = errorCode(error);
  const host = url.host;
  const maybeDelivered = !CONNECT_FAILURES.has(code);

  if (TIMEOUTS.has(code)) {
    const seconds = Math.round(timeoutMs / 100) / 10;
    return new NetworkError(
      `Timed out after ${seconds} s waiting for ${host}`,
      { key: "errors.timeout", params: { seconds, host } },
      host,
      maybeDelivered,
    );
  }

  const cause = code === "ABORT_ERR" ? "request aborted" : describeCode(code);
  return new NetworkError(
    `Cannot reach ${host}: ${cause}`,
    { key: "errors.unreachable", params: { host, cause } },
    host,
    maybeDelivered,
  );
}

function errorCode(error: unknown): string {
  if (typeof error !== "object" || error === null) {
    return "UNKNOWN";
  }
  const { code, name, cause } = error as { code?: unknown; name?: unknown; cause?: unknown };
  if (name === "AbortError" || code === "UND_ERR_ABORTED") {
    return "ABORT_ERR";
  }
  if (typeof code === "string" && code !== "UND_ERR_SOCKET") {
    return code;
  }
  // A socket error from undici carries the reason in its cause, when the operating system gave one.
  const causeCode = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined;
  if (typeof causeCode === "string") {
    return causeCode;
  }
  return typeof code === "string" ? code : "UNKNOWN";
}

function describeCode(code: string): string {
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused (ECONNREFUSED)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `host name not found (${code})`;
    case "ECONNRESET":
      return "connection reset (ECONNRESET)";
    case "UND_ERR_SOCKET":
      return "the server closed the connection (UND_ERR_SOCKET)";
    default:
      return `network error (${code})`;
  }
}
