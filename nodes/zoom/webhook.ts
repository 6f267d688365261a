/**
 * Verification of Zoom webhook requests. Zoom signs each request with the app's secret token:
 * `x-zm-signature` is `v0=` followed by the hex HMAC-SHA256 of `v0:{x-zm-request-timestamp}:{body}`.
 * The endpoint responds to Zoom's `endpoint.url_validation` challenge with the HMAC of its plain token.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** Requests whose timestamp differs from the local clock by more than this are rejected as replays. */
export const MAX_TIMESTAMP_SKEW_MS = 5 * 60_000;

export type SignatureFailure = "missing-signature" | "missing-timestamp" | "bad-timestamp" | "stale" | "bad-signature";

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

export interface SignedRequest {
  /** The `x-zm-signature` header. */
  signature: string | undefined;
  /** The `x-zm-request-timestamp` header: seconds since the epoch. */
  timestamp: string | undefined;
  /**
   * The texts the signature may cover, in order of preference: the raw body when the route could read
   * it, and the compact JSON serialisation of the parsed body, which Zoom's own sample code signs.
   */
  bodies: ReadonlyArray<string | Buffer>;
}

/** Returns `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Zoom sends it. */
export function signWebhook(secretToken: string, timestamp: string | number, body: string | Buffer): string {
  const hmac = createHmac("sha256", secretToken);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(body);
  return `v0=${hmac.digest("hex")}`;
}

/**
 * Checks a request's timestamp and signature. The signature is compared in constant time against the
 * signature of each candidate body, and one match is enough.
 */
export function verifyWebhook(secretToken: string, request: SignedRequest, now: number = Date.now()): SignatureCheck {
  if (!request.signature) {
    return { ok: false, reason: "missing-signature" };
  }
  if (!request.timestamp) {
    return { ok: false, reason: "missing-timestamp" };
  }
  if (!/^\d{1,15}$/.test(request.timestamp.trim())) {
    return { ok: false, reason: "bad-timestamp" };
  }
  const sentAt = Number(request.timestamp.trim()) * 1000;
  if (Math.abs(now - sentAt) > MAX_TIMESTAMP_SKEW_MS) {
    return { ok: false, reason: "stale" };
  }

  const received = Buffer.from(request.signature.trim(), "utf8");
  let matched = false;
  for (const body of request.bodies) {
    const expected = Buffer.from(signWebhook(secretToken, request.timestamp.trim(), body), "utf8");
    // timingSafeEqual needs equal lengths; the length of a signature is no secret.
    if (expected.length === received.length && timingSafeEqual(expected, received)) {
      matched = true;
    }
  }
  return matched ? { ok: true } : { ok: false, reason: "bad-signature" };
}

/** Returns the response body for Zoom's `endpoint.url_validation` event: the plain token and its hex HMAC-SHA256. */
export function urlValidationAnswer(secretToken: string, plainToken: string): { plainToken: string; encryptedToken: string } {
  const encryptedToken = createHmac("sha256", secretToken).update(plainToken).digest("hex");
  return { plainToken, encryptedToken };
}
