import assert from "node:assert/strict";
import { AuthError, NetworkError, ZoomApiError } from "../../nodes/zoom/errors";
import { decideFailure } from "../../nodes/zoom/policy";

function zoomError(statusCode: number, retryAfterMs?: number): ZoomApiError {
  return new ZoomApiError("test", { key: "errors.zoom-other" }, statusCode, undefined, undefined, undefined, retryAfterMs);
}

describe("decideFailure", () => {
  it("waits out a 429", () => {
    assert.deepEqual(decideFailure(zoomError(429, 3000)), { action: "rate-limited", retryAfterMs: 3000, reachedServer: true });
  });

  it("retries 5xx and network errors", () => {
    assert.deepEqual(decideFailure(zoomError(503)), { action: "retry", retryAfterMs: undefined, reachedServer: true });
    const refused = new NetworkError("refused", { key: "errors.unreachable" }, "127.0.0.1:1", false);
    assert.deepEqual(decideFailure(refused), { action: "retry", reachedServer: false });
  });

  it("ends other 4xx answers", () => {
    assert.deepEqual(decideFailure(zoomError(400)), { action: "fail", reachedServer: true });
    assert.deepEqual(decideFailure(zoomError(404)), { action: "fail", reachedServer: true });
  });

  it("keeps the window open after a token failure", () => {
    const rejected = new AuthError("rejected", { key: "errors.auth-failed" }, 401);
    assert.deepEqual(decideFailure(rejected), { action: "fail", reachedServer: true });

    rejected.beforeApiRequest = true;
    assert.deepEqual(decideFailure(rejected), { action: "fail", reachedServer: false });

    const tokenOutage = zoomError(503);
    tokenOutage.beforeApiRequest = true;
    assert.deepEqual(decideFailure(tokenOutage), { action: "retry", retryAfterMs: undefined, reachedServer: false });
  });
});
