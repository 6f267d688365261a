// Runs an embedded Node-RED runtime on the loopback interface, for the end-to-end tests and the demo.
//
//   node dist/scripts/nr-host.js --user-dir DIR [--port N]
//
// --port 0 (the default) picks a free port. Events for a parent process are JSON lines on stdout:
//   {"event":"listening","port":N}                once the admin API accepts requests
//   {"event":"flows-started"}                     each time the flows have started (start and deploy)
//   {"event":"flows-not-started","error":CODE,…}  when Node-RED stops short, e.g. "missing-types"
// Every other line on stdout and stderr is Node-RED's log.
//
// Environment:
//   NR_CREDENTIAL_SECRET  key that encrypts flows_cred.json (required)
//   NR_LOG_LEVEL          Node-RED console log level: fatal, error, warn, info (default), debug, trace
//   NR_HOST_DIAGNOSTICS   "1" adds GET /nr-host/diagnostics on the same loopback server, a JSON report
//                         for leak tests (see collectDiagnostics). Off by default. Run node with
//                         --expose-gc (NODE_OPTIONS=--expose-gc works) so that it can force a GC.
//
// The admin API has no authentication, which is why the server only listens on 127.0.0.1.
// SIGTERM or SIGINT stops the flows, closes the server and exits.
import type { EventEmitter } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import RED from "node-red";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "off"] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

// The settings type in @types/node-red predates Node-RED 4 and lacks keys such as diagnostics.
type Settings = Parameters<typeof RED.init>[1] & Record<string, unknown>;

interface HostOptions {
  userDir: string;
  port: number;
  credentialSecret: string;
  logLevel: LogLevel;
}

function readOptions(): HostOptions {
  const { values } = parseArgs({
    options: {
      "user-dir": { type: "string" },
      port: { type: "string", default: "0" },
    },
  });

  const userDir = values["user-dir"];
  if (!userDir) {
    throw new Error("Missing --user-dir: pass the Node-RED user directory to run in.");
  }

  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Invalid --port "${values.port}": expected an integer from 0 to 65535.`);
  }

  const credentialSecret = process.env.NR_CREDENTIAL_SECRET;
  if (!credentialSecret) {
    throw new Error("Missing NR_CREDENTIAL_SECRET: set it to the key that encrypts the flow credentials.");
  }

  const logLevel = (process.env.NR_LOG_LEVEL || "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`Invalid NR_LOG_LEVEL "${logLevel}": expected one of ${LOG_LEVELS.join(", ")}.`);
  }

  return { userDir, port, credentialSecret, logLevel };
}

// Settings that keep the runtime off the network: no telemetry or update check, no palette catalogue,
// no npm installs from the editor, the function node or missing-module recovery.
function buildSettings(options: HostOptions, port: number): Settings {
  return {
    uiHost: "127.0.0.1",
    uiPort: port,
    userDir: options.userDir,
    flowFile: "flows.json",
    credentialSecret: options.credentialSecret,
    httpAdminRoot: "/",
    httpNodeRoot: "/",
    logging: {
      console: { level: options.logLevel, metrics: false, audit: false },
    },
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    runtimeState: { enabled: false, ui: false },
    functionExternalModules: false,
    externalModules: {
      autoInstall: false,
      palette: { allowInstall: false, allowUpdate: false, allowUpload: false },
      modules: { allowInstall: false },
    },
    // No welcome tour: it covers the flow each time a new user directory opens the editor.
    editorTheme: {
      palette: { catalogues: [] },
      projects: { enabled: false },
      tours: false,
    } as Settings["editorTheme"],
  };
}

// Loads express from where node-red resolves it, so the host uses the same express that Node-RED's
// admin and node apps are built on, whether or not it is also a top-level dependency.
function loadExpress(): typeof import("express") {
  const nodeRedDir = path.dirname(require.resolve("node-red/package.json"));
  return require(require.resolve("express", { paths: [nodeRedDir] }));
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections from the editor or a test client would otherwise hold close() open.
    server.closeAllConnections();
  });
}

/** The JSON report of GET /nr-host/diagnostics. */
interface Diagnostics {
  /** process.getActiveResourcesInfo() counted by type: timers, sockets, servers and so on. */
  activeResources: Record<string, number>;
  /** Bytes of heap in use, after a forced full GC when `gc` is true. */
  heapUsed: number;
  gc: boolean;
  /** Listener counts per event name on RED.events and on process. */
  listeners: Record<"RED.events" | "process", Record<string, number>>;
  /** Users with state in this package's presence scheduler, or null before the package has loaded. */
  presenceSchedulerUsers: number | null;
}

function listenerCounts(emitter: EventEmitter): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of emitter.eventNames()) {
    counts[String(name)] = emitter.listenerCount(name);
  }
  return counts;
}

// Reads the scheduler from the module cache only, so the report never loads the package itself.
function presenceSchedulerUsers(): number | null {
  const suffix = path.join("node-red-contrib-zoom-presence", "dist", "nodes", "zoom", "scheduler.js");
  const file = Object.keys(require.cache).find((key) => key.endsWith(suffix));
  const scheduler = file ? (require.cache[file]?.exports as { presenceScheduler?: { userCount?: unknown } }).presenceScheduler : undefined;
  return typeof scheduler?.userCount === "number" ? scheduler.userCount : null;
}

function collectDiagnostics(): Diagnostics {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    // A second pass frees what finalizers of the first released.
    gc();
    gc();
  }

  const activeResources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) {
    activeResources[type] = (activeResources[type] ?? 0) + 1;
  }
  return {
    activeResources,
    heapUsed: process.memoryUsage().heapUsed,
    gc: gc !== undefined,
    listeners: {
      "RED.events": listenerCounts(RED.events as unknown as EventEmitter),
      process: listenerCounts(process),
    },
    presenceSchedulerUsers: presenceSchedulerUsers(),
  };
}

function writeEvent(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function reportFlowEvents(): void {
  RED.events.on("flows:started", () => writeEvent({ event: "flows-started" }));
  RED.events.on("runtime-event", (event: { id?: string; payload?: Record<string, unknown> }) => {
    if (event.id === "runtime-state" && event.payload?.error) {
      const { error, types, modules } = event.payload;
      writeEvent({ event: "flows-not-started", error, types, modules });
    }
  });
}

async function main(): Promise<void> {
  const options = readOptions();
  const express = loadExpress();
  const app = express();
  const server = http.createServer(app);

  // Listening first gives the real port to the settings. Requests that arrive before RED.init has
  // mounted the admin app get 404, but no client knows the port before the "listening" line.
  const port = await listen(server, options.port);

  RED.init(server, buildSettings(options, port));
  if (process.env.NR_HOST_DIAGNOSTICS === "1") {
    app.get("/nr-host/diagnostics", (_request, response) => {
      response.json(collectDiagnostics());
    });
  }
  app.use("/", RED.httpAdmin);
  app.use("/", RED.httpNode);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      return;
    }
    stopping = true;
    RED.log.info(`Received ${signal}, stopping Node-RED`);
    RED.stop()
      .then(() => closeServer(server))
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        console.error("Failed to stop Node-RED:", err);
        process.exit(1);
      });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  reportFlowEvents();
  await RED.start();
  writeEvent({ event: "listening", port });
}

main().catch((err: unknown) => {
  console.error("nr-host failed to start:", err instanceof Error ? err.message : err);
  process.exit(1);
});
