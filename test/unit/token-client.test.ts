import assert from "node:assert/strict";
import { ZoomEmulator } from "../../emulator/zoom-emulator";
import { ZoomClient } from "../../nodes/zoom/client";
import { AuthError, NetworkError, ZoomApiError } from "../../nodes/zoom/errors";
import { ServerToServerTokenSource, StaticTokenSource, clearTokenCache } from "../../nodes/zoom/token";

const credentials = { accountId: "emu-account", clientId: "emu-client", clientSecret: "emu-secret" };

describe("ServerToServerTokenSource", () => {
  let emulator: ZoomEmulator;

  beforeEach(async () => {
    clearTokenCache();
    emulator = await ZoomEmulator.start();
  });

  afterEach(async () => {
    await emulator.close();
  });

  it("sends the account_credentials grant with Basic credentials", async () => {
    const tokens = new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 5000);
    const token = await tokens.getToken();

    assert.equal(token.value, emulator.issuedTokens[0]);
    const [request] = emulator.requestsFor("token");
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/oauth/token");
    assert.equal(request.headers.authorization, `Basic ${Buffer.from("emu-client:emu-secret").toString("base64")}`);
    assert.deepEqual(request.body, { grant_type: "account_credentials", account_id: "emu-account" });
  });

  it("shares one request between concurrent callers", async () => {
    const tokens = new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 5000);
    const other = new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 5000);
    const values = await Promise.all([tokens.getToken(), tokens.getToken(), other.getToken(), tokens.getToken()]);

    assert.equal(emulator.requestsFor("token").length, 1);
    assert.equal(new Set(values.map((token) => token.value)).size, 1);
  });

  it("reuses a token until the expiry margin", async () => {
    let now = 1_000_000;
    const tokens = new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 5000, () => now);
    const first = await tokens.getToken();

    now += 3600_000 - 60_000 - 1;
    assert.equal((await tokens.getToken()).value, first.value);
    assert.equal(emulator.requestsFor("token").length, 1);

    now += 1;
    assert.notEqual((await tokens.getToken()).value, first.value);
    assert.equal(emulator.requestsFor("token").length, 2);
  });

  it("uses a tenth of a short lifetime as the margin", async () => {
    await emulator.close();
    emulator = await ZoomEmulator.start({ tokenLifetimeSeconds: 100 });
    let now = 1_000_000;
    const tokens = new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 5000, () => now);
    await tokens.getToken();

    now += 89_999;
    await tokens.getToken();
    assert.equal(emulator.requestsFor("token").length, 1);
    now += 1;
    await tokens.getToken();
    assert.equal(emulator.requestsFor("token").length, 2);
  });

  it("reports rejected credentials without the secret", async () => {
    const tokens = new ServerToServerTokenSource(emulator.oauthBaseUrl, { ...credentials, clientSecret: "wrong-secret" }, 5000);
    const error = await tokens.getToken().then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );

    assert.ok(error instanceof AuthError);
    assert.equal(error.kind, "auth_failed");
    assert.equal(error.statusCode, 401);
    assert.match(error.message, /^Zoom rejected the credentials: .+ \(check the account ID, client ID and client secret\)$/);
    assert.doesNotMatch(error.message + JSON.stringify(error), /wrong-secret/);
  });

  it("reports an unreachable token host", async () => {
    const url = emulator.oauthBaseUrl;
    await emulator.close();
    const tokens = new ServerToServerTokenSource(url, credentials, 5000);
    const error = await tokens.getToken().then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );

    assert.ok(error instanceof NetworkError);
    assert.equal(error.message, `Cannot reach ${new URL(url).host}: connection refused (ECONNREFUSED)`);
    emulator = await ZoomEmulator.start();
  });

  it("reports a token request that times out", async () => {
    emulator.injectFault("token", { action: "hang" });
    const tokens = new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 300);
    const error = await tokens.getToken().then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );

    assert.ok(error instanceof NetworkError);
    assert.equal(error.message, `Timed out after 0.3 s waiting for ${new URL(emulator.oauthBaseUrl).host}`);
  });
});

describe("ZoomClient", () => {
  let emulator: ZoomEmulator;
  let client: ZoomClient;

  beforeEach(async () => {
    clearTokenCache();
    emulator = await ZoomEmulator.start({ users: [{ id: "u1", email: "desk@example.com" }, { id: "u2", email: "away@example.com", signedIn: false }] });
    client = new ZoomClient({
      apiBaseUrl: emulator.apiBaseUrl,
      tokens: new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 5000),
      timeoutMs: 5000,
    });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it("sends the PUT Zoom expects, as JSON", async () => {
    const result = await client.setPresence({ userId: "u1", status: "Do_Not_Disturb", duration: 30 }, "json");

    assert.equal(result.statusCode, 204);
    const [put] = emulator.requestsFor("presence.put");
    assert.equal(put.path, "/v2/users/u1/presence_status");
    assert.equal(put.headers.authorization, `Bearer ${emulator.issuedTokens[0]}`);
    assert.equal(put.contentType, "application/json");
    assert.equal(put.rawBody, '{"status":"Do_Not_Disturb","duration":30}');
    assert.equal(emulator.getStatus("u1"), "Do_Not_Disturb");
  });

  it("sends the PUT as multipart form data", async () => {
    await client.setPresence({ userId: "u1", status: "Do_Not_Disturb", duration: 45 }, "multipart");

    const [put] = emulator.requestsFor("presence.put");
    assert.match(String(put.contentType), /^multipart\/form-data; boundary=/);
    assert.deepEqual(put.body, { status: "Do_Not_Disturb", duration: "45" });
  });

  it("sends no duration for other statuses", async () => {
    await client.setPresence({ userId: "desk@example.com", status: "Away" }, "json");
    assert.equal(emulator.requestsFor("presence.put")[0].rawBody, '{"status":"Away"}');
    assert.equal(emulator.requestsFor("presence.put")[0].path, "/v2/users/desk%40example.com/presence_status");
  });

  it("encodes the user id as one path segment", async () => {
    await client.setPresence({ userId: "../accounts", status: "Away" }, "json").catch(() => undefined);
    assert.equal(emulator.requests.at(-1)?.path, "/v2/users/..%2Faccounts/presence_status");
  });

  it("retries once with a new token after a 401", async () => {
    await client.setPresence({ userId: "u1", status: "Away" }, "json");
    emulator.revokeTokens();
    emulator.setPresenceWindowMs(0);
    await client.setPresence({ userId: "u1", status: "Available" }, "json");

    const puts = emulator.requestsFor("presence.put");
    assert.deepEqual(puts.map((put) => put.statusCode), [204, 401, 204]);
    assert.equal(emulator.requestsFor("token").length, 2);
    assert.equal(puts[2].headers.authorization, `Bearer ${emulator.issuedTokens[1]}`);
  });

  it("fails with auth_failed after a second 401", async () => {
    emulator.injectFault("presence.put", { status: 401, body: { code: 124, message: "Invalid access token." }, times: 2 });
    const error = await client.setPresence({ userId: "u1", status: "Away" }, "json").then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );

    assert.ok(error instanceof AuthError);
    assert.equal(error.code, 124);
    assert.equal(emulator.requestsFor("presence.put").length, 2);
  });

  it("fails at once with a pasted token that Zoom rejects", async () => {
    const pasted = new ZoomClient({ apiBaseUrl: emulator.apiBaseUrl, tokens: new StaticTokenSource("pasted-token"), timeoutMs: 5000 });
    const error = await pasted.setPresence({ userId: "u1", status: "Away" }, "json").then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );

    assert.ok(error instanceof AuthError);
    assert.equal(emulator.requestsFor("presence.put").length, 1);
    assert.doesNotMatch(error.message, /pasted-token/);
  });

  const cases: Array<[string, () => Promise<unknown>, number, number, RegExp]> = [
    ["5301 signed out", () => client.setPresence({ userId: "u2", status: "Away" }, "json"), 400, 5301, /must be signed in to a Zoom desktop client/],
    ["1001 unknown user", () => client.setPresence({ userId: "nobody", status: "Away" }, "json"), 404, 1001, /Zoom user nobody does not exist/],
  ];
  for (const [name, call, statusCode, code, text] of cases) {
    it(`explains ${name}`, async () => {
      const error = await call().then(
        () => assert.fail("expected a rejection"),
        (error: unknown) => error,
      );
      assert.ok(error instanceof ZoomApiError);
      assert.equal(error.statusCode, statusCode);
      assert.equal(error.code, code);
      assert.match(error.message, text);
      assert.equal(typeof error.trackingId, "string");
    });
  }

  it("explains missing scopes", async () => {
    await emulator.close();
    emulator = await ZoomEmulator.start({ accounts: [{ ...credentials, scopes: ["user:read:admin"] }] });
    clearTokenCache();
    const limited = new ZoomClient({ apiBaseUrl: emulator.apiBaseUrl, tokens: new ServerToServerTokenSource(emulator.oauthBaseUrl, credentials, 5000), timeoutMs: 5000 });
    const error = await limited.setPresence({ userId: "u1", status: "Away" }, "json").then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof ZoomApiError);
    assert.equal(error.code, 4711);
    assert.match(error.message, /user:write:admin or user:update:presence_status:admin/);
  });

  it("reads Retry-After from a 429", async () => {
    await client.setPresence({ userId: "u1", status: "Away" }, "json");
    const error = await client.setPresence({ userId: "u1", status: "Available" }, "json").then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof ZoomApiError);
    assert.equal(error.statusCode, 429);
    assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 0 && error.retryAfterMs <= 60_000, String(error.retryAfterMs));
  });

  it("reads Retry-After given as an HTTP date", async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    emulator.injectFault("presence.put", { status: 429, body: { code: 429, message: "slow down" }, headers: { "retry-after": at } });
    const error = await client.setPresence({ userId: "u1", status: "Away" }, "json").then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof ZoomApiError);
    assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 25_000 && error.retryAfterMs <= 30_000, String(error.retryAfterMs));
  });

  it("reads a user's presence", async () => {
    emulator.setStatus("u1", "In_A_Zoom_Meeting");
    emulator.setLiveSpellings(true);
    assert.deepEqual(await client.getPresence("u1"), { status: "In_A_Meeting" });
  });

  it("maps a reset connection to a network error", async () => {
    emulator.injectFault("presence.put", { action: "reset" });
    const error = await client.setPresence({ userId: "u1", status: "Away" }, "json").then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof NetworkError);
    assert.equal(error.kind, "network_error");
    assert.doesNotMatch(error.message, /Bearer|emu-secret/);
  });
});
