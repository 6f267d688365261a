// The example flows in examples/, which Node-RED lists under Import > Examples: their shape, and a
// deployment of all of them in a real Node-RED with the package installed from its tarball.
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { exampleFiles, loadExample, pointAtTestServers } from "./support/examples";
import { connectMqtt, recordMessages, startBroker, startRuntime, withCredentials } from "./support/runtime";
import type { Broker, FlowNode, Runtime } from "./support/runtime";
import { waitUntil } from "./support/wait";

const SETUP_TIMEOUT_MS = 180000;

// Flow structure types that Node-RED handles itself and does not list as registered node types.
const STRUCTURE_TYPES = new Set(["tab", "group", "junction"]);

// Properties that hold the id of a config node, per node type.
const CONFIG_REFERENCES: Record<string, string[]> = {
  "mqtt in": ["broker"],
  "mqtt out": ["broker"],
  "mqtt-broker": ["tls"],
  "zoom-presence": ["account"],
  "zoom-presence-in": ["account"],
};

// Credential names of the nodes the examples use; none of them may appear in a flow file.
const CREDENTIAL_NAMES = ["credentials", "accountId", "clientId", "clientSecret", "accessToken", "user", "password"];

const ACCOUNT = { accountId: "examples-account", clientId: "examples-client", clientSecret: "examples-secret" };

describe("example flows", function () {
  this.timeout(SETUP_TIMEOUT_MS);

  const files = exampleFiles();
  let broker: Broker;
  let emulator: ZoomEmulator;
  let runtime: Runtime;
  let registeredTypes: Set<string>;

  before(async () => {
    broker = await startBroker();
    emulator = await ZoomEmulator.start({ accounts: [ACCOUNT] });
    runtime = await startRuntime();
    registeredTypes = new Set(await runtime.getNodeTypes());
  });

  after(async () => {
    await runtime?.stop();
    await emulator?.close();
    await broker?.close();
  });

  it("include the desk button and on-air light examples", () => {
    assert.deepEqual(files, ["desk-button-sets-presence.json", "on-air-light-follows-zoom.json", "on-air-light-shows-presence.json"]);
  });

  for (const file of files) {
    describe(file, () => {
      it("is an array of nodes with ids and types", () => {
        const flows: unknown = loadExample(file);

        assert.ok(Array.isArray(flows), "the file is not a JSON array");
        for (const node of flows as FlowNode[]) {
          assert.equal(typeof node.id, "string", `a node has no id: ${JSON.stringify(node)}`);
          assert.equal(typeof node.type, "string", `node ${node.id} has no type`);
        }
      });

      it("uses only core and zoom node types", () => {
        const unknownTypes = loadExample(file)
          .map((node) => node.type)
          .filter((type) => !STRUCTURE_TYPES.has(type) && !registeredTypes.has(type));

        assert.deepEqual(unknownTypes, []);
        assert.ok(registeredTypes.has("zoom-presence"), "the zoom-presence node type is not registered");
      });

      it("has a comment node that explains it", () => {
        const comments = loadExample(file).filter((node) => node.type === "comment");

        assert.equal(comments.length, 1);
        assert.ok(String(comments[0].name).length > 0, "the comment node has no name");
        assert.match(String(comments[0].info), /For real devices/);
        assert.match(String(comments[0].info), /not `me`/);
      });

      it("references only nodes it contains", () => {
        const flows = loadExample(file);
        const ids = new Set(flows.map((node) => node.id));
        const missing: string[] = [];
        const check = (from: string, id: unknown) => {
          if (typeof id === "string" && id !== "" && !ids.has(id)) {
            missing.push(`${from} -> ${id}`);
          }
        };

        for (const node of flows) {
          check(`${node.id}.z`, node.z);
          for (const property of CONFIG_REFERENCES[node.type] ?? []) {
            check(`${node.id}.${property}`, node[property]);
          }
          for (const target of ((node.wires as string[][] | undefined) ?? []).flat()) {
            check(`${node.id}.wires`, target);
          }
          for (const target of (node.scope as string[] | null | undefined) ?? []) {
            check(`${node.id}.scope`, target);
          }
        }
        assert.deepEqual(missing, []);
      });

      it("carries no credentials", () => {
        const found: string[] = [];
        for (const node of loadExample(file)) {
          for (const name of CREDENTIAL_NAMES) {
            if (name in node) {
              found.push(`${node.id}.${name}`);
            }
          }
        }
        assert.deepEqual(found, []);
      });
    });
  }

  it("are listed under Import > Examples from the installed package", async () => {
    const base = `${runtime.url}library/examples/flows/node-red-contrib-zoom-presence/`;
    const listing = (await (await fetch(base)).json()) as { fn: string }[];

    assert.deepEqual(listing.map((entry) => entry.fn).sort(), files.map((file) => file.replace(/\.json$/, "")));
    for (const file of files) {
      const served: unknown = await (await fetch(base + file.replace(/\.json$/, ""))).json();
      assert.deepEqual(served, loadExample(file), `${file} as served differs from examples/${file}`);
    }
  });

  it("use node ids unique across all examples", () => {
    const ids = files.flatMap((file) => loadExample(file).map((node) => node.id));
    const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index);

    assert.deepEqual(duplicates, []);
  });

  describe("deployed together", () => {
    let light: MqttClient;
    let deployedIds: string[];
    let logsBeforeDeploy: number;

    before(async () => {
      light = await connectMqtt(broker.url, "examples-light");
      const { flows, credentials } = pointAtTestServers(
        files.flatMap((file) => loadExample(file)),
        {
          brokerPort: broker.port,
          apiBaseUrl: emulator.apiBaseUrl,
          oauthBaseUrl: emulator.oauthBaseUrl,
          credentials: ACCOUNT,
        },
      );
      deployedIds = flows.map((node) => node.id).sort();
      logsBeforeDeploy = runtime.logs.length;

      await runtime.deploy(withCredentials(flows, credentials));
    });

    after(async () => {
      await light?.endAsync();
    });

    it("start without errors or warnings", async () => {
      const brokerNodes = deployedIds.filter((id) => id.endsWith("-broker"));
      await broker.waitForSubscription("zigbee2mqtt/desk-button");
      await waitUntil("every broker node to connect", () => {
        const connected = runtime.logs.slice(logsBeforeDeploy).filter((line) => line.includes("Connected to broker"));
        return connected.length >= brokerNodes.length ? connected : undefined;
      });

      const deployed = (await runtime.getFlows()).map((node) => node.id).sort();
      const problems = runtime.logs.slice(logsBeforeDeploy).filter((line) => /\[(error|warn)\]/.test(line));
      assert.deepEqual(deployed, deployedIds);
      assert.deepEqual(problems, []);
    });

    it("on-air light example sets presence from its inject node", async () => {
      const lightMessages = await recordMessages(light, "cmnd/onair/POWER");
      const response = await fetch(`${runtime.url}inject/onair-light-inject-dnd`, { method: "POST" });
      assert.equal(response.status, 200);

      // The follows-zoom example drives the same light topic with what it reads from Zoom, so its
      // messages can come first. The update's result is the first "ON".
      const on = await waitUntil("an ON message on the light topic", () => lightMessages.messages.find((message) => message.payload === "ON"));
      const puts = emulator.requestsFor("presence.put");

      assert.equal(on.topic, "cmnd/onair/POWER");
      assert.equal(puts.length, 1);
      assert.equal(puts[0].path, "/v2/users/desk%40example.com/presence_status");
      assert.deepEqual(puts[0].body, { status: "Do_Not_Disturb", duration: 20 });
      assert.equal(puts[0].statusCode, 204);
    });
  });
});
