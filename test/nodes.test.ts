import assert from "node:assert/strict";
import helper from "node-red-node-test-helper";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { clearTokenCache } from "../nodes/zoom/token";
import { waitFor } from "./support/poll";

// The compiled nodes, as Node-RED loads them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const accountNode = require("../nodes/zoom-account");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const presenceNode = require("../nodes/zoom-presence");

helper.init(require.resolve("node-red"));

interface Received {
  payload?: unknown;
  zoom?: Record<string, unknown>;
  error?: { message: string; source?: { id: string } };
  [key: string]: unknown;
}

const SECRET = "emu-secret";

function flow(emulator: ZoomEmulator, presence: Record<string, unknown> = {}, account: Record<string, unknown> = {}): object[] {
  return [
    { id: "tab", type: "tab" },
    {
      id: "account",
      type: "zoom-account",
      name: "test account",
      authType: "s2s",
      cloud: "custom",
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      accountRateLimit: 10,
      timeout: 5,
      maxAttempts: 2,
      ...account,
    },
    {
      id: "presence",
      type: "zoom-presence",
      z: "tab",
      account: "account",
      userId: "u1",
      userIdType: "str",
      duration: "20",
      whenLimited: "latest",
      minInterval: "1",
      encoding: "json",
      wires: [["out"]],
      ...presence,
    },
    { id: "out", type: "helper", z: "tab" },
    { id: "catch-errors", type: "catch", z: "tab", scope: ["presence"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
    { id: "complete-all", type: "complete", z: "tab", scope: ["presence"], uncaught: false, wires: [["completed"]] },
    { id: "completed", type: "helper", z: "tab" },
  ];
}

const credentials = { account: { accountId: "emu-account", clientId: "emu-client", clientSecret: SECRET } };

/** Collects what each helper node receives. */
function collect(id: string): Received[] {
  const received: Received[] = [];
  helper.getNode(id).on("input", (msg: object) => received.push(msg as Received));
  return received;
}

function logText(): string {
  return helper
    .log()
    .args.map(([entry]) => `${entry.type ?? ""} ${String(entry.msg)}`)
    .join("\n");
}

describe("zoom-presence node", function () {
  let emulator: ZoomEmulator;

  beforeEach(async () => {
    clearTokenCache();
    emulator = await ZoomEmulator.start({ presenceWindowMs: 1000, users: [{ id: "u1", email: "desk@example.com" }, { id: "u2", email: "out@example.com", signedIn: false }] });
  });

  afterEach(async () => {
    await helper.unload();
    await emulator.close();
  });

  it("sets Do Not Disturb and outputs the result", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator), credentials);
    const out = collect("out");
    helper.getNode("presence").receive({ payload: "dnd" });
    await waitFor(() => out.length === 1);

    assert.equal(out[0].payload, "Do_Not_Disturb");
    const zoom = out[0].zoom as Record<string, unknown>;
    assert.deepEqual({ ...zoom, queuedMs: 0 }, { userId: "u1", status: "Do_Not_Disturb", duration: 20, statusCode: 204, queuedMs: 0, superseded: 0 });
    assert.equal(typeof zoom.queuedMs, "number");

    const [token] = emulator.requestsFor("token");
    assert.equal(token.headers.authorization, `Basic ${Buffer.from(`emu-client:${SECRET}`).toString("base64")}`);
    const [put] = emulator.requestsFor("presence.put");
    assert.equal(put.path, "/v2/users/u1/presence_status");
    assert.equal(put.headers.authorization, `Bearer ${emulator.issuedTokens[0]}`);
    assert.equal(put.rawBody, '{"status":"Do_Not_Disturb","duration":20}');
  });

  it("takes the user and duration from the message", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator), credentials);
    const out = collect("out");
    helper.getNode("presence").receive({ payload: { status: "Do Not Disturb", duration: "45" }, userId: "desk@example.com" });
    await waitFor(() => out.length === 1);

    assert.equal(emulator.requestsFor("presence.put")[0].path, "/v2/users/desk%40example.com/presence_status");
    assert.equal(emulator.requestsFor("presence.put")[0].rawBody, '{"status":"Do_Not_Disturb","duration":45}');
  });

  it("resolves the user id from a msg property", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, { userId: "person", userIdType: "msg" }), credentials);
    const out = collect("out");
    helper.getNode("presence").receive({ payload: "away", person: "u1" });
    await waitFor(() => out.length === 1);
    assert.equal((out[0].zoom as Record<string, unknown>).userId, "u1");
  });

  it("sends multipart when configured", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, { encoding: "multipart" }), credentials);
    const out = collect("out");
    helper.getNode("presence").receive({ payload: "away" });
    await waitFor(() => out.length === 1);
    assert.deepEqual(emulator.requestsFor("presence.put")[0].body, { status: "Away" });
    assert.match(String(emulator.requestsFor("presence.put")[0].contentType), /^multipart\/form-data/);
  });

  it("gives Catch nodes invalid input without calling Zoom", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator), credentials);
    const caught = collect("caught");
    const cases: Array<[object, string]> = [
      [{ payload: "sleeping" }, 'Invalid status "sleeping"'],
      [{ payload: { status: "dnd", duration: 2000 } }, "Invalid duration 2000: expected whole minutes from 1 to 1440"],
      [{ payload: { status: "Available", duration: 30 } }, "Invalid input: a duration applies only to Do_Not_Disturb, not to Available"],
      [{ payload: "away", userId: ".." }, 'Invalid user id "..": expected a Zoom user id or email'],
      [{ payload: 42 }, "Invalid payload: expected a status string or an object {status, duration?, userId?}, got number"],
    ];
    for (const [msg] of cases) {
      helper.getNode("presence").receive(msg);
    }
    await waitFor(() => caught.length === cases.length);

    cases.forEach(([, text], index) => {
      assert.ok(caught[index].error?.message.startsWith(`Error: ${text}`), `${caught[index].error?.message} should start with Error: ${text}`);
      assert.equal(caught[index].zoom?.error, "invalid_input");
    });
    assert.equal(emulator.requests.length, 0);
  });

  it("gives Catch nodes Zoom's error", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, { userId: "u2" }), credentials);
    const caught = collect("caught");
    helper.getNode("presence").receive({ payload: "away" });
    await waitFor(() => caught.length === 1);

    const zoom = caught[0].zoom as Record<string, unknown>;
    assert.equal(zoom.error, "zoom_error");
    assert.equal(zoom.statusCode, 400);
    assert.equal(zoom.code, 5301);
    assert.equal(zoom.message, "Request to update the presence of this user failed.".replace("presence of", "presence status of"));
    assert.equal(typeof zoom.trackingId, "string");
    assert.match(String(caught[0].error?.message), /user u2 .*must be signed in to a Zoom desktop client/);
  });

  it("reports rejected credentials as auth_failed", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator), { account: { ...credentials.account, clientSecret: "wrong" } });
    const caught = collect("caught");
    helper.getNode("presence").receive({ payload: "away" });
    await waitFor(() => caught.length === 1);

    assert.equal(caught[0].zoom?.error, "auth_failed");
    assert.match(String(caught[0].error?.message), /^Error: Zoom rejected the credentials/);
    assert.equal(emulator.requestsFor("presence.put").length, 0);
  });

  it("sends three quick updates as one now and the last later", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator), credentials);
    const out = collect("out");
    const completed = collect("completed");
    const node = helper.getNode("presence");
    node.receive({ payload: "dnd", _msgid: "first" });
    node.receive({ payload: "away", _msgid: "second" });
    node.receive({ payload: "available", _msgid: "third" });
    await waitFor(() => out.length === 2, 5000);

    const puts = emulator.requestsFor("presence.put");
    assert.deepEqual(puts.map((put) => put.rawBody), ['{"status":"Do_Not_Disturb","duration":20}', '{"status":"Available"}']);
    assert.deepEqual(puts.map((put) => put.statusCode), [204, 204]);
    assert.deepEqual(out.map((msg) => msg.payload), ["Do_Not_Disturb", "Available"]);
    assert.equal((out[1].zoom as Record<string, unknown>).superseded, 1);
    assert.ok(((out[1].zoom as Record<string, number>).queuedMs) >= 900);
    assert.deepEqual(completed.map((msg) => msg._msgid).sort(), ["first", "second", "third"]);
    assert.equal(emulator.getStatus("u1"), "Available");
  });

  it("drops an update in a closed window with a warning", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, { whenLimited: "drop", minInterval: "60" }), credentials);
    const out = collect("out");
    const completed = collect("completed");
    const node = helper.getNode("presence");
    node.receive({ payload: "dnd" });
    await waitFor(() => out.length === 1);
    node.receive({ payload: "away" });
    await waitFor(() => completed.length === 2);

    assert.equal(emulator.requestsFor("presence.put").length, 1);
    assert.match(logText(), /Dropped update Away for user u1: the window is closed for (59|60) s/);
  });

  it("rejects an update in a closed window with rate_limited", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, { whenLimited: "error", minInterval: "60" }), credentials);
    const out = collect("out");
    const caught = collect("caught");
    const node = helper.getNode("presence");
    node.receive({ payload: "dnd" });
    await waitFor(() => out.length === 1);
    node.receive({ payload: "away" });
    await waitFor(() => caught.length === 1);

    assert.equal(caught[0].zoom?.error, "rate_limited");
    assert.match(String(caught[0].error?.message), /^Error: Rate limited: .* user u1 .* next update possible in (59|60) s$/);
    assert.equal(emulator.requestsFor("presence.put").length, 1);
  });

  it("counts the retry after a 401 in the account budget", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, {}, { accountRateLimit: 1 }), credentials);
    const out = collect("out");
    emulator.injectFault("presence.put", { status: 401, body: { code: 124, message: "Invalid access token." } });
    helper.getNode("presence").receive({ payload: "away" });
    await waitFor(() => out.length === 1, 5000);

    const puts = emulator.requestsFor("presence.put");
    assert.equal(puts.length, 2);
    assert.equal(emulator.requestsFor("token").length, 2, "the retry uses a new token");
    assert.ok(puts[1].receivedAt - puts[0].receivedAt >= 1000, `retry came ${puts[1].receivedAt - puts[0].receivedAt} ms after the first PUT with a budget of 1 a second`);
  });

  it("keeps the window across a redeploy", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, { minInterval: "2" }), credentials);
    let out = collect("out");
    helper.getNode("presence").receive({ payload: "dnd" });
    await waitFor(() => out.length === 1);
    await helper.unload();

    emulator.setPresenceWindowMs(2000);
    await helper.load([accountNode, presenceNode], flow(emulator, { minInterval: "2" }), credentials);
    out = collect("out");
    helper.getNode("presence").receive({ payload: "away" });
    await waitFor(() => out.length === 1, 5000);

    const puts = emulator.requestsFor("presence.put");
    assert.deepEqual(puts.map((put) => put.statusCode), [204, 204], "no 429 after the redeploy");
    assert.ok(puts[1].receivedAt - puts[0].receivedAt >= 2000, `second PUT came ${puts[1].receivedAt - puts[0].receivedAt} ms after the first`);
  });

  it("discards held updates on close and sends nothing after", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator, { minInterval: "1" }), credentials);
    const out = collect("out");
    helper.getNode("presence").receive({ payload: "dnd" });
    await waitFor(() => out.length === 1);
    helper.getNode("presence").receive({ payload: "away" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const log = logText();
    await helper.unload();

    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(emulator.requestsFor("presence.put").length, 1);
    assert.doesNotMatch(log, /Discarded/);
  });

  it("tests the connection with the stored secret only for deployed hosts", async () => {
    const other = await ZoomEmulator.start();
    try {
      await helper.load([accountNode, presenceNode], flow(emulator), credentials);
      const stored = { accountId: "emu-account", clientId: "emu-client", clientSecret: "__PWRD__" };
      const same = await helper
        .request()
        .post("/zoom-account/test")
        .send({ id: "account", authType: "s2s", cloud: "custom", apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl, credentials: stored });
      assert.equal(same.body.ok, true, JSON.stringify(same.body));
      assert.deepEqual(same.body.scopes, ["user:read:admin", "user:write:admin"]);

      const elsewhere = await helper
        .request()
        .post("/zoom-account/test")
        .send({ id: "account", authType: "s2s", cloud: "custom", apiBaseUrl: other.apiBaseUrl, oauthBaseUrl: other.oauthBaseUrl, credentials: stored });
      assert.equal(elsewhere.body.ok, false);
      assert.match(elsewhere.body.error, /^Enter the client secret or access token again/);
      assert.equal(other.requests.length, 0, "nothing was sent to the other host");
      assert.ok(!JSON.stringify([same.body, elsewhere.body]).includes(SECRET));
    } finally {
      await other.close();
    }
  });

  it("never shows the secret or a token", async () => {
    await helper.load([accountNode, presenceNode], flow(emulator), credentials);
    const out = collect("out");
    const caught = collect("caught");
    const statuses: unknown[] = [];
    (helper.getNode("presence") as unknown as NodeJS.EventEmitter).on("call:status", (call: { args: unknown[] }) => statuses.push(call.args[0]));
    helper.getNode("presence").receive({ payload: "dnd" });
    helper.getNode("presence").receive({ payload: "nonsense" });
    await waitFor(() => out.length === 1 && caught.length === 1);

    const seen = JSON.stringify({ out, caught, statuses, log: logText() });
    assert.ok(!seen.includes(SECRET), "client secret leaked");
    for (const token of emulator.issuedTokens) {
      assert.ok(!seen.includes(token), "access token leaked");
    }
    assert.ok(statuses.length > 0);
  });
});
