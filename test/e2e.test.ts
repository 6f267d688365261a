// End to end: the package installed from its npm tarball into a real Node-RED, an MQTT broker with
// a button client and a light client, and the Zoom emulator.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { loadExample, pointAtTestServers } from "./support/examples";
import { REPO_ROOT, connectMqtt, recordMessages, startBroker, startRuntime } from "./support/runtime";
import type { Broker, FlowNode, MessageRecorder, Runtime } from "./support/runtime";
import { sleepUntil, waitUntil } from "./support/wait";

const BUTTON_TOPIC = "zigbee2mqtt/desk-button";
const LIGHT_TOPIC = "cmnd/onair/POWER";
const SETUP_TIMEOUT_MS = 180000;

describe("runtime harness", function () {
  this.timeout(SETUP_TIMEOUT_MS);

  let broker: Broker;
  let runtime: Runtime | undefined;
  let light: MqttClient;

  before(async () => {
    broker = await startBroker();
    light = await connectMqtt(broker.url, "harness-light");
  });

  after(async () => {
    await runtime?.stop();
    await light.endAsync();
    await broker.close();
  });

  it("runs a plain flow that publishes", async () => {
    const recorder = await recordMessages(light, "harness/out");
    const flows: FlowNode[] = [
      { id: "harness-tab", type: "tab", label: "Harness" },
      { id: "harness-broker", type: "mqtt-broker", broker: "127.0.0.1", port: String(broker.port), clientid: "", protocolVersion: "4", keepalive: "60", cleansession: true },
      { id: "harness-inject", type: "inject", z: "harness-tab", props: [{ p: "payload" }], payload: "hello", payloadType: "str", once: true, onceDelay: 0.1, wires: [["harness-out"]] },
      { id: "harness-out", type: "mqtt out", z: "harness-tab", topic: "harness/out", qos: "1", retain: "false", broker: "harness-broker", wires: [] },
    ];

    runtime = await startRuntime({ flows });
    const messages = await recorder.waitForCount(1);

    assert.deepEqual(messages, [{ topic: "harness/out", payload: "hello", retain: false }]);
    assert.deepEqual((await runtime.getFlows()).map((node) => node.id).sort(), flows.map((node) => node.id).sort());
  });

  it("loads the package from the tarball install", async () => {
    const zoomSets = (await runtime!.getNodeSets()).filter((nodeSet) => nodeSet.module === "node-red-contrib-zoom-presence");
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

    assert.deepEqual(zoomSets.map((nodeSet) => nodeSet.types).flat().sort(), ["zoom-account", "zoom-presence", "zoom-presence-in"]);
    for (const nodeSet of zoomSets) {
      assert.equal(nodeSet.local, true, `${nodeSet.id} was not loaded from the user directory`);
      assert.equal(nodeSet.version, version);
      assert.equal(nodeSet.enabled, true);
      assert.equal(nodeSet.err, undefined);
    }
  });

  it("serves the editor HTML of both node types", async () => {
    for (const type of ["zoom-account", "zoom-presence", "zoom-presence-in"]) {
      const html = await runtime!.getNodeSetHtml(`node-red-contrib-zoom-presence/${type}`);
      assert.match(html, new RegExp(`RED\\.nodes\\.registerType\\(\\s*["']${type}["']`), `${type} has no editor definition`);
    }
  });
});

describe("desk button example, end to end", function () {
  this.timeout(SETUP_TIMEOUT_MS);

  // Short enough for a test, and the same in the node and the emulator so that an update the node
  // sends when its window opens is one the emulator accepts.
  const MIN_INTERVAL_SECONDS = 2;
  const USER_ID = "KDcuGIm1QgePTO8WbOqwIQ";
  const ACCOUNT = {
    accountId: "e2e-account",
    clientId: "e2e-client-id",
    clientSecret: "e2e-secret-" + Math.random().toString(36).slice(2),
  };

  let broker: Broker;
  let emulator: ZoomEmulator;
  let runtime: Runtime;
  let button: MqttClient;
  let light: MqttClient;
  let lightMessages: MessageRecorder;

  const presencePuts = () => emulator.requestsFor("presence.put");
  const press = (action: string) => button.publishAsync(BUTTON_TOPIC, JSON.stringify({ action }), { qos: 1 });

  before(async () => {
    broker = await startBroker();
    emulator = await ZoomEmulator.start({
      accounts: [ACCOUNT],
      users: [{ id: USER_ID, email: "desk@example.com" }],
      presenceWindowMs: MIN_INTERVAL_SECONDS * 1000,
    });

    const { flows, credentials } = pointAtTestServers(loadExample("desk-button-sets-presence.json"), {
      brokerPort: broker.port,
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      credentials: ACCOUNT,
      userId: USER_ID,
      minIntervalSeconds: MIN_INTERVAL_SECONDS,
    });
    // Debug level, so that the check for secrets in the log covers the nodes' debug lines too.
    runtime = await startRuntime({ flows, credentials, env: { NR_LOG_LEVEL: "debug" } });

    button = await connectMqtt(broker.url, "e2e-button");
    light = await connectMqtt(broker.url, "e2e-light");
    lightMessages = await recordMessages(light, LIGHT_TOPIC);
    await broker.waitForSubscription(BUTTON_TOPIC);
  });

  after(async () => {
    await runtime?.stop();
    await button?.endAsync();
    await light?.endAsync();
    await emulator?.close();
    await broker?.close();
  });

  it("single press sets Do Not Disturb", async () => {
    await press("single");
    const [message] = await lightMessages.waitForCount(1);

    assert.deepEqual(message, { topic: LIGHT_TOPIC, payload: "ON", retain: false });

    const tokenRequests = emulator.requestsFor("token");
    assert.equal(tokenRequests.length, 1);
    const expectedBasic = "Basic " + Buffer.from(`${ACCOUNT.clientId}:${ACCOUNT.clientSecret}`).toString("base64");
    assert.equal(tokenRequests[0].headers.authorization, expectedBasic);
    assert.equal(tokenRequests[0].method, "POST");
    assert.equal(tokenRequests[0].path, "/oauth/token");
    // Zoom takes the grant in the query string or in a form body.
    const grant = { ...tokenRequests[0].query, ...(tokenRequests[0].body as Record<string, string> | undefined) };
    assert.equal(grant.grant_type, "account_credentials");
    assert.equal(grant.account_id, ACCOUNT.accountId);
    assert.equal(tokenRequests[0].statusCode, 200);

    const puts = presencePuts();
    assert.equal(puts.length, 1);
    assert.equal(puts[0].method, "PUT");
    assert.equal(puts[0].path, `/v2/users/${USER_ID}/presence_status`);
    assert.deepEqual(puts[0].body, { status: "Do_Not_Disturb", duration: 30 });
    assert.match(puts[0].contentType ?? "", /^application\/json/);
    assert.equal(puts[0].statusCode, 204);

    const issued = emulator.issuedTokens;
    assert.equal(issued.length, 1);
    assert.equal(puts[0].headers.authorization, `Bearer ${issued[0]}`);
    assert.equal(emulator.getStatus(USER_ID), "Do_Not_Disturb");
  });

  it("three presses in one window send the first and the last", async () => {
    const putCountBefore = presencePuts().length;
    const lightCountBefore = lightMessages.messages.length;
    // Start once the window of the previous test's update has passed, so the first press goes out at once.
    const previous = presencePuts().at(-1);
    if (previous) {
      await sleepUntil(previous.receivedAt + MIN_INTERVAL_SECONDS * 1000 + 500);
    }

    await press("single");
    await press("single");
    await press("double");

    const [immediate, delayed] = await waitUntil("two more presence updates", () => {
      const newPuts = presencePuts().slice(putCountBefore);
      return newPuts.length >= 2 ? newPuts : undefined;
    });
    await lightMessages.waitForCount(lightCountBefore + 2);
    // Wait one more window: an extra update (a third PUT) would arrive in it.
    await sleepUntil(delayed.receivedAt + MIN_INTERVAL_SECONDS * 1000 + 500);

    assert.equal(presencePuts().length, putCountBefore + 2);
    assert.deepEqual(immediate.body, { status: "Do_Not_Disturb", duration: 30 });
    assert.equal(immediate.statusCode, 204);
    assert.deepEqual(delayed.body, { status: "Available" });
    assert.equal(delayed.statusCode, 204);
    assert.equal(delayed.path, `/v2/users/${USER_ID}/presence_status`);
    assert.equal(emulator.getStatus(USER_ID), "Available");

    const lightPayloads = lightMessages.messages.slice(lightCountBefore).map((message) => message.payload);
    assert.deepEqual(lightPayloads, ["ON", "OFF"]);
  });

  it("keeps the secret and tokens out of files and logs", async () => {
    const secrets = [ACCOUNT.clientSecret, ...emulator.issuedTokens];
    assert.ok(emulator.issuedTokens.length > 0, "the emulator issued no token, so nothing was checked");

    const flowsText = JSON.stringify(runtime.readFlowsFile());
    const credentialsText = runtime.readCredentialsFile();
    const adminFlowsText = JSON.stringify(await runtime.getFlows());
    assert.ok(credentialsText !== undefined, "flows_cred.json was not written");
    // Encrypted credentials are stored as {"$": "<iv><ciphertext>"}.
    assert.deepEqual(Object.keys(JSON.parse(credentialsText)), ["$"]);

    for (const secret of [...secrets, ACCOUNT.clientId, ACCOUNT.accountId]) {
      assert.ok(!credentialsText.includes(secret), `flows_cred.json contains ${describeSecret(secret)} in clear`);
    }
    for (const secret of secrets) {
      assert.ok(!flowsText.includes(secret), `flows.json contains ${describeSecret(secret)}`);
      assert.ok(!adminFlowsText.includes(secret), `GET /flows returns ${describeSecret(secret)}`);
      const line = runtime.logs.find((logLine) => logLine.includes(secret));
      assert.equal(line, undefined, `a Node-RED log line contains ${describeSecret(secret)}`);
    }
  });

  function describeSecret(secret: string): string {
    return secret === ACCOUNT.clientSecret ? "the client secret" : `a value of length ${secret.length}`;
  }
});
