/**
 * Typed errors of the Zoom presence modules. Each carries the `kind` that flows see as
 * `msg.zoom.error`, and a message key with parameters so the Node-RED layer can translate it.
 * `message` is always the English text, free of secrets.
 */

export type PresenceErrorKind = "invalid_input" | "rate_limited" | "auth_failed" | "zoom_error" | "network_error";

export interface PresenceErrorDetails {
  /** Message catalog key, relative to the node's namespace (for example `errors.duration`). */
  key: string;
  params?: Record<string, string | number>;
}

export abstract class PresenceError extends Error {
  abstract readonly kind: PresenceErrorKind;
  readonly key: string;
  readonly params: Record<string, string | number>;
  /** True when the error came before the API request was sent (from the token endpoint, say). */
  beforeApiRequest = false;

  constructor(message: string, details: PresenceErrorDetails) {
    super(message);
    this.name = new.target.name;
    this.key = details.key;
    this.params = details.params ?? {};
  }
}

/** Input that no request can be made from. The field names the part of the message at fault. */
export class InputError extends PresenceError {
  readonly kind = "invalid_input";

  constructor(
    readonly field: string,
    message: string,
    details: PresenceErrorDetails,
  ) {
    super(message, details);
  }
}

/** An update that the rate limit policy rejected without sending it. */
export class RateLimitedError extends PresenceError {
  readonly kind = "rate_limited";

  constructor(
    message: string,
    details: PresenceErrorDetails,
    readonly retryAfterMs: number,
  ) {
    super(message, details);
  }
}

/** The token endpoint rejected the credentials, or the API rejected a fresh token. */
export class AuthError extends PresenceError {
  readonly kind = "auth_failed";

  constructor(
    message: string,
    details: PresenceErrorDetails,
    readonly statusCode?: number,
    readonly code?: number | string,
    readonly zoomMessage?: string,
    readonly trackingId?: string,
  ) {
    super(message, details);
  }
}

/** An error response from the Zoom API, with the fields of Zoom's error body. */
export class ZoomApiError extends PresenceError {
  readonly kind = "zoom_error";

  constructor(
    message: string,
    details: PresenceErrorDetails,
    readonly statusCode: number,
    readonly code: number | undefined,
    readonly zoomMessage: string | undefined,
    readonly trackingId: string | undefined,
    /** Milliseconds Zoom asked to wait (Retry-After on 429 and some 5xx responses), when the response had it. */
    readonly retryAfterMs?: number,
  ) {
    super(message, details);
  }

  /** True for responses that a later attempt may turn into a success: 5xx and 429. */
  get retryable(): boolean {
    return this.statusCode >= 500 || this.statusCode === 429;
  }
}

/** No response: the host was unreachable, the connection was reset, or a timeout ran out. */
export class NetworkError extends PresenceError {
  readonly kind = "network_error";

  constructor(
    message: string,
    details: PresenceErrorDetails,
    readonly host: string,
    /** True when the request may have reached Zoom (a timeout or reset after sending). */
    readonly maybeDelivered: boolean,
  ) {
    super(message, details);
  }
}
