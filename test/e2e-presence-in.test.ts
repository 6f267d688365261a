// End to end: the on-air light example with zoom-presence-in, installed from the npm tarball into a
// real Node-RED, with an MQTT broker, a light client and the Zoom emulator, for each of the three
// sources. An extra MQTT out node publishes each status the node outputs, next to the light.
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { loadExample } from "./support/examples";
import { connectMqtt, recordMessages, startBroker, startRuntime, withCredentials } from "./support/runtime";
import type { Broker, FlowCredentials, FlowNode, MessageRecorder, Runtime } from "./support/runtime";
import { waitUntil } from "./support/wait";

const LIGHT_TOPIC = "cmnd/onair/POWER";
const STATUS_TOPIC = "e2e/zoom/status";
const WEBHOOK_PATH = "/zoom/presence";
const SETUP_TIMEOUT_MS = 180000;
const USER_ID = "KDcuGIm1QgePTO8WbOqwIQ";

describe("on-air light follows Zoom, end to end", function () {
  this.timeout(SETUP_TIMEOUT_MS);

  const account = {
    accountId: "e2e-in-account",
    clientId: "e2e-in-client",
    clientSecret: "e2e-in-secret-" + Math.random().toString(36).slice(2),
  };
  const webhookSecretToken = "e2e-webhook-secret-" + Math.random().toString(36).slice(2);

  let broker: Broker;
  let emulator: ZoomEmulator;
  let runtime: Runtime;
  let mqttClient: MqttClient;
  let light: MessageRecorder;
  let status: MessageRecorder;

  before(async () => {
    broker = await startBroker();
    emulator = await ZoomEmulator.start({ accounts: [account], users: [{ id: USER_ID, email: "desk@example.com" }] });
    runtime = await startRuntime();
    mqttClient = await connectMqtt(broker.url, "e2e-in-observer");
    light = await recordMessages(mqttClient, LIGHT_TOPIC);
    status = await recordMessages(mqttClient, STATUS_TOPIC);
  });

  after(async () => {
    await runtime?.stop();
    await mqttClient?.endAsync();
    await emulator?.close();
    await broker?.close();
  });

  /** Returns the example flow for one source, pointed at the test broker and emulator. */
  function exampleFor(source: "poll" | "webhook" | "websocket"): { flows: FlowNode[]; credentials: FlowCredentials } {
    const credentials: FlowCredentials = {};
    const flows = loadExample("on-air-light-follows-zoom.json").map((node): FlowNode => {
      switch (node.type) {
        case "mqtt-broker":
          return { ...node, port: String(broker.port) };
        case "zoom-account":
          credentials[node.id] = { ...account, webhookSecretToken };
          return { ...node, apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl, wsSubscriptionId: "emu-subscription" };
        case "zoom-presence-in":
          // Only changes, so that each step of a test expects exactly one message.
          return { ...node, userId: USER_ID, source, interval: 10, path: WEBHOOK_PATH, emit: "change", wires: [[...(node.wires as string[][])[0], "e2e-status-out"]] };
        default:
          return node;
      }
    });
    const brokerId = flows.find((node) => node.type === "mqtt-broker")?.id as string;
    flows.push({ id: "e2e-status-out", type: "mqtt out", z: flows[0].id, name: "", topic: STATUS_TOPIC, qos: "1", retain: "false", broker: brokerId, wires: [] });
    return { flows, credentials };
  }

  /**
   * Deploys the example for a source and waits for its first status and light message. An MQTT out
   * node drops messages until its broker has connected, so the flow is deployed with the
   * zoom-presence-in node disabled first, and the node is enabled once the broker is connected.
   */
  async function deploy(source: "poll" | "webhook" | "websocket", expected: string, expectedLight: string): Promise<void> {
    const [statusBefore, lightBefore, logsBefore] = [status.messages.length, light.messages.length, runtime.logs.length];
    const { flows, credentials } = exampleFor(source);
    const disabled = flows.map((node) => (node.type === "zoom-presence-in" ? { ...node, d: true } : node));
    await runtime.deploy(withCredentials(disabled, credentials));
    await waitUntil("the broker connection", () => (runtime.logs.slice(logsBefore).some((line) => line.includes("Connected to broker")) ? true : undefined));
    await runtime.deploy(flows, "nodes");

    await status.waitForCount(statusBefore + 1, 30000);
    await light.waitForCount(lightBefore + 1, 30000);
    assert.equal(status.messages[statusBefore].payload, expected, `first status after deploying the ${source} flow`);
    assert.equal(light.messages[lightBefore].payload, expectedLight, `first light message after deploying the ${source} flow`);
  }

  /** Waits for the next status and light messages after the given counts. */
  async function next(statusCount: number, lightCount: number, timeoutMs = 10000): Promise<[string, string]> {
    await status.waitForCount(statusCount + 1, timeoutMs);
    await light.waitForCount(lightCount + 1, timeoutMs);
    return [status.messages[statusCount].payload, light.messages[lightCount].payload];
  }

  it("poll shows a meeting within one interval", async () => {
    emulator.setStatus(USER_ID, "Available");
    await deploy("poll", "Available", "OFF");
    const [statusCount, lightCount] = [status.messages.length, light.messages.length];
    const getsBefore = emulator.requestsFor("presence.get").length;

    emulator.setLiveSpellings(true);
    emulator.setStatus(USER_ID, "In_A_Zoom_Meeting");
    const [shown, power] = await next(statusCount, lightCount, 15000);

    assert.equal(shown, "In_A_Zoom_Meeting");
    assert.equal(power, "ON");
    const gets = emulator.requestsFor("presence.get").slice(getsBefore);
    assert.equal(gets.length, 1, "one poll after the change");
    assert.equal(gets[0].path, `/v2/users/${USER_ID}/presence_status`);
    assert.equal(gets[0].statusCode, 200);
    emulator.setLiveSpellings(false);
  });

  it("webhook turns the light on and rejects a forged event", async () => {
    emulator.setStatus(USER_ID, "Available");
    await deploy("webhook", "Available", "OFF");
    const url = `${runtime.url}${WEBHOOK_PATH.slice(1)}`;
    let [statusCount, lightCount] = [status.messages.length, light.messages.length];

    const signed = await emulator.sendWebhook(url, emulator.presenceEvent(USER_ID, { status: "In_A_Zoom_Meeting" }), { secretToken: webhookSecretToken });
    assert.equal(signed.statusCode, 204);
    assert.deepEqual(await next(statusCount, lightCount), ["In_A_Zoom_Meeting", "ON"]);
    [statusCount, lightCount] = [status.messages.length, light.messages.length];

    const forged = await emulator.sendWebhook(url, emulator.presenceEvent(USER_ID, { status: "Available" }), { secretToken: webhookSecretToken, badSignature: true });
    assert.equal(forged.statusCode, 401);
    // A signed event after the forged one: had the forged one been accepted, Available would come first.
    const marker = await emulator.sendWebhook(url, emulator.presenceEvent(USER_ID, { status: "Do_Not_Disturb" }), { secretToken: webhookSecretToken });
    assert.equal(marker.statusCode, 204);

    assert.deepEqual(await next(statusCount, lightCount), ["Do_Not_Disturb", "ON"]);
    assert.ok(runtime.logs.some((line) => line.includes("Rejected a webhook request with HTTP 401")), "the rejection is logged");
  });

  it("websocket picks up a change made while it was down", async () => {
    emulator.setStatus(USER_ID, "Available");
    const connectionsBefore = emulator.webSocketConnections.length;
    await deploy("websocket", "Available", "OFF");
    await waitUntil("the WebSocket connection", () => (emulator.openWebSockets() === 1 ? true : undefined));
    let [statusCount, lightCount] = [status.messages.length, light.messages.length];

    emulator.setStatus(USER_ID, "In_A_Zoom_Meeting", undefined, { emitEvent: true });
    assert.deepEqual(await next(statusCount, lightCount), ["In_A_Zoom_Meeting", "ON"]);
    [statusCount, lightCount] = [status.messages.length, light.messages.length];

    emulator.dropWebSockets();
    emulator.setStatus(USER_ID, "Available");
    assert.deepEqual(await next(statusCount, lightCount), ["Available", "OFF"]);

    const connections = emulator.webSocketConnections.slice(connectionsBefore);
    assert.equal(connections.length, 2, "one connection and one reconnect");
    assert.deepEqual(connections.map((connection) => [connection.subscriptionId, connection.status]), [["emu-subscription", 101], ["emu-subscription", 101]]);
    assert.notEqual(connections[0].accessToken, connections[1].accessToken);
  });

  it("keeps secrets and tokens out of the logs and flow files", async () => {
    const secrets = [account.clientSecret, webhookSecretToken, ...emulator.issuedTokens];
    assert.ok(emulator.issuedTokens.length >= 2, "the emulator issued fewer tokens than the tests needed");

    const flowsText = JSON.stringify(runtime.readFlowsFile());
    for (const secret of secrets) {
      const line = runtime.logs.find((logLine) => logLine.includes(secret));
      assert.equal(line, undefined, `a Node-RED log line contains a secret of length ${secret.length}`);
      assert.ok(!flowsText.includes(secret), `flows.json contains a secret of length ${secret.length}`);
    }
    assert.ok(!(runtime.readCredentialsFile() ?? "").includes(webhookSecretToken), "flows_cred.json holds the webhook secret token in clear");
  });
});
