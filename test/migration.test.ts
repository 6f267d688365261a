// Flows saved before the zoom-account config node had `configVersion`: the settings they lack get
// their defaults, numbers saved as strings count as numbers, and a zoom-presence node that uses such
// an account sets presence on the Zoom emulator.
import assert from "node:assert/strict";
import helper from "node-red-node-test-helper";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import type { ZoomAccountNode } from "../nodes/common/account-node";
import { ACCOUNT_DEFAULTS, CURRENT_CONFIG_VERSION, migrateAccountSettings } from "../nodes/zoom/account";
import { clearTokenCache } from "../nodes/zoom/token";
import { waitFor } from "./support/poll";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const accountNode = require("../nodes/zoom-account");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const presenceNode = require("../nodes/zoom-presence");

helper.init(require.resolve("node-red"));

const CREDENTIALS = { accountId: "old-account", clientId: "old-client", clientSecret: "old-secret" };

interface Received {
  payload?: unknown;
  zoom?: Record<string, unknown>;
  error?: { message: string };
}

/**
 * Builds a flow as the first release of the package saved it: no configVersion, no WebSocket
 * settings, no maxAttempts, and the limits as the strings that text inputs give. Its zoom-presence
 * node has no userIdType, whenLimited, minInterval, encoding and confirm.
 */
function versionZeroFlow(emulator: ZoomEmulator, account: Record<string, unknown> = {}): object[] {
  return [
    { id: "tab", type: "tab", label: "Old flow" },
    {
      id: "account",
      type: "zoom-account",
      name: "saved before configVersion",
      authType: "s2s",
      cloud: "custom",
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      accountRateLimit: "10",
      timeout: "5",
      ...account,
    },
    { id: "presence", type: "zoom-presence", z: "tab", name: "", account: "account", userId: "u1", duration: "30", wires: [["out"]] },
    { id: "out", type: "helper", z: "tab" },
    { id: "catch-errors", type: "catch", z: "tab", scope: ["presence"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
  ];
}

function collect(id: string): Received[] {
  const received: Received[] = [];
  helper.getNode(id).on("input", (msg: object) => received.push(msg as Received));
  return received;
}

describe("zoom-account settings migration", () => {
  const cases: Array<[string, Record<string, unknown>, Partial<typeof ACCOUNT_DEFAULTS>]> = [
    ["an empty config", {}, {}],
    ["numbers saved as strings", { accountRateLimit: "20", timeout: "30", maxAttempts: "3" }, { accountRateLimit: 20, timeout: 30, maxAttempts: 3 }],
    ["numbers with spaces", { accountRateLimit: " 20 ", timeout: "7 " }, { accountRateLimit: 20, timeout: 7 }],
    ["empty strings", { accountRateLimit: "", timeout: "", maxAttempts: "" }, {}],
    ["text that is no number", { accountRateLimit: "ten", timeout: "abc", maxAttempts: "x" }, {}],
    ["zero and negative numbers", { accountRateLimit: 0, timeout: -5, maxAttempts: "0" }, {}],
    ["a fractional attempt count", { maxAttempts: "2.7" }, { maxAttempts: 2 }],
    ["an unknown cloud and auth type", { cloud: "zoom.example", authType: "jwt" }, {}],
    ["padded base URLs", { cloud: "custom", apiBaseUrl: " http://127.0.0.1:1/v2 ", oauthBaseUrl: "http://127.0.0.1:1 " }, { cloud: "custom", apiBaseUrl: "http://127.0.0.1:1/v2", oauthBaseUrl: "http://127.0.0.1:1" }],
    ["configVersion 1", { configVersion: 1, timeout: 9 }, { timeout: 9 }],
  ];

  for (const [name, raw, changed] of cases) {
    it(`reads ${name}`, () => {
      assert.deepEqual(migrateAccountSettings(raw), { ...ACCOUNT_DEFAULTS, ...changed });
    });
  }

  it("marks every result with the current configVersion", () => {
    assert.equal(migrateAccountSettings({}).configVersion, CURRENT_CONFIG_VERSION);
    assert.equal(migrateAccountSettings({ configVersion: 0 }).configVersion, CURRENT_CONFIG_VERSION);
    assert.equal(migrateAccountSettings({ configVersion: "1" }).configVersion, CURRENT_CONFIG_VERSION);
  });
});

describe("flow saved before configVersion", function () {
  let emulator: ZoomEmulator;

  beforeEach(async () => {
    clearTokenCache();
    emulator = await ZoomEmulator.start({ accounts: [CREDENTIALS], users: [{ id: "u1", email: "desk@example.com" }] });
  });

  afterEach(async () => {
    await helper.unload();
    await emulator.close();
  });

  it("loads the account with defaults", async () => {
    await helper.load([accountNode, presenceNode], versionZeroFlow(emulator), { account: CREDENTIALS });
    const account = helper.getNode("account") as unknown as ZoomAccountNode;

    assert.deepEqual(account.settings, {
      authType: "s2s",
      cloud: "custom",
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      wsBaseUrl: "",
      wsSubscriptionId: "",
      accountRateLimit: 10,
      timeout: 5,
      maxAttempts: ACCOUNT_DEFAULTS.maxAttempts,
      configVersion: CURRENT_CONFIG_VERSION,
    });
    const connection = account.connection();
    assert.equal(connection.apiBaseUrl, emulator.apiBaseUrl);
    assert.equal(connection.timeoutMs, 5000);
    assert.equal(connection.accountRateLimit, 10);
    assert.equal(connection.maxAttempts, ACCOUNT_DEFAULTS.maxAttempts);
  });

  it("uses zoom.us for an account without a cloud", async () => {
    const flow = versionZeroFlow(emulator, { cloud: undefined, apiBaseUrl: undefined, oauthBaseUrl: undefined });
    await helper.load([accountNode, presenceNode], flow, { account: CREDENTIALS });
    const connection = (helper.getNode("account") as unknown as ZoomAccountNode).connection();

    assert.equal(connection.apiBaseUrl, "https://api.zoom.us/v2");
    assert.equal(connection.oauthBaseUrl, "https://zoom.us");
    assert.equal(emulator.requests.length, 0);
  });

  it("sets presence through the old account", async () => {
    await helper.load([accountNode, presenceNode], versionZeroFlow(emulator), { account: CREDENTIALS });
    const out = collect("out");
    helper.getNode("presence").receive({ payload: "dnd" });
    await waitFor(() => out.length === 1, 10000, "the output of the presence node");

    assert.equal(out[0].payload, "Do_Not_Disturb");
    assert.equal(out[0].zoom?.userId, "u1");
    assert.equal(out[0].zoom?.duration, 30);
    const [token] = emulator.requestsFor("token");
    assert.equal(token.headers.authorization, `Basic ${Buffer.from(`${CREDENTIALS.clientId}:${CREDENTIALS.clientSecret}`).toString("base64")}`);
    assert.equal(token.query.account_id ?? (token.body as Record<string, string>).account_id, CREDENTIALS.accountId);
    const puts = emulator.requestsFor("presence.put");
    assert.equal(puts.length, 1);
    assert.equal(puts[0].path, "/v2/users/u1/presence_status");
    assert.equal(puts[0].rawBody, '{"status":"Do_Not_Disturb","duration":30}');
    assert.match(puts[0].contentType ?? "", /^application\/json/);
    assert.equal(puts[0].statusCode, 204);
    assert.equal(emulator.getStatus("u1"), "Do_Not_Disturb");
  });

  it("honours an attempt count saved as a string", async () => {
    await helper.load([accountNode, presenceNode], versionZeroFlow(emulator, { maxAttempts: "2" }), { account: CREDENTIALS });
    emulator.injectFault("presence.put", { status: 503, body: { code: 503, message: "Service unavailable" }, times: Infinity });
    const caught = collect("caught");
    helper.getNode("presence").receive({ payload: "away" });
    await waitFor(() => caught.length === 1, 10000, "the error of the presence node");

    assert.equal(emulator.requestsFor("presence.put").length, 2);
    assert.equal(caught[0].zoom?.attempts, 2);
    assert.match(String(caught[0].error?.message), /2 attempts/);
  });
});
