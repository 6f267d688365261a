// Runs the demo behind `npm start`: an MQTT broker, a Zoom emulator and Node-RED with this package and
// both example flows deployed, all on 127.0.0.1. Ctrl-C stops everything.
//
// Environment:
//   PORT                 Node-RED editor port (default 1880)
//   MQTT_PORT            MQTT broker port (default 1883). The examples' broker nodes are changed to match.
//   NR_LOG_LEVEL         Node-RED log level (default info)
//   ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET
//                        when all three are set, the flows use the real zoom.us cloud with these
//                        Server-to-Server OAuth credentials instead of the emulator
//   ZOOM_USER_ID         the Zoom user id or email to set presence for (required with the real cloud)
//
// The demo's user directory is .node-red-demo/ in the repository. Its flows are replaced by the
// examples on every start, so edits made in the editor last until the next start.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { Aedes } from "aedes";
import { DEFAULT_ACCOUNT, DEFAULT_USER, ZoomEmulator } from "../emulator/zoom-emulator";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const PACKAGE_NAME = "node-red-contrib-zoom-presence";
const USER_DIR = path.join(REPO_ROOT, ".node-red-demo");
const NR_HOST_SCRIPT = path.join(__dirname, "nr-host.js");
const EXAMPLES_DIR = path.join(REPO_ROOT, "examples");

const BUTTON_TOPIC = "zigbee2mqtt/desk-button";
const LIGHT_TOPIC = "cmnd/onair/POWER";

interface FlowNode {
  id: string;
  type: string;
  [property: string]: unknown;
}

/** Zoom endpoints and credentials for the flows. */
interface ZoomTarget {
  description: string;
  cloud: "zoom.us" | "custom";
  apiBaseUrl: string;
  oauthBaseUrl: string;
  credentials: { accountId: string; clientId: string; clientSecret: string };
  userId: string;
}

function readPort(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") {
    return fallback;
  }
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`Invalid ${name} "${text}": expected a port number from 1 to 65535.`);
  }
  return port;
}

async function startBroker(port: number): Promise<{ close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`MQTT broker could not listen on 127.0.0.1:${port}: ${err.message}`)));
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Uses the real zoom.us cloud when its credentials are in the environment, else starts the emulator. */
async function startZoom(): Promise<{ target: ZoomTarget; emulator?: ZoomEmulator }> {
  const { ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, ZOOM_USER_ID } = process.env;

  if (ZOOM_ACCOUNT_ID && ZOOM_CLIENT_ID && ZOOM_CLIENT_SECRET) {
    if (!ZOOM_USER_ID) {
      throw new Error("Missing ZOOM_USER_ID: a Server-to-Server app needs the user's Zoom user id or email, not \"me\".");
    }
    const target: ZoomTarget = {
      description: `zoom.us, account ${ZOOM_ACCOUNT_ID}`,
      cloud: "zoom.us",
      apiBaseUrl: "",
      oauthBaseUrl: "",
      credentials: { accountId: ZOOM_ACCOUNT_ID, clientId: ZOOM_CLIENT_ID, clientSecret: ZOOM_CLIENT_SECRET },
      userId: ZOOM_USER_ID,
    };
    return { target };
  }

  const emulator = await ZoomEmulator.start();
  const target: ZoomTarget = {
    description: `emulator at ${emulator.baseUrl} (account ${DEFAULT_ACCOUNT.accountId}, user ${DEFAULT_USER.email})`,
    cloud: "custom",
    apiBaseUrl: emulator.apiBaseUrl,
    oauthBaseUrl: emulator.oauthBaseUrl,
    credentials: { ...DEFAULT_ACCOUNT },
    userId: DEFAULT_USER.email,
  };
  return { target, emulator };
}

/** Prints each request once the emulator has responded, without headers, so that no credential is shown. */
function logEmulatorRequests(emulator: ZoomEmulator): NodeJS.Timeout {
  let printed = 0;
  return setInterval(() => {
    const answered = emulator.requests.filter((request) => request.statusCode !== 0);
    for (const request of answered.slice(printed)) {
      const body = request.route === "presence.put" ? ` ${request.rawBody}` : "";
      console.log(`[zoom emulator] ${request.method} ${request.path}${body} -> ${request.statusCode}`);
    }
    printed = answered.length;
  }, 250);
}

/** Makes a fresh user directory that loads this package from the repository through a symlink. */
function prepareUserDir(): void {
  fs.mkdirSync(path.join(USER_DIR, "node_modules"), { recursive: true });

  const manifest = path.join(USER_DIR, "package.json");
  if (!fs.existsSync(manifest)) {
    const content = { name: "node-red-demo", description: "Node-RED user directory for npm start", private: true };
    fs.writeFileSync(manifest, JSON.stringify(content, null, 2) + "\n");
  }

  const link = path.join(USER_DIR, "node_modules", PACKAGE_NAME);
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(REPO_ROOT, link, "dir");

  // The flows and their credentials are deployed again below, encrypted with this run's key.
  fs.writeFileSync(path.join(USER_DIR, "flows.json"), "[]\n");
  fs.rmSync(path.join(USER_DIR, "flows_cred.json"), { force: true });
}

/** Loads every example and points its broker and Zoom account nodes at this demo. */
function buildFlows(mqttPort: number, zoom: ZoomTarget): FlowNode[] {
  const files = fs.readdirSync(EXAMPLES_DIR).filter((file) => file.endsWith(".json")).sort();
  const flows = files.flatMap((file) => JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), "utf8")) as FlowNode[]);

  return flows.map((node) => {
    switch (node.type) {
      case "mqtt-broker":
        return { ...node, name: `Demo broker (127.0.0.1:${mqttPort})`, broker: "127.0.0.1", port: String(mqttPort) };
      case "zoom-account":
        return {
          ...node,
          name: zoom.cloud === "custom" ? node.name : "Zoom (zoom.us)",
          cloud: zoom.cloud,
          apiBaseUrl: zoom.apiBaseUrl,
          oauthBaseUrl: zoom.oauthBaseUrl,
          credentials: { ...zoom.credentials },
        };
      case "zoom-presence":
      case "zoom-presence-in":
        return { ...node, userId: zoom.userId, userIdType: "str" };
      default:
        return node;
    }
  });
}

async function deploy(editorUrl: string, flows: FlowNode[]): Promise<void> {
  const response = await fetch(`${editorUrl}flows`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Node-RED-API-Version": "v1",
      "Node-RED-Deployment-Type": "full",
    },
    body: JSON.stringify(flows),
  });
  if (!response.ok) {
    throw new Error(`Deploying the example flows failed: POST /flows returned ${response.status} ${await response.text()}`);
  }
}

/** Passes the nr-host log through and resolves with its port once the admin API accepts requests. */
function startNodeRed(port: number, child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (!line.startsWith('{"event":')) {
        console.log(line);
        return;
      }
      const event = JSON.parse(line) as { event: string; port?: number };
      if (event.event === "listening" && event.port !== undefined) {
        resolve(event.port);
      }
    });
    child.once("exit", (code) => reject(new Error(`Node-RED exited with code ${code} before listening on port ${port}.`)));
  });
}

function printInstructions(editorUrl: string, mqttPort: number, zoom: ZoomTarget): void {
  const mqtt = `npx mqtt pub -h 127.0.0.1 -p ${mqttPort} -t ${BUTTON_TOPIC}`;
  console.log(
    [
      "",
      "Demo running:",
      `  Node-RED editor  ${editorUrl}`,
      `  MQTT broker      mqtt://127.0.0.1:${mqttPort}`,
      `  Zoom             ${zoom.description}`,
      "",
      "Press the desk button once (Do Not Disturb for 30 minutes):",
      `  ${mqtt} -m '{"action":"single"}'`,
      "Press it twice (Available):",
      `  ${mqtt} -m '{"action":"double"}'`,
      "Watch the on-air light:",
      `  npx mqtt sub -h 127.0.0.1 -p ${mqttPort} -t ${LIGHT_TOPIC} -v`,
      "",
      "Zoom accepts one presence update per user per minute: a second press inside that minute is sent when it is over.",
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
}

async function main(): Promise<void> {
  const editorPort = readPort("PORT", 1880);
  const mqttPort = readPort("MQTT_PORT", 1883);

  const broker = await startBroker(mqttPort);
  const { target: zoom, emulator } = await startZoom();
  const emulatorLog = emulator ? logEmulatorRequests(emulator) : undefined;
  prepareUserDir();

  const child = spawn(process.execPath, [NR_HOST_SCRIPT, "--user-dir", USER_DIR, "--port", String(editorPort)], {
    env: { ...process.env, NR_CREDENTIAL_SECRET: randomBytes(24).toString("hex") },
    stdio: ["ignore", "pipe", "inherit"],
  });

  let stopping = false;
  const stopAll = async (exitCode: number) => {
    if (stopping) {
      return;
    }
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    if (emulatorLog) {
      clearInterval(emulatorLog);
    }
    await emulator?.close();
    await broker.close();
    process.exit(exitCode);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));
  child.on("exit", (code) => {
    if (!stopping) {
      console.error(`Node-RED exited with code ${code}; stopping the demo.`);
      void stopAll(code ?? 1);
    }
  });

  try {
    const port = await startNodeRed(editorPort, child);
    const editorUrl = `http://127.0.0.1:${port}/`;
    await deploy(editorUrl, buildFlows(mqttPort, zoom));
    printInstructions(editorUrl, mqttPort, zoom);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await stopAll(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
