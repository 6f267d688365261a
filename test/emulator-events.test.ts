import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import WebSocket from "ws";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { waitFor } from "./support/poll";

interface Captured {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Starts a local server that records each request and responds 204. */
async function captureServer(): Promise<{ url: string; requests: Captured[]; close(): Promise<void> }> {
  const requests: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function hmac(secret: string, text: string): string {
  return createHmac("sha256", secret).update(text).digest("hex");
}

describe("Zoom emulator events", function () {
  let emulator: ZoomEmulator;
  const clients: WebSocket[] = [];

  beforeEach(async () => {
    emulator = await ZoomEmulator.start({ users: [{ id: "u1", email: "desk@example.com" }] });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) {
      client.terminate();
    }
    await emulator.close();
  });

  async function token(): Promise<string> {
    const response = await request(`${emulator.oauthBaseUrl}/oauth/token?grant_type=account_credentials&account_id=emu-account`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("emu-client:emu-secret").toString("base64")}` },
    });
    return ((await response.body.json()) as { access_token: string }).access_token;
  }

  /** Opens a client and collects its messages and its close code, or the status of a refused upgrade. */
  function open(query: string) {
    const client = new WebSocket(`ws://127.0.0.1:${new URL(emulator.baseUrl).port}/ws?${query}`);
    clients.push(client);
    const seen = { open: false, messages: [] as string[], closeCode: undefined as number | undefined, refused: undefined as number | undefined };
    client.on("open", () => (seen.open = true));
    client.on("message", (data) => seen.messages.push(data.toString()));
    client.on("close", (code) => (seen.closeCode = code));
    client.on("unexpected-response", (_req, res) => {
      seen.refused = res.statusCode;
      client.terminate();
    });
    client.on("error", () => undefined);
    return { client, seen };
  }

  describe("presence events", function () {
    it("spells the status as Zoom's events do", () => {
      const changedAt = Date.parse("2026-03-02T09:30:15.250Z");
      const event = emulator.presenceEvent("desk@example.com", { status: "In_A_Zoom_Meeting", changedAt, eventTs: changedAt + 100 });

      assert.deepEqual(event, {
        event: "user.presence_status_updated",
        event_ts: changedAt + 100,
        payload: { account_id: "emu-account", object: { date_time: "2026-03-02T09:30:15Z", email: "desk@example.com", id: "u1", presence_status: "In_Meeting" } },
      });
      const spelled = (status?: string) => (emulator.presenceEvent("u1", { status }).payload.object as { presence_status: string }).presence_status;
      assert.equal(spelled("On_A_Call"), "On_Phone_Call");
      assert.equal(spelled("In_A_Call"), "On_Phone_Call");
      assert.equal(spelled("Offline"), "Offline");
      assert.equal(spelled(undefined), "Available");
    });
  });

  describe("webhook sender", function () {
    it("signs compact JSON like Zoom", async () => {
      const target = await captureServer();
      try {
        const event = emulator.presenceEvent("u1", { status: "Away" });
        const response = await emulator.sendWebhook(target.url, event, { secretToken: "s3cret", timestamp: 1772445600 });

        const [received] = target.requests;
        assert.equal(response.statusCode, 204);
        assert.equal(received.body, JSON.stringify(event));
        assert.equal(received.headers["content-type"], "application/json");
        assert.equal(received.headers["x-zm-request-timestamp"], "1772445600");
        assert.equal(received.headers["x-zm-signature"], `v0=${hmac("s3cret", `v0:1772445600:${received.body}`)}`);
      } finally {
        await target.close();
      }
    });

    it("sends forged, tampered and unsigned requests on request", async () => {
      const target = await captureServer();
      try {
        const event = emulator.presenceEvent("u1", { status: "Away" });
        await emulator.sendWebhook(target.url, event, { secretToken: "s3cret", timestamp: 100, badSignature: true });
        await emulator.sendWebhook(target.url, event, { secretToken: "s3cret", timestamp: 100, bodyTransform: (body) => body.replace("Away", "Busy") });
        await emulator.sendWebhook(target.url, event, { secretToken: "s3cret", omitHeaders: ["x-zm-signature", "x-zm-request-timestamp"] });
        await emulator.sendWebhook(target.url, event, { secretToken: "s3cret", timestamp: 100, body: "{ }" });

        const [forged, tampered, unsigned, custom] = target.requests;
        assert.notEqual(forged.headers["x-zm-signature"], `v0=${hmac("s3cret", `v0:100:${forged.body}`)}`);
        assert.match(tampered.body, /"Busy"/);
        assert.equal(tampered.headers["x-zm-signature"], `v0=${hmac("s3cret", `v0:100:${JSON.stringify(event)}`)}`);
        assert.equal(unsigned.headers["x-zm-signature"], undefined);
        assert.equal(unsigned.headers["x-zm-request-timestamp"], undefined);
        assert.equal(custom.body, "{ }");
        assert.equal(custom.headers["x-zm-signature"], `v0=${hmac("s3cret", "v0:100:{ }")}`);
      } finally {
        await target.close();
      }
    });
  });

  describe("WebSocket endpoint", function () {
    it("answers heartbeats and pushes events", async () => {
      const { client, seen } = open(`subscriptionId=emu-subscription&access_token=${await token()}`);
      await waitFor(() => seen.open);

      client.send(JSON.stringify({ module: "heartbeat" }));
      await waitFor(() => seen.messages.length === 1);
      emulator.setStatus("u1", "Do_Not_Disturb");
      emulator.setStatus("u1", "In_A_Zoom_Meeting", undefined, { emitEvent: true });
      await waitFor(() => seen.messages.length === 2);

      assert.deepEqual(JSON.parse(seen.messages[0]), { module: "heartbeat", success: true });
      const message = JSON.parse(seen.messages[1]) as { module: string; success: boolean; content: string };
      assert.equal(message.module, "message");
      assert.equal(message.success, true);
      const event = JSON.parse(message.content) as { event: string; payload: { object: { id: string; presence_status: string } } };
      assert.equal(event.event, "user.presence_status_updated");
      assert.deepEqual([event.payload.object.id, event.payload.object.presence_status], ["u1", "In_Meeting"]);
      assert.equal(emulator.heartbeatsReceived, 1);
    });

    it("refuses an invalid token with 401", async () => {
      const { seen } = open("subscriptionId=emu-subscription&access_token=not-a-token");
      await waitFor(() => seen.refused !== undefined);

      assert.equal(seen.refused, 401);
      assert.deepEqual(emulator.webSocketConnections.map((connection) => connection.status), [401]);
    });

    it("refuses a revoked token with 401", async () => {
      const accessToken = await token();
      emulator.revokeTokens();
      const { seen } = open(`subscriptionId=emu-subscription&access_token=${accessToken}`);
      await waitFor(() => seen.refused !== undefined);

      assert.equal(seen.refused, 401);
    });

    it("closes a connection to another subscription", async () => {
      const { seen } = open(`subscriptionId=other&access_token=${await token()}`);
      await waitFor(() => seen.closeCode !== undefined);

      assert.equal(seen.closeCode, 1008);
      assert.equal(emulator.webSocketConnections[0].closeCode, 1008);
    });

    it("drops connections", async () => {
      const { seen } = open(`subscriptionId=emu-subscription&access_token=${await token()}`);
      await waitFor(() => seen.open && emulator.openWebSockets() === 1);

      emulator.dropWebSockets();
      await waitFor(() => seen.closeCode !== undefined);

      assert.equal(seen.closeCode, 1006);
      assert.equal(emulator.openWebSockets(), 0);
    });

    it("returns 404 for other upgrade paths", async () => {
      const client = new WebSocket(`ws://127.0.0.1:${new URL(emulator.baseUrl).port}/other`);
      clients.push(client);
      const status = await new Promise<number>((resolve) => {
        client.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        client.on("error", () => undefined);
      });

      assert.equal(status, 404);
    });
  });

  describe("web client only", function () {
    it("answers 204 without changing the status", async () => {
      emulator.setWebClientOnly("u1", true);
      const response = await request(`${emulator.apiBaseUrl}/users/u1/presence_status`, {
        method: "PUT",
        headers: { authorization: `Bearer ${await token()}`, "content-type": "application/json" },
        body: JSON.stringify({ status: "Do_Not_Disturb" }),
      });
      await response.body.dump();

      assert.equal(response.statusCode, 204);
      assert.equal(emulator.getStatus("u1"), "Available");
    });
  });
});
