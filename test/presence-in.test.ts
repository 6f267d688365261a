import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Application } from "express";
import helper from "node-red-node-test-helper";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { lastKnownStatuses } from "../nodes/zoom/last-known";
import { presencePolls } from "../nodes/zoom/poller";
import { clearTokenCache } from "../nodes/zoom/token";
import { waitFor } from "./support/poll";

// The compiled nodes, as Node-RED loads them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const accountNode = require("../nodes/zoom-account");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const presenceInNode = require("../nodes/zoom-presence-in");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const presenceNode = require("../nodes/zoom-presence");

helper.init(require.resolve("node-red"));

interface Received {
  payload?: unknown;
  zoom?: Record<string, unknown>;
  error?: { message: string };
  _msgid?: string;
  [key: string]: unknown;
}

const CLIENT_SECRET = "emu-secret";
const WEBHOOK_SECRET = "webhook-secret-token-for-tests";
const WEBHOOK_PATH = "/zoom/presence";

// The node test helper gives each flow a fresh Express app as RED.httpNode and serves it nowhere, so
// the tests take it from the runtime API and serve it themselves.
let httpNode: Application | undefined;
function captureHttpNode(RED: { httpNode: Application }): void {
  httpNode = RED.httpNode;
}

function flow(emulator: ZoomEmulator, watch: Record<string, unknown> = {}, extra: object[] = []): object[] {
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
      wsBaseUrl: "",
      wsSubscriptionId: "emu-subscription",
      accountRateLimit: 10,
      timeout: 5,
      maxAttempts: 1,
    },
    {
      id: "watch",
      type: "zoom-presence-in",
      z: "tab",
      account: "account",
      userId: "u1",
      userIdType: "str",
      source: "webhook",
      interval: 60,
      path: WEBHOOK_PATH,
      emit: "change",
      wires: [["out"]],
      ...watch,
    },
    { id: "out", type: "helper", z: "tab" },
    { id: "catch-errors", type: "catch", z: "tab", scope: ["watch"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
    { id: "complete-all", type: "complete", z: "tab", scope: ["watch"], uncaught: false, wires: [["completed"]] },
    { id: "completed", type: "helper", z: "tab" },
    ...extra,
  ];
}

const credentials = { account: { accountId: "emu-account", clientId: "emu-client", clientSecret: CLIENT_SECRET, webhookSecretToken: WEBHOOK_SECRET } };

function collect(id: string): Received[] {
  const received: Received[] = [];
  helper.getNode(id).on("input", (msg: object) => received.push(msg as Received));
  return received;
}

function collectStatuses(id: string): Array<{ fill?: string; shape?: string; text?: string }> {
  const statuses: Array<{ fill?: string; shape?: string; text?: string }> = [];
  (helper.getNode(id) as unknown as NodeJS.EventEmitter).on("call:status", (call: { args: unknown[] }) => statuses.push(call.args[0] as { text?: string }));
  return statuses;
}

function logText(): string {
  return helper
    .log()
    .args.map(([entry]) => `${entry.type ?? ""} ${String(entry.msg)}`)
    .join("\n");
}

/**
 * Serves the captured httpNode app on 127.0.0.1. With parseJsonFirst, each body is read and parsed
 * before the app gets the request, as the editor's JSON parser does when httpNodeRoot and
 * httpAdminRoot are the same path. `req.body` then contains the object and `req._body` is true.
 */
async function serveHttpNode(parseJsonFirst = false): Promise<{ url: string; close(): Promise<void> }> {
  const app = httpNode as unknown as http.RequestListener;
  const handler: http.RequestListener = !parseJsonFirst
    ? app
    : async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) {
          chunks.push(chunk as Buffer);
        }
        Object.assign(req, { body: JSON.parse(Buffer.concat(chunks).toString("utf8")), _body: true });
        app(req, res);
      };
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("zoom-presence-in node", function () {
  let emulator: ZoomEmulator;

  beforeEach(async () => {
    clearTokenCache();
    lastKnownStatuses.clear();
    emulator = await ZoomEmulator.start({
      presenceWindowMs: 1000,
      users: [
        { id: "u1", email: "desk@example.com" },
        { id: "u2", email: "other@example.com" },
      ],
    });
  });

  afterEach(async () => {
    await helper.unload();
    await emulator.close();
  });

  describe("poll", function () {
    it("emits the status on deploy and after a change", async function () {
      this.timeout(20000);
      emulator.setLiveSpellings(true);
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "poll", interval: 10 }), credentials);
      const out = collect("out");
      await waitFor(() => out.length === 1);

      assert.equal(out[0].payload, "Available");
      const first = out[0].zoom as Record<string, unknown>;
      assert.deepEqual(Object.keys(first).sort(), ["changedAt", "rawStatus", "source", "userId"]);
      assert.deepEqual({ userId: first.userId, source: first.source, rawStatus: first.rawStatus }, { userId: "u1", source: "poll", rawStatus: "Available" });
      assert.match(String(first.changedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      emulator.setStatus("u1", "In_A_Zoom_Meeting");
      await waitFor(() => out.length === 2, 15000);

      assert.equal(out[1].payload, "In_A_Zoom_Meeting");
      assert.equal(out[1].zoom?.rawStatus, "In_A_Meeting");
      const gets = emulator.requestsFor("presence.get");
      assert.equal(gets.length, 2);
      assert.deepEqual(gets.map((get) => get.path), ["/v2/users/u1/presence_status", "/v2/users/u1/presence_status"]);
      assert.ok(gets[1].receivedAt - gets[0].receivedAt >= 9900, `second poll came ${gets[1].receivedAt - gets[0].receivedAt} ms after the first`);
    });

    it("shares one poll between nodes watching one user", async () => {
      const second = { id: "watch-2", type: "zoom-presence-in", z: "tab", account: "account", userId: "u1", userIdType: "str", source: "poll", interval: 30, path: "", emit: "change", wires: [["out-2"]] };
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "poll" }, [second, { id: "out-2", type: "helper", z: "tab" }]), credentials);
      const out = collect("out");
      const out2 = collect("out-2");
      await waitFor(() => out.length === 1 && out2.length === 1);

      assert.equal(emulator.requestsFor("presence.get").length, 1);
      assert.equal(presencePolls.size, 1);
      assert.equal(out[0].payload, "Available");
      assert.equal(out2[0].payload, "Available");
    });

    it("raises an interval below 10 s with a warning", async () => {
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "poll", interval: 2 }), credentials);
      const out = collect("out");
      await waitFor(() => out.length === 1);

      assert.match(logText(), /Poll interval raised to the minimum of 10 s/);
    });

    it("reads again on input and sends even when unchanged", async () => {
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "poll" }), credentials);
      const out = collect("out");
      const completed = collect("completed");
      await waitFor(() => out.length === 1);

      helper.getNode("watch").receive({ payload: "refresh", _msgid: "refresh-1", topic: "kept" });
      await waitFor(() => out.length === 2 && completed.length === 1);

      assert.equal(out[1]._msgid, "refresh-1");
      assert.equal(out[1].topic, "kept");
      assert.equal(out[1].payload, "Available");
      assert.equal(out[1].zoom?.source, "poll");
      assert.equal(completed[0]._msgid, "refresh-1");
      assert.equal(emulator.requestsFor("presence.get").length, 2);
    });

    it("ends input with an error when the read fails", async () => {
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "poll", userId: "nobody" }), credentials);
      const statuses = collectStatuses("watch");
      const caught = collect("caught");
      await waitFor(() => statuses.some((status) => status.text === "poll: Zoom error 404/1001 x1"));

      helper.getNode("watch").receive({ payload: "refresh" });
      await waitFor(() => caught.length === 1);

      assert.match(String(caught[0].error?.message), /Zoom user nobody does not exist in this account \(HTTP 404, code 1001\)/);
      assert.equal(statuses.at(-1)?.fill, "red");
      assert.equal(statuses.at(-1)?.shape, "ring");
    });
  });

  describe("webhook", function () {
    let server: { url: string; close(): Promise<void> } | undefined;

    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    async function deployWebhook(watch: Record<string, unknown> = {}, parseJsonFirst = false): Promise<string> {
      await helper.load([accountNode, presenceInNode, captureHttpNode], flow(emulator, { source: "webhook", ...watch }), credentials);
      server = await serveHttpNode(parseJsonFirst);
      return `${server.url}${WEBHOOK_PATH}`;
    }

    it("emits a verified event in the canonical vocabulary", async () => {
      const url = await deployWebhook();
      const out = collect("out");
      await waitFor(() => out.length === 1);
      const changedAt = Date.parse("2026-03-02T09:30:15Z");

      const event = emulator.presenceEvent("u1", { status: "In_A_Zoom_Meeting", changedAt, eventTs: changedAt + 120 });
      const response = await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 2);

      assert.equal(response.statusCode, 204);
      assert.equal(out[1].payload, "In_A_Zoom_Meeting");
      assert.deepEqual(out[1].zoom, { userId: "u1", email: "desk@example.com", source: "webhook", rawStatus: "In_Meeting", changedAt: "2026-03-02T09:30:15Z" });
      assert.equal(emulator.requestsFor("presence.get").length, 1, "one read on deploy");
      assert.equal(out[0].zoom?.source, "webhook");
    });

    it("rejects forged, stale, tampered and unsigned requests with 401", async () => {
      const url = await deployWebhook();
      const out = collect("out");
      const statuses = collectStatuses("watch");
      await waitFor(() => out.length === 1);
      const event = emulator.presenceEvent("u1", { status: "Do_Not_Disturb" });
      const now = Math.floor(Date.now() / 1000);

      const responses = [
        await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET, badSignature: true }),
        await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET, timestamp: now - 301 }),
        await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET, bodyTransform: (body) => body.replace("Do_Not_Disturb", "Available") }),
        await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET, omitHeaders: ["x-zm-signature"] }),
        await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET, omitHeaders: ["x-zm-request-timestamp"] }),
      ];

      assert.deepEqual(responses.map((response) => response.statusCode), [401, 401, 401, 401, 401]);
      assert.deepEqual(responses[0].json, { error: "invalid signature" });
      await waitFor(() => statuses.some((status) => status.text === "Available · webhook: bad signature x5"));
      assert.equal(statuses.at(-1)?.fill, "red");
      assert.equal(out.length, 1);
      assert.equal(lastKnownStatuses.get(emulatorAccountKey(emulator), "u1")?.status, "Available");
      assert.match(logText(), /Rejected a webhook request with HTTP 401: the signature does not match the body and the secret token/);

      const accepted = await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 2);
      assert.equal(accepted.statusCode, 204);
      assert.equal(out[1].payload, "Do_Not_Disturb");
      assert.match(logText(), /Accepted a signed webhook request after 5 rejected one\(s\)/);
    });

    it("answers the URL validation challenge", async () => {
      const url = await deployWebhook();
      const response = await emulator.sendWebhook(url, { event: "endpoint.url_validation", event_ts: Date.now(), payload: { plainToken: "qgg8vlvZRS6UYooatFL8Aw" } }, { secretToken: WEBHOOK_SECRET });

      const encryptedToken = createHmac("sha256", WEBHOOK_SECRET).update("qgg8vlvZRS6UYooatFL8Aw").digest("hex");
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json, { plainToken: "qgg8vlvZRS6UYooatFL8Aw", encryptedToken });
    });

    it("drops a late event", async () => {
      const url = await deployWebhook();
      const out = collect("out");
      await waitFor(() => out.length === 1);
      const start = Date.now() - 60_000;

      const meeting = emulator.presenceEvent("u1", { status: "In_A_Zoom_Meeting", changedAt: start });
      const available = emulator.presenceEvent("u1", { status: "Available", changedAt: start + 30_000 });
      const lateDnd = emulator.presenceEvent("u1", { status: "Do_Not_Disturb", changedAt: start + 10_000 });
      await emulator.sendWebhook(url, meeting, { secretToken: WEBHOOK_SECRET });
      await emulator.sendWebhook(url, available, { secretToken: WEBHOOK_SECRET });
      const late = await emulator.sendWebhook(url, lateDnd, { secretToken: WEBHOOK_SECRET });
      const sameSecond = emulator.presenceEvent("u1", { status: "Away", changedAt: start + 30_000, eventTs: start + 30_500 });
      await emulator.sendWebhook(url, sameSecond, { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 4);

      assert.equal(late.statusCode, 204);
      assert.deepEqual(out.map((msg) => msg.payload), ["Available", "In_A_Zoom_Meeting", "Available", "Away"]);
    });

    it("ignores other users and other events", async () => {
      const url = await deployWebhook({ userId: "DESK@example.com" });
      const out = collect("out");
      await waitFor(() => out.length === 1);

      const other = await emulator.sendWebhook(url, emulator.presenceEvent("u2", { status: "Do_Not_Disturb" }), { secretToken: WEBHOOK_SECRET });
      const meeting = await emulator.sendWebhook(url, { event: "meeting.started", event_ts: Date.now(), payload: { object: { id: "123" } } }, { secretToken: WEBHOOK_SECRET });
      const mine = await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Away" }), { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 2);

      assert.deepEqual([other.statusCode, meeting.statusCode, mine.statusCode], [204, 204, 204]);
      assert.deepEqual(out.map((msg) => msg.payload), ["Available", "Away"]);
      assert.equal(out[1].zoom?.userId, "u1");
    });

    it("emits every event with emit every", async () => {
      const url = await deployWebhook({ emit: "every" });
      const out = collect("out");
      await waitFor(() => out.length === 1);

      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Available" }), { secretToken: WEBHOOK_SECRET });
      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Available" }), { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 3);

      assert.deepEqual(out.map((msg) => msg.payload), ["Available", "Available", "Available"]);
    });

    it("emits only changes by default", async () => {
      const url = await deployWebhook();
      const out = collect("out");
      await waitFor(() => out.length === 1);

      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Available" }), { secretToken: WEBHOOK_SECRET });
      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Away" }), { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 2);

      assert.deepEqual(out.map((msg) => msg.payload), ["Available", "Away"]);
    });

    it("passes an unknown status on with a warning", async () => {
      const url = await deployWebhook();
      const out = collect("out");
      await waitFor(() => out.length === 1);

      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Sleeping" }), { secretToken: WEBHOOK_SECRET });
      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Offline" }), { secretToken: WEBHOOK_SECRET });
      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Mobile_signed_in" }), { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 4);

      assert.deepEqual(out.map((msg) => msg.payload), ["Available", "Sleeping", "Offline", "Mobile_signed_in"]);
      assert.equal(out[1].zoom?.rawStatus, "Sleeping");
      assert.match(logText(), /Zoom reported the unknown status "Sleeping" for user u1; it is passed on unchanged/);
      assert.doesNotMatch(logText(), /unknown status "Offline"/);
    });

    it("verifies the raw body when the route reads it", async () => {
      const url = await deployWebhook();
      const out = collect("out");
      await waitFor(() => out.length === 1);
      const event = emulator.presenceEvent("u1", { status: "Do_Not_Disturb" });

      // Signed over the indented bytes, which JSON.stringify of the parsed body does not reproduce.
      const response = await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET, body: JSON.stringify(event, null, 2) });
      await waitFor(() => out.length === 2);

      assert.equal(response.statusCode, 204);
      assert.equal(out[1].payload, "Do_Not_Disturb");
    });

    it("verifies JSON.stringify of a body parsed before the route", async () => {
      const url = await deployWebhook({}, true);
      const out = collect("out");
      await waitFor(() => out.length === 1);
      const event = emulator.presenceEvent("u1", { status: "Do_Not_Disturb" });

      // Signed over the compact JSON, sent indented: only JSON.stringify(req.body) matches.
      const response = await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET, bodyTransform: (body) => JSON.stringify(JSON.parse(body), null, 2) });
      const forged = await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "Away" }), { secretToken: WEBHOOK_SECRET, badSignature: true });
      await waitFor(() => out.length === 2);

      assert.equal(response.statusCode, 204);
      assert.equal(forged.statusCode, 401);
      assert.deepEqual(out.map((msg) => msg.payload), ["Available", "Do_Not_Disturb"]);
    });

    it("removes the route on close", async () => {
      const url = await deployWebhook();
      const out = collect("out");
      await waitFor(() => out.length === 1);
      const event = emulator.presenceEvent("u1", { status: "Away" });
      assert.equal((await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET })).statusCode, 204);

      await helper.getNode("watch").close(true);
      const after = await emulator.sendWebhook(url, event, { secretToken: WEBHOOK_SECRET });

      assert.equal(after.statusCode, 404);
    });

    it("watches every user without a read on deploy", async () => {
      const url = await deployWebhook({ userId: "" });
      const out = collect("out");
      const statuses = collectStatuses("watch");

      await emulator.sendWebhook(url, emulator.presenceEvent("u1", { status: "In_A_Zoom_Meeting" }), { secretToken: WEBHOOK_SECRET });
      await emulator.sendWebhook(url, emulator.presenceEvent("u2", { status: "On_A_Call" }), { secretToken: WEBHOOK_SECRET });
      await waitFor(() => out.length === 2);
      helper.getNode("watch").receive({ payload: "refresh", _msgid: "all" });
      await waitFor(() => out.length === 4);

      assert.equal(emulator.requestsFor("presence.get").length, 0);
      assert.deepEqual(out.map((msg) => [msg.zoom?.userId, msg.payload]), [
        ["u1", "In_A_Zoom_Meeting"],
        ["u2", "On_A_Call"],
        ["u1", "In_A_Zoom_Meeting"],
        ["u2", "On_A_Call"],
      ]);
      assert.equal(out[2]._msgid, "all");
      assert.ok(statuses.some((status) => status.text === "u2: On_A_Call (webhook)" && status.fill === "red"));
    });

    it("adds no route without a secret token", async () => {
      await helper.load(
        [accountNode, presenceInNode, captureHttpNode],
        flow(emulator, { source: "webhook" }),
        { account: { ...credentials.account, webhookSecretToken: "" } },
      );
      server = await serveHttpNode();
      const response = await emulator.sendWebhook(`${server.url}${WEBHOOK_PATH}`, emulator.presenceEvent("u1"), { secretToken: "" });

      assert.equal(response.statusCode, 404);
      assert.match(logText(), /Missing webhook secret token in the Zoom account configuration/);
    });
  });

  describe("websocket", function () {
    it("emits pushed events and reads again after a reconnect", async function () {
      this.timeout(20000);
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "websocket" }), credentials);
      const out = collect("out");
      const statuses = collectStatuses("watch");
      await waitFor(() => out.length === 1 && emulator.openWebSockets() === 1);

      emulator.setStatus("u1", "In_A_Zoom_Meeting", undefined, { emitEvent: true });
      await waitFor(() => out.length === 2);
      assert.equal(out[1].payload, "In_A_Zoom_Meeting");
      assert.equal(out[1].zoom?.source, "websocket");
      assert.equal(out[1].zoom?.rawStatus, "In_Meeting");

      emulator.dropWebSockets();
      emulator.setStatus("u1", "Available");
      await waitFor(() => out.length === 3, 10000);

      assert.equal(out[2].payload, "Available");
      assert.equal(out[2].zoom?.source, "websocket");
      const connections = emulator.webSocketConnections;
      assert.equal(connections.length, 2);
      assert.deepEqual(connections.map((connection) => [connection.subscriptionId, connection.status]), [["emu-subscription", 101], ["emu-subscription", 101]]);
      assert.notEqual(connections[0].accessToken, connections[1].accessToken, "a new token for the reconnect");
      assert.deepEqual(connections.map((connection) => emulator.issuedTokens.includes(connection.accessToken as string)), [true, true]);
      assert.ok(statuses.some((status) => /^In_A_Zoom_Meeting · websocket: reconnecting in \d+ s$/.test(String(status.text))));
      assert.equal(emulator.requestsFor("presence.get").length, 2, "one read on start, one after the reconnect");
    });

    it("shares one connection between nodes of one subscription", async () => {
      const second = { id: "watch-2", type: "zoom-presence-in", z: "tab", account: "account", userId: "desk@example.com", userIdType: "str", source: "websocket", interval: 60, path: "", emit: "change", wires: [["out-2"]] };
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "websocket" }, [second, { id: "out-2", type: "helper", z: "tab" }]), credentials);
      const out = collect("out");
      const out2 = collect("out-2");
      await waitFor(() => out.length === 1 && out2.length === 1 && emulator.openWebSockets() === 1);

      emulator.setStatus("u1", "Presenting", undefined, { emitEvent: true });
      await waitFor(() => out.length === 2 && out2.length === 2);

      assert.equal(emulator.webSocketConnections.length, 1);
      assert.deepEqual([out[1].payload, out2[1].payload], ["Presenting", "Presenting"]);
      assert.equal(out2[1].zoom?.email, "desk@example.com");
    });

    it("shows reconnecting for a wrong subscription ID", async () => {
      await helper.load([accountNode, presenceInNode], [...flow(emulator, { source: "websocket" })].map((node) => ((node as { id: string }).id === "account" ? { ...node, wsSubscriptionId: "wrong" } : node)), credentials);
      const statuses = collectStatuses("watch");
      await waitFor(() => statuses.some((status) => /websocket: reconnecting in \d+ s$/.test(String(status.text))));

      assert.equal(emulator.webSocketConnections[0].closeCode, 1008);
      assert.match(logText(), /WebSocket connection closed \(code 1008: Invalid subscriptionId\); reconnecting/);
    });

    it("keeps tokens and secrets out of logs, messages and statuses", async () => {
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "websocket" }), credentials);
      const out = collect("out");
      const statuses = collectStatuses("watch");
      await waitFor(() => out.length === 1 && emulator.openWebSockets() === 1);
      emulator.dropWebSockets();
      await waitFor(() => emulator.openWebSockets() === 1, 5000);
      emulator.revokeTokens();
      emulator.dropWebSockets();
      await waitFor(() => emulator.webSocketConnections.filter((connection) => connection.status === 101).length === 3, 10000);

      const seen = JSON.stringify({ out, statuses, log: logText() });
      assert.ok(emulator.issuedTokens.length >= 3);
      for (const token of emulator.issuedTokens) {
        assert.ok(!seen.includes(token), "access token leaked");
      }
      assert.ok(!seen.includes(CLIENT_SECRET), "client secret leaked");
      assert.ok(!seen.includes(WEBHOOK_SECRET), "webhook secret token leaked");
    });

    it("closes the socket on close", async () => {
      await helper.load([accountNode, presenceInNode], flow(emulator, { source: "websocket" }), credentials);
      await waitFor(() => emulator.openWebSockets() === 1);

      await helper.unload();
      await waitFor(() => emulator.openWebSockets() === 0);
      assert.equal(presencePolls.size, 0);
    });
  });
});

describe("zoom-presence toggle and confirm", function () {
  let emulator: ZoomEmulator;
  let server: { url: string; close(): Promise<void> } | undefined;

  beforeEach(async () => {
    clearTokenCache();
    lastKnownStatuses.clear();
    emulator = await ZoomEmulator.start({ presenceWindowMs: 1000, users: [{ id: "u1", email: "desk@example.com" }] });
  });

  afterEach(async () => {
    await helper.unload();
    await server?.close();
    server = undefined;
    await emulator.close();
  });

  const presence = (overrides: Record<string, unknown> = {}) => ({
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
    confirm: false,
    wires: [["set"]],
    ...overrides,
  });

  it("toggles from a read when no status is known", async function () {
    this.timeout(10000);
    await helper.load([accountNode, presenceNode], [flow(emulator)[0], flow(emulator)[1], presence(), { id: "set", type: "helper", z: "tab" }], credentials);
    const set = collect("set");

    helper.getNode("presence").receive({ payload: "toggle" });
    await waitFor(() => set.length === 1);
    helper.getNode("presence").receive({ payload: "Toggle" });
    await waitFor(() => set.length === 2, 5000);

    assert.deepEqual(emulator.requestsFor("presence.get").map((get) => get.path), ["/v2/users/u1/presence_status"]);
    assert.deepEqual(emulator.requestsFor("presence.put").map((put) => put.rawBody), ['{"status":"Do_Not_Disturb","duration":20}', '{"status":"Available"}']);
    assert.deepEqual(set.map((msg) => msg.payload), ["Do_Not_Disturb", "Available"]);
  });

  it("toggles from the status zoom-presence-in received", async () => {
    const nodes = [...flow(emulator, { source: "webhook" }), presence(), { id: "set", type: "helper", z: "tab" }];
    await helper.load([accountNode, presenceInNode, presenceNode, captureHttpNode], nodes, credentials);
    server = await serveHttpNode();
    const out = collect("out");
    const set = collect("set");
    await waitFor(() => out.length === 1);

    await emulator.sendWebhook(`${server.url}${WEBHOOK_PATH}`, emulator.presenceEvent("u1", { status: "Do_Not_Disturb" }), { secretToken: WEBHOOK_SECRET });
    await waitFor(() => out.length === 2);
    helper.getNode("presence").receive({ payload: { status: "toggle", duration: 15 } });
    await waitFor(() => set.length === 1);

    assert.equal(emulator.requestsFor("presence.get").length, 1, "only zoom-presence-in's read on deploy");
    assert.deepEqual(emulator.requestsFor("presence.put").map((put) => put.rawBody), ['{"status":"Available"}']);
  });

  it("warns when Zoom did not apply an update", async () => {
    emulator.setWebClientOnly("u1", true);
    await helper.load([accountNode, presenceNode], [flow(emulator)[0], flow(emulator)[1], presence({ confirm: true }), { id: "set", type: "helper", z: "tab" }], credentials);
    const set = collect("set");

    helper.getNode("presence").receive({ payload: "dnd" });
    await waitFor(() => set.length === 1 && /Zoom still reports/.test(logText()));

    assert.match(logText(), /Zoom still reports Available for user u1 after setting Do_Not_Disturb \(the user may be signed in only on the web client\)/);
    assert.deepEqual(emulator.requests.map((request) => `${request.method} ${request.route} ${request.statusCode}`), ["POST token 200", "PUT presence.put 204", "GET presence.get 200"]);
    assert.equal(lastKnownStatuses.get(emulatorAccountKey(emulator), "u1")?.status, "Available");
  });

  it("reads back without a warning when Zoom applied the update", async () => {
    await helper.load([accountNode, presenceNode], [flow(emulator)[0], flow(emulator)[1], presence({ confirm: true }), { id: "set", type: "helper", z: "tab" }], credentials);
    const set = collect("set");

    helper.getNode("presence").receive({ payload: "away" });
    await waitFor(() => set.length === 1 && emulator.requestsFor("presence.get").length === 1 && emulator.requestsFor("presence.get")[0].statusCode === 200);
    await new Promise((resolve) => setTimeout(resolve, 100));

    assert.doesNotMatch(logText(), /Zoom still reports/);
    assert.equal(lastKnownStatuses.get(emulatorAccountKey(emulator), "u1")?.status, "Away");
  });
});

/** Returns the account key the nodes use for the emulator's default account. */
function emulatorAccountKey(emulator: ZoomEmulator): string {
  return `${new URL(emulator.apiBaseUrl).host}\nemu-account`;
}
