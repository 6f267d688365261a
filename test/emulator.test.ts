import assert from "node:assert/strict";

import { Agent, FormData, request } from "undici";

import { ZoomEmulator, type EmulatorOptions } from "../emulator/zoom-emulator";

interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

interface CallOptions {
  method?: "GET" | "PUT" | "POST" | "DELETE";
  token?: string;
  headers?: Record<string, string>;
  body?: string | FormData;
  /** Aborts the request after this many ms, as a client that gives up. */
  timeoutMs?: number;
}

const BASIC_DEFAULT = `Basic ${Buffer.from("emu-client:emu-secret").toString("base64")}`;

function basic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`;
}

function waitUntil(condition: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = (): void => {
      if (condition()) {
        resolve();
      } else if (Date.now() - started > 5000) {
        reject(new Error(`Timed out waiting for ${what}`));
      } else {
        setTimeout(poll, 5);
      }
    };
    poll();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("Zoom emulator", function () {
  let emulator: ZoomEmulator;
  let agent: Agent;

  async function start(options: EmulatorOptions = {}): Promise<void> {
    emulator = await ZoomEmulator.start(options);
  }

  async function call(path: string, options: CallOptions = {}): Promise<CallResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) {
      headers.authorization = `Bearer ${options.token}`;
    }
    const response = await request(`${emulator.baseUrl}${path}`, {
      method: options.method ?? "GET",
      headers,
      body: options.body,
      dispatcher: agent,
      signal: options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.body.text();
    const isJson = response.headers["content-type"] === "application/json";
    return {
      status: response.statusCode,
      headers: response.headers,
      text,
      json: isJson ? JSON.parse(text) : undefined,
    };
  }

  async function fetchToken(authorization = BASIC_DEFAULT, accountId = "emu-account"): Promise<string> {
    const result = await call(`/oauth/token?grant_type=account_credentials&account_id=${accountId}`, {
      method: "POST",
      headers: { authorization },
    });
    assert.equal(result.status, 200, result.text);
    return (result.json as { access_token: string }).access_token;
  }

  function putJson(userId: string, token: string, body: unknown): Promise<CallResult> {
    return call(`/v2/users/${encodeURIComponent(userId)}/presence_status`, {
      method: "PUT",
      token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  function getPresence(userId: string, token: string): Promise<CallResult> {
    return call(`/v2/users/${encodeURIComponent(userId)}/presence_status`, { token });
  }

  beforeEach(function () {
    agent = new Agent();
  });

  afterEach(async function () {
    await emulator?.close();
    await agent.destroy();
  });

  describe("POST /oauth/token", function () {
    it("issues a token for query parameters", async function () {
      await start();
      const result = await call("/oauth/token?grant_type=account_credentials&account_id=emu-account", {
        method: "POST",
        headers: { authorization: BASIC_DEFAULT },
      });

      assert.equal(result.status, 200);
      assert.equal(result.headers["content-type"], "application/json");
      assert.match(String(result.headers["x-zm-trackingid"]), /^v=2\.0;clid=emu;rid=WEB_[0-9a-f]{32}$/);
      const body = result.json as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ["access_token", "api_url", "expires_in", "scope", "token_type"]);
      assert.match(String(body.access_token), /^[A-Za-z0-9_-]{43}$/);
      assert.equal(body.token_type, "bearer");
      assert.equal(body.expires_in, 3600);
      assert.equal(body.scope, "user:read:admin user:write:admin");
      assert.equal(body.api_url, emulator.baseUrl);
      assert.deepEqual(emulator.issuedTokens, [body.access_token]);

      const [recorded] = emulator.requestsFor("token");
      assert.equal(recorded.method, "POST");
      assert.equal(recorded.path, "/oauth/token");
      assert.deepEqual(recorded.query, { grant_type: "account_credentials", account_id: "emu-account" });
      assert.equal(recorded.headers.authorization, BASIC_DEFAULT);
      assert.equal(recorded.statusCode, 200);
    });

    it("issues a token for a form body", async function () {
      await start();
      const result = await call("/oauth/token", {
        method: "POST",
        headers: { authorization: BASIC_DEFAULT, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=account_credentials&account_id=emu-account",
      });

      assert.equal(result.status, 200);
      const [recorded] = emulator.requestsFor("token");
      assert.deepEqual(recorded.body, { grant_type: "account_credentials", account_id: "emu-account" });
      assert.equal(recorded.rawBody, "grant_type=account_credentials&account_id=emu-account");
      assert.equal(recorded.contentType, "application/x-www-form-urlencoded");
    });

    it("issues a new token per request, all valid", async function () {
      await start();
      const first = await fetchToken();
      const second = await fetchToken();

      assert.notEqual(first, second);
      assert.deepEqual(emulator.issuedTokens, [first, second]);
      assert.equal((await getPresence("u1", first)).status, 200);
      assert.equal((await getPresence("u1", second)).status, 200);
    });

    it("rejects a wrong client secret with 401", async function () {
      await start();
      const result = await call("/oauth/token?grant_type=account_credentials&account_id=emu-account", {
        method: "POST",
        headers: { authorization: basic("emu-client", "wrong") },
      });

      assert.equal(result.status, 401);
      assert.deepEqual(result.json, { reason: "Invalid client_id or client_secret", error: "invalid_client" });
      assert.deepEqual(emulator.issuedTokens, []);
    });

    it("rejects missing credentials with 401", async function () {
      await start();
      const result = await call("/oauth/token?grant_type=account_credentials&account_id=emu-account", { method: "POST" });

      assert.equal(result.status, 401);
      assert.deepEqual(result.json, { reason: "Invalid client_id or client_secret", error: "invalid_client" });
    });

    it("rejects an unknown account with 400", async function () {
      await start();
      const result = await call("/oauth/token?grant_type=account_credentials&account_id=other-account", {
        method: "POST",
        headers: { authorization: BASIC_DEFAULT },
      });

      assert.equal(result.status, 400);
      assert.deepEqual(result.json, { reason: "Invalid request : Invalid account_id.", error: "invalid_request" });
    });

    it("rejects a missing account_id with 400", async function () {
      await start();
      const result = await call("/oauth/token?grant_type=account_credentials", {
        method: "POST",
        headers: { authorization: BASIC_DEFAULT },
      });

      assert.equal(result.status, 400);
      assert.deepEqual(result.json, { reason: "Invalid request : account_id is required.", error: "invalid_request" });
    });

    it("rejects another grant type with 400", async function () {
      await start();
      const result = await call("/oauth/token?grant_type=client_credentials&account_id=emu-account", {
        method: "POST",
        headers: { authorization: BASIC_DEFAULT },
      });

      assert.equal(result.status, 400);
      assert.deepEqual(result.json, { reason: "Invalid request : Unsupported grant type", error: "unsupported_grant_type" });
    });

    it("grants each account its own scopes", async function () {
      await start({
        accounts: [
          { accountId: "a1", clientId: "c1", clientSecret: "s1", scopes: ["user:read:admin"] },
          { accountId: "a2", clientId: "c2", clientSecret: "s2" },
        ],
      });
      const result = await call("/oauth/token?grant_type=account_credentials&account_id=a1", {
        method: "POST",
        headers: { authorization: basic("c1", "s1") },
      });
      assert.equal((result.json as { scope: string }).scope, "user:read:admin");

      const crossed = await call("/oauth/token?grant_type=account_credentials&account_id=a2", {
        method: "POST",
        headers: { authorization: basic("c1", "s1") },
      });
      assert.equal(crossed.status, 400);
    });
  });

  describe("PUT presence_status", function () {
    it("updates the status from JSON", async function () {
      await start();
      const token = await fetchToken();
      const result = await putJson("u1", token, { status: "Busy" });

      assert.equal(result.status, 204);
      assert.equal(result.text, "");
      assert.equal(result.headers["content-type"], undefined);
      assert.ok(result.headers["x-zm-trackingid"]);
      assert.equal(emulator.getStatus("u1"), "Busy");

      const [recorded] = emulator.requestsFor("presence.put");
      assert.equal(recorded.method, "PUT");
      assert.equal(recorded.path, "/v2/users/u1/presence_status");
      assert.equal(recorded.userId, "u1");
      assert.equal(recorded.headers.authorization, `Bearer ${token}`);
      assert.deepEqual(recorded.body, { status: "Busy" });
      assert.equal(recorded.rawBody, '{"status":"Busy"}');
      assert.equal(recorded.statusCode, 204);
    });

    it("updates the status from multipart form data", async function () {
      await start();
      const token = await fetchToken();
      const form = new FormData();
      form.append("status", "Do_Not_Disturb");
      form.append("duration", "30");
      const result = await call("/v2/users/u1/presence_status", { method: "PUT", token, body: form });

      assert.equal(result.status, 204);
      assert.equal(emulator.getStatus("u1"), "Do_Not_Disturb");
      const [recorded] = emulator.requestsFor("presence.put");
      assert.deepEqual(recorded.body, { status: "Do_Not_Disturb", duration: "30" });
      assert.match(String(recorded.contentType), /^multipart\/form-data; boundary=/);

      const presence = await getPresence("u1", token);
      const body = presence.json as { status: string; end_time: string; remaining_time: number };
      assert.equal(body.status, "Do_Not_Disturb");
      assert.equal(body.remaining_time, 30);
      assert.equal(body.end_time, new Date(recorded.receivedAt + 30 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z"));
    });

    it("stores Do_No_Disturb as Do_Not_Disturb for 20 minutes", async function () {
      await start();
      const token = await fetchToken();
      assert.equal((await putJson("u1", token, { status: "Do_No_Disturb" })).status, 204);

      assert.equal(emulator.getStatus("u1"), "Do_Not_Disturb");
      const presence = await getPresence("u1", token);
      assert.equal((presence.json as { remaining_time: number }).remaining_time, 20);
    });

    it("finds users by email in any case and by me", async function () {
      await start({ users: [{ id: "u1", email: "desk@example.com" }, { id: "u2", email: "Other@Example.com" }], presenceWindowMs: 0 });
      const token = await fetchToken();

      assert.equal((await putJson("other@EXAMPLE.com", token, { status: "Away" })).status, 204);
      assert.equal(emulator.getStatus("u2"), "Away");
      assert.equal(emulator.requestsFor("presence.put")[0].userId, "other@EXAMPLE.com");
      assert.equal(emulator.requestsFor("presence.put")[0].path, "/v2/users/other%40EXAMPLE.com/presence_status");

      assert.equal((await putJson("me", token, { status: "Presenting" })).status, 204);
      assert.equal(emulator.getStatus("u1"), "Presenting");
    });

    it("rejects invalid status values", async function () {
      await start();
      const token = await fetchToken();
      const invalid: unknown[] = [{ status: "busy" }, { status: "Offline" }, { status: "In_A_Meeting" }, { status: "" }, { status: 5 }, {}];

      for (const body of invalid) {
        const result = await putJson("u1", token, body);
        assert.equal(result.status, 400, JSON.stringify(body));
        assert.deepEqual(
          result.json,
          { code: 300, message: "Validation Failed.", errors: [{ field: "status", message: "Invalid field." }] },
          JSON.stringify(body),
        );
      }
      assert.equal(emulator.getStatus("u1"), "Available");
    });

    it("rejects invalid Do Not Disturb durations", async function () {
      await start();
      const token = await fetchToken();
      const invalid: unknown[] = [0, 2000, 12.5, -5, "30", null];

      for (const duration of invalid) {
        const result = await putJson("u1", token, { status: "Do_Not_Disturb", duration });
        assert.equal(result.status, 400, String(duration));
        assert.deepEqual(
          result.json,
          { code: 300, message: "Validation Failed.", errors: [{ field: "duration", message: "Invalid field." }] },
          String(duration),
        );
      }

      for (const duration of ["0", "12.5", "abc", "1441"]) {
        const form = new FormData();
        form.append("status", "Do_Not_Disturb");
        form.append("duration", duration);
        const result = await call("/v2/users/u1/presence_status", { method: "PUT", token, body: form });
        assert.equal(result.status, 400, duration);
        assert.deepEqual((result.json as { errors: unknown }).errors, [{ field: "duration", message: "Invalid field." }], duration);
      }
      assert.equal(emulator.getStatus("u1"), "Available");
    });

    it("accepts durations 1 and 1440", async function () {
      await start({ presenceWindowMs: 0 });
      const token = await fetchToken();

      assert.equal((await putJson("u1", token, { status: "Do_Not_Disturb", duration: 1 })).status, 204);
      assert.equal((await putJson("u1", token, { status: "Do_Not_Disturb", duration: 1440 })).status, 204);
      assert.equal(((await getPresence("u1", token)).json as { remaining_time: number }).remaining_time, 1440);
    });

    it("ignores a duration with other statuses", async function () {
      await start();
      const token = await fetchToken();
      const result = await putJson("u1", token, { status: "Away", duration: 5000 });

      assert.equal(result.status, 204);
      assert.deepEqual((await getPresence("u1", token)).json, { status: "Away" });
    });

    it("rejects a body that is not a JSON object", async function () {
      await start();
      const token = await fetchToken();
      const bodies: [string, string][] = [
        ["application/json", "{not json"],
        ["application/json", '["Busy"]'],
        ["text/plain", "status=Busy"],
      ];

      for (const [contentType, body] of bodies) {
        const result = await call("/v2/users/u1/presence_status", { method: "PUT", token, headers: { "content-type": contentType }, body });
        assert.equal(result.status, 400, body);
        assert.deepEqual(result.json, { code: 300, message: "Request Body should be a valid JSON object." }, body);
      }
    });

    it("returns 404 code 1001 for an unknown user", async function () {
      await start();
      const token = await fetchToken();
      const result = await putJson("nobody@example.com", token, { status: "Away" });

      assert.equal(result.status, 404);
      assert.deepEqual(result.json, { code: 1001, message: "User does not exist: nobody@example.com." });
      assert.equal((await getPresence("nobody@example.com", token)).status, 404);
    });

    it("creates unknown users when autoCreateUsers is on", async function () {
      await start({ autoCreateUsers: true });
      const token = await fetchToken();

      assert.equal((await putJson("load-7", token, { status: "Away" })).status, 204);
      assert.equal(emulator.getStatus("load-7"), "Away");
      assert.deepEqual((await getPresence("new@example.com", token)).json, { status: "Available" });
      assert.equal(emulator.getStatus("NEW@example.com"), "Available");
    });

    it("returns 400 code 5301 for a signed-out user", async function () {
      await start({ users: [{ id: "u1", email: "desk@example.com", signedIn: false }] });
      const token = await fetchToken();
      const result = await putJson("u1", token, { status: "Away" });

      assert.equal(result.status, 400);
      assert.deepEqual(result.json, { code: 5301, message: "Request to update the presence status of this user failed." });
      assert.equal(emulator.getStatus("u1"), "Available");

      emulator.setSignedIn("u1", true);
      assert.equal((await putJson("u1", token, { status: "Away" })).status, 204);
    });

    it("returns 429 inside the presence window", async function () {
      await start();
      const token = await fetchToken();
      emulator.addUser({ id: "u2", email: "u2@example.com" });

      assert.equal((await putJson("u1", token, { status: "Busy" })).status, 204);
      const second = await putJson("u1", token, { status: "Away" });

      assert.equal(second.status, 429);
      assert.deepEqual(second.json, {
        code: 429,
        message: "Too many requests submitted to update the presence status of this user. Try again later.",
      });
      const retryAfter = Number(second.headers["retry-after"]);
      assert.ok(Number.isInteger(retryAfter), `Retry-After ${second.headers["retry-after"]}`);
      assert.ok(retryAfter >= 1, `Retry-After ${retryAfter}`);
      assert.ok(retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal(emulator.getStatus("u1"), "Busy");

      assert.equal((await putJson("u2", token, { status: "Away" })).status, 204, "another user has its own window");

      emulator.setPresenceWindowMs(0);
      assert.equal((await putJson("u1", token, { status: "Away" })).status, 204);
    });

    it("counts the window from the last accepted PUT", async function () {
      await start({ presenceWindowMs: 300 });
      const token = await fetchToken();

      assert.equal((await putJson("u1", token, { status: "Busy" })).status, 204);
      const acceptedAt = emulator.requestsFor("presence.put")[0].receivedAt;
      assert.equal((await putJson("u1", token, { status: "Away" })).status, 429);

      await waitUntil(() => Date.now() >= acceptedAt + 300, "the window to pass");
      assert.equal((await putJson("u1", token, { status: "Away" })).status, 204);
      assert.equal(emulator.getStatus("u1"), "Away");
    });

    it("ends Do Not Disturb at its end time", async function () {
      await start();
      const token = await fetchToken();
      emulator.setStatus("u1", "Busy");
      emulator.setStatus("u1", "Do_Not_Disturb", 0.002);
      assert.equal(emulator.getStatus("u1"), "Do_Not_Disturb");

      await sleep(150);
      assert.equal(emulator.getStatus("u1"), "Busy");
      assert.deepEqual((await getPresence("u1", token)).json, { status: "Busy" });
    });

    it("does not count setStatus as a PUT", async function () {
      await start();
      const token = await fetchToken();
      emulator.setStatus("u1", "On_A_Call");

      assert.equal(emulator.getStatus("u1"), "On_A_Call");
      assert.equal((await putJson("u1", token, { status: "Away" })).status, 204);
    });
  });

  describe("API authentication", function () {
    it("returns 401 code 124 without a valid token", async function () {
      await start();
      const cases: [string, Record<string, string>][] = [
        ["no header", {}],
        ["unknown token", { authorization: "Bearer not-a-token" }],
        ["Basic credentials", { authorization: BASIC_DEFAULT }],
      ];

      for (const [name, headers] of cases) {
        const result = await call("/v2/users/u1/presence_status", { headers });
        assert.equal(result.status, 401, name);
        assert.deepEqual(result.json, { code: 124, message: "Invalid access token." }, name);
      }
    });

    it("returns 401 code 124 for revoked tokens", async function () {
      await start();
      const token = await fetchToken();
      emulator.revokeTokens();

      const result = await putJson("u1", token, { status: "Away" });
      assert.equal(result.status, 401);
      assert.deepEqual(result.json, { code: 124, message: "Invalid access token." });
      assert.equal(emulator.getStatus("u1"), "Available");

      const fresh = await fetchToken();
      assert.equal((await putJson("u1", fresh, { status: "Away" })).status, 204);
    });

    it("returns 401 code 124 for expired tokens", async function () {
      await start();
      const token = await fetchToken();
      emulator.expireTokens();

      const result = await getPresence("u1", token);
      assert.equal(result.status, 401);
      assert.deepEqual(result.json, { code: 124, message: "Access token is expired." });
    });

    it("expires tokens after tokenLifetimeSeconds", async function () {
      await start({ tokenLifetimeSeconds: 1 });
      const issuedAt = Date.now();
      const token = await fetchToken();
      assert.equal((await getPresence("u1", token)).status, 200);

      await sleep(Math.max(0, issuedAt + 1100 - Date.now()));
      const result = await getPresence("u1", token);
      assert.equal(result.status, 401);
      assert.equal((result.json as { code: number }).code, 124);
    });

    it("returns 401 code 124 for a token in the query string", async function () {
      await start();
      const token = await fetchToken();

      const result = await call(`/v2/users/u1/presence_status?access_token=${token}`);
      assert.equal(result.status, 401);
      assert.deepEqual(result.json, { code: 124, message: "Invalid access token." });

      const both = await call(`/v2/users/u1/presence_status?access_token=${token}`, { token });
      assert.equal(both.status, 401);
      assert.deepEqual(emulator.requestsFor("presence.get")[0].query, { access_token: token });
    });

    it("returns 400 code 4711 for missing scopes", async function () {
      await start({
        accounts: [
          { accountId: "reader", clientId: "rc", clientSecret: "rs", scopes: ["user:read:admin"] },
          { accountId: "writer", clientId: "wc", clientSecret: "ws", scopes: ["user:update:presence_status:admin"] },
        ],
      });
      const readToken = await fetchToken(basic("rc", "rs"), "reader");
      const writeToken = await fetchToken(basic("wc", "ws"), "writer");

      const put = await putJson("u1", readToken, { status: "Away" });
      assert.equal(put.status, 400);
      assert.deepEqual(put.json, {
        code: 4711,
        message: "Invalid access token, does not contain scopes:[user:update:presence_status:admin, user:write:admin].",
      });
      assert.equal((await getPresence("u1", readToken)).status, 200);

      assert.equal((await putJson("u1", writeToken, { status: "Away" })).status, 204);
      const get = await getPresence("u1", writeToken);
      assert.equal(get.status, 400);
      assert.deepEqual(get.json, {
        code: 4711,
        message: "Invalid access token, does not contain scopes:[user:read:presence_status:admin, user:read:admin, user:write:admin].",
      });
    });
  });

  describe("GET presence_status", function () {
    it("returns PUT spellings by default and live spellings on request", async function () {
      await start();
      const token = await fetchToken();
      const spellings: [string, string][] = [
        ["In_A_Zoom_Meeting", "In_A_Meeting"],
        ["On_A_Call", "In_A_Call"],
        ["In_Calendar_Event", "In_A_Calendar_Event"],
        ["Away", "Away"],
        ["Out_of_Office", "Out_of_Office"],
      ];

      for (const [stored, live] of spellings) {
        emulator.setStatus("u1", stored);
        emulator.setLiveSpellings(false);
        const spec = await getPresence("u1", token);
        assert.equal(spec.status, 200);
        assert.equal(spec.headers["content-type"], "application/json");
        assert.deepEqual(spec.json, { status: stored });

        emulator.setLiveSpellings(true);
        assert.deepEqual((await getPresence("u1", token)).json, { status: live });
      }
    });

    it("starts with live spellings when configured", async function () {
      await start({ liveSpellings: true, users: [{ id: "u1", email: "desk@example.com", status: "In_A_Zoom_Meeting" }] });
      const token = await fetchToken();

      assert.deepEqual((await getPresence("u1", token)).json, { status: "In_A_Meeting" });
      assert.equal(emulator.getStatus("u1"), "In_A_Zoom_Meeting");
      assert.equal(emulator.requestsFor("presence.get")[0].statusCode, 200);
    });

    it("omits DND times when DND has no end", async function () {
      await start();
      const token = await fetchToken();
      emulator.setStatus("u1", "Do_Not_Disturb");

      assert.deepEqual((await getPresence("u1", token)).json, { status: "Do_Not_Disturb" });
    });

    it("returns Offline for a signed-out user", async function () {
      await start();
      const token = await fetchToken();
      emulator.setSignedIn("desk@example.com", false);

      assert.deepEqual((await getPresence("u1", token)).json, { status: "Offline" });
    });
  });

  describe("faults", function () {
    it("returns an injected status without changing state", async function () {
      await start();
      const token = await fetchToken();
      emulator.injectFault("presence.put", {
        status: 500,
        body: { code: 500, message: "Internal error" },
        headers: { "X-Extra": "yes" },
      });

      const faulted = await putJson("u1", token, { status: "Busy" });
      assert.equal(faulted.status, 500);
      assert.deepEqual(faulted.json, { code: 500, message: "Internal error" });
      assert.equal(faulted.headers["x-extra"], "yes");
      assert.equal(emulator.getStatus("u1"), "Available");
      assert.equal(emulator.requestsFor("presence.put")[0].statusCode, 500);

      assert.equal((await putJson("u1", token, { status: "Busy" })).status, 204, "a fault applies once by default");
      assert.equal(emulator.getStatus("u1"), "Busy");
    });

    it("applies faults in FIFO order and honours times", async function () {
      await start({ presenceWindowMs: 0 });
      const token = await fetchToken();
      emulator.injectFault("presence.get", { status: 502, times: 2 });
      emulator.injectFault("presence.get", { status: 503, body: "<html>unavailable</html>", headers: { "content-type": "text/html" } });

      const first = await getPresence("u1", token);
      const second = await getPresence("u1", token);
      const third = await getPresence("u1", token);
      const fourth = await getPresence("u1", token);

      assert.equal(first.status, 502);
      assert.equal(first.text, "");
      assert.equal(second.status, 502);
      assert.equal(third.status, 503);
      assert.equal(third.text, "<html>unavailable</html>");
      assert.equal(third.headers["content-type"], "text/html");
      assert.equal(fourth.status, 200);
    });

    it("keeps an Infinity fault until cleared", async function () {
      await start();
      emulator.injectFault("token", { status: 503, times: Infinity });

      for (let i = 0; i < 3; i += 1) {
        const result = await call("/oauth/token?grant_type=account_credentials&account_id=emu-account", {
          method: "POST",
          headers: { authorization: BASIC_DEFAULT },
        });
        assert.equal(result.status, 503);
      }
      assert.deepEqual(emulator.issuedTokens, []);

      emulator.clearFaults();
      await fetchToken();
      assert.equal(emulator.issuedTokens.length, 1);
    });

    it("delays the real response", async function () {
      await start();
      const token = await fetchToken();
      emulator.injectFault("presence.put", { delayMs: 300 });

      await assert.rejects(
        call("/v2/users/u1/presence_status", {
          method: "PUT",
          token,
          headers: { "content-type": "application/json" },
          body: '{"status":"Busy"}',
          timeoutMs: 50,
        }),
        { name: "TimeoutError" },
      );
      assert.equal(emulator.getStatus("u1"), "Busy", "the real route ran on arrival");

      emulator.setPresenceWindowMs(0);
      emulator.injectFault("presence.put", { delayMs: 100 });
      assert.equal((await putJson("u1", token, { status: "Away" })).status, 204);
    });

    it("delays a fault response", async function () {
      await start();
      const token = await fetchToken();
      emulator.injectFault("presence.get", { status: 504, delayMs: 300 });

      await assert.rejects(call("/v2/users/u1/presence_status", { token, timeoutMs: 50 }), { name: "TimeoutError" });
      await sleep(350);
      assert.equal(emulator.requestsFor("presence.get")[0].statusCode, 0, "no answer is sent to a client that left");

      emulator.injectFault("presence.get", { status: 504, delayMs: 100 });
      const result = await getPresence("u1", token);
      assert.equal(result.status, 504);
      assert.equal(emulator.requestsFor("presence.get")[1].statusCode, 504);
    });

    it("resets the connection", async function () {
      await start();
      const token = await fetchToken();
      emulator.injectFault("presence.put", { action: "reset" });

      await assert.rejects(putJson("u1", token, { status: "Busy" }), { code: "UND_ERR_SOCKET" });
      assert.equal(emulator.getStatus("u1"), "Available");
      const [recorded] = emulator.requestsFor("presence.put");
      assert.equal(recorded.statusCode, 0);
      assert.deepEqual(recorded.body, { status: "Busy" });

      assert.equal((await putJson("u1", token, { status: "Busy" })).status, 204);
    });

    it("hangs until the client gives up", async function () {
      await start();
      const token = await fetchToken();
      emulator.injectFault("presence.put", { action: "hang" });

      await assert.rejects(
        call("/v2/users/u1/presence_status", {
          method: "PUT",
          token,
          headers: { "content-type": "application/json" },
          body: '{"status":"Busy"}',
          timeoutMs: 100,
        }),
        { name: "TimeoutError" },
      );
      assert.equal(emulator.getStatus("u1"), "Available");
      assert.equal(emulator.requestsFor("presence.put")[0].statusCode, 0);
    });

    it("rejects contradictory or invalid faults", async function () {
      await start();
      assert.throws(() => emulator.injectFault("token", { status: 500, action: "reset" }));
      assert.throws(() => emulator.injectFault("token", { times: 0 }));
      assert.throws(() => emulator.injectFault("token", { status: 42 }));
      assert.throws(() => emulator.injectFault("token", { delayMs: -1 }));
    });
  });

  describe("account rate limit", function () {
    it("returns 429 past the per-second limit", async function () {
      await start({
        accountRateLimit: 2,
        accounts: [
          { accountId: "a1", clientId: "c1", clientSecret: "s1" },
          { accountId: "a2", clientId: "c2", clientSecret: "s2" },
        ],
      });
      const token = await fetchToken(basic("c1", "s1"), "a1");
      const otherToken = await fetchToken(basic("c2", "s2"), "a2");

      const results = await Promise.all([getPresence("u1", token), getPresence("u1", token), getPresence("u1", token)]);
      const statuses = results.map((result) => result.status).sort();
      assert.deepEqual(statuses, [200, 200, 429]);

      const limited = results.find((result) => result.status === 429) as CallResult;
      assert.deepEqual(limited.json, {
        code: 429,
        message: "You have reached the maximum per-second rate limit for this API. Try again later.",
      });
      assert.equal(limited.headers["x-ratelimit-category"], "Medium");
      assert.equal(limited.headers["x-ratelimit-type"], "QPS");
      assert.equal(limited.headers["x-ratelimit-limit"], "2");
      assert.equal(limited.headers["x-ratelimit-remaining"], "0");
      assert.equal(limited.headers["retry-after"], "1");

      assert.equal((await getPresence("u1", otherToken)).status, 200, "another account has its own limit");
      await fetchToken(basic("c1", "s1"), "a1");
      assert.equal(emulator.issuedTokens.length, 3, "token requests are not limited");
    });
  });

  describe("server", function () {
    it("returns 404 for unknown paths", async function () {
      await start();
      for (const [method, path] of [["GET", "/v2/users/u1"], ["DELETE", "/v2/users/u1/presence_status"], ["GET", "/oauth/token"]] as const) {
        const result = await call(path, { method });
        assert.equal(result.status, 404, `${method} ${path}`);
        assert.deepEqual(result.json, { code: 404, message: "Not found" }, `${method} ${path}`);
        assert.ok(result.headers["x-zm-trackingid"]);
      }
      assert.deepEqual(
        emulator.requests.map((request) => request.route),
        ["other", "other", "other"],
      );
    });

    it("keeps connections alive and counts them", async function () {
      await start();
      await agent.destroy();
      agent = new Agent({ connections: 1 });
      const token = await fetchToken();
      await getPresence("u1", token);
      await getPresence("u1", token);

      assert.equal(emulator.totalConnections(), 1);
      assert.equal(emulator.openConnections(), 1);

      await agent.destroy();
      await waitUntil(() => emulator.openConnections() === 0, "the client to close its socket");
      assert.equal(emulator.totalConnections(), 1);
    });

    it("destroys open sockets on close", async function () {
      await start();
      await agent.destroy();
      agent = new Agent({ connections: 1 });
      const token = await fetchToken();
      emulator.injectFault("presence.get", { action: "hang" });
      const hanging = getPresence("u1", token);
      await waitUntil(() => emulator.requestsFor("presence.get").length === 1, "the hanging request");
      assert.equal(emulator.openConnections(), 1);
      const hangingRejected = assert.rejects(hanging, { code: "UND_ERR_SOCKET" });

      await emulator.close();

      assert.equal(emulator.openConnections(), 0);
      await hangingRejected;
      await assert.rejects(getPresence("u1", token), { code: "ECONNREFUSED" });
    });

    it("rejects bad users and statuses", async function () {
      await start();
      assert.throws(() => emulator.addUser({ id: "u1", email: "new@example.com" }), /already exists/);
      assert.throws(() => emulator.addUser({ id: "u9", email: "DESK@example.com" }), /already exists/);
      assert.throws(() => emulator.addUser({ id: "u9", email: "u9@example.com", status: "Offline" }), /Unknown Zoom presence status/);
      assert.throws(() => emulator.setStatus("u1", "busy"), /Unknown Zoom presence status/);
      assert.throws(() => emulator.setSignedIn("nobody", false), /not found/);
      assert.equal(emulator.getStatus("nobody"), undefined);

      emulator.setStatus("u1", "In_A_Meeting");
      assert.equal(emulator.getStatus("u1"), "In_A_Zoom_Meeting");
    });

    it("clears recorded requests", async function () {
      await start();
      await fetchToken();
      assert.equal(emulator.requests.length, 1);

      emulator.clearRequests();
      assert.deepEqual(emulator.requests, []);
    });

    it("handles thousands of PUTs", async function () {
      await start({ autoCreateUsers: true });
      const token = await fetchToken();
      const count = 2000;

      for (let batch = 0; batch < count; batch += 100) {
        const puts = [];
        for (let i = batch; i < batch + 100; i += 1) {
          puts.push(putJson(`load-${i}`, token, { status: "Busy" }));
        }
        for (const result of await Promise.all(puts)) {
          assert.equal(result.status, 204);
        }
      }
      assert.equal(emulator.requestsFor("presence.put").length, count);
      assert.equal(emulator.getStatus(`load-${count - 1}`), "Busy");
    });
  });
});
