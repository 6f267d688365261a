// Runs this package inside a real Node-RED runtime, installed from the tarball that `npm pack` makes,
// so the end-to-end tests see exactly what a user installs from the registry.
//
// Each runtime is a child process (dist/scripts/nr-host.js) with its own temporary user directory.
// The package is installed from the tarball once per test process, into a template directory whose
// node_modules every user directory links to.
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { promisify } from "node:util";

export { startBroker, connectMqtt, nextMessage, recordMessages, topicMatches } from "./mqtt";
export type { Broker, MessageRecorder, ReceivedMessage } from "./mqtt";

const execFileAsync = promisify(execFile);

const PACKAGE_NAME = "node-red-contrib-zoom-presence";

// This file runs as dist/test/support/runtime.js, beside dist/scripts/.
const NR_HOST_SCRIPT = path.resolve(__dirname, "../../scripts/nr-host.js");

const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 10000;

export interface FlowNode {
  id: string;
  type: string;
  [property: string]: unknown;
}

/** Credentials per node id, e.g. { "account-1": { clientId: "…", clientSecret: "…" } }. */
export type FlowCredentials = Record<string, Record<string, string>>;

/** One entry of GET /nodes: a node set that the runtime loaded. */
export interface NodeSet {
  id: string;
  name: string;
  module: string;
  version?: string;
  types: string[];
  enabled: boolean;
  /** True for a module loaded from the user directory's node_modules. */
  local?: boolean;
  err?: string;
}

export type DeploymentType = "full" | "nodes" | "flows" | "reload";

export interface RuntimeOptions {
  /** The flow to run. Without credentials it is written to flows.json before the start. */
  flows?: FlowNode[];
  /** Deployed with the flow through the admin API, which stores them encrypted in flows_cred.json. */
  credentials?: FlowCredentials;
  /** Extra environment for the Node-RED process, e.g. NR_LOG_LEVEL. */
  env?: NodeJS.ProcessEnv;
}

export interface Runtime {
  /** http://127.0.0.1:PORT/, the editor and admin API root. */
  url: string;
  port: number;
  userDir: string;
  credentialSecret: string;
  /** Every line the process wrote to stdout or stderr, in order. */
  logs: string[];
  deploy(flows: FlowNode[], type?: DeploymentType): Promise<void>;
  getFlows(): Promise<FlowNode[]>;
  getNodeSets(): Promise<NodeSet[]>;
  /** The editor HTML of one node set, e.g. "node-red-contrib-zoom-presence/zoom-presence". */
  getNodeSetHtml(id: string): Promise<string>;
  /** Node types the runtime has registered, from every loaded node set. */
  getNodeTypes(): Promise<string[]>;
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  readFlowsFile(): FlowNode[];
  /** The raw text of flows_cred.json, or undefined when Node-RED has not written one. */
  readCredentialsFile(): string | undefined;
  /** Stops Node-RED with SIGTERM and deletes the user directory. */
  stop(): Promise<void>;
}

interface HostEvent {
  event: string;
  port?: number;
  error?: string;
  types?: string[];
  modules?: unknown[];
}

const temporaryDirs: string[] = [];
const runningProcesses = new Set<ChildProcess>();

// Removes what a failed setup or a skipped after-hook leaves behind when the test process exits.
process.on("exit", () => {
  for (const child of runningProcesses) {
    child.kill("SIGKILL");
  }
  for (const dir of temporaryDirs) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function makeTemporaryDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temporaryDirs.push(dir);
  return dir;
}

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === PACKAGE_NAME) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`No package.json named ${PACKAGE_NAME} above ${start}`);
    }
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);

// The npm that runs the tests (npm_execpath), else the first npm on PATH outside node_modules/.bin:
// node-red bundles npm 10, whose `npm pack` runs the prepare script even with --ignore-scripts.
function findNpmCli(): string[] {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.js$/.test(execPath)) {
    return [process.execPath, execPath];
  }

  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "npm");
    if (dir !== "" && !dir.split(path.sep).includes("node_modules") && fs.existsSync(candidate)) {
      return [candidate];
    }
  }
  throw new Error("npm not found on PATH outside node_modules/.bin");
}

let npmCli: Promise<string[]> | undefined;

// npm 11 is the first whose `npm pack --ignore-scripts` skips prepare; prepare would run the build,
// which deletes dist/ while the tests run from it.
function checkedNpmCli(): Promise<string[]> {
  npmCli ??= (async () => {
    const [file, ...args] = findNpmCli();
    const { stdout } = await execFileAsync(file, [...args, "--version"]);
    const major = Number(stdout.trim().split(".")[0]);
    if (!(major >= 11)) {
      throw new Error(`npm ${stdout.trim()} at ${file} ${args.join(" ")} is too old: the tests need npm 11 or later`);
    }
    return [file, ...args];
  })();
  return npmCli;
}

async function runNpm(args: string[], cwd: string): Promise<string> {
  const [file, ...npmArgs] = await checkedNpmCli();
  try {
    const { stdout } = await execFileAsync(file, [...npmArgs, ...args], { cwd, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const failure = err as { stderr?: string; message: string };
    throw new Error(`npm ${args.join(" ")} failed in ${cwd}: ${failure.stderr || failure.message}`);
  }
}

let tarball: Promise<string> | undefined;

/**
 * Packs the repository with `npm pack` once per process and returns the .tgz path. Expects a built
 * dist/ (`npm test` builds first). Lifecycle scripts are skipped, because `prepare` would rebuild
 * and so wipe dist/ under the running tests.
 */
export function packTarball(): Promise<string> {
  tarball ??= (async () => {
    const destination = makeTemporaryDir("zoom-presence-pack-");
    const output = await runNpm(
      ["pack", "--ignore-scripts", "--json", "--pack-destination", destination],
      REPO_ROOT,
    );
    const [packed] = JSON.parse(output) as { filename: string }[];
    return path.join(destination, packed.filename);
  })();
  return tarball;
}

function writeUserDirManifest(dir: string): void {
  const manifest = { name: "node-red-user-dir", description: "Node-RED user directory for tests", private: true };
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
}

let installedTemplate: Promise<string> | undefined;

/** Installs the tarball once into a template directory and returns its node_modules path. */
function installPackage(): Promise<string> {
  installedTemplate ??= (async () => {
    const packed = await packTarball();
    const dir = makeTemporaryDir("zoom-presence-install-");
    writeUserDirManifest(dir);
    await runNpm(
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--no-save", "--ignore-scripts", packed],
      dir,
    );
    return path.join(dir, "node_modules");
  })();
  return installedTemplate;
}

/** Adds each node's credentials as the inline `credentials` property that the admin API reads. */
export function withCredentials(flows: FlowNode[], credentials: FlowCredentials): FlowNode[] {
  for (const id of Object.keys(credentials)) {
    if (!flows.some((node) => node.id === id)) {
      throw new Error(`Credentials given for node "${id}", which is not in the flow`);
    }
  }
  return flows.map((node) => (credentials[node.id] ? { ...node, credentials: { ...credentials[node.id] } } : node));
}

/**
 * Starts Node-RED in a new user directory with this package installed, and resolves once the flows
 * have started (with credentials: once the flow has been deployed with them).
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const nodeModules = await installPackage();
  const userDir = makeTemporaryDir("zoom-presence-nr-");
  writeUserDirManifest(userDir);
  fs.symlinkSync(nodeModules, path.join(userDir, "node_modules"), "dir");

  const flows = options.flows ?? [];
  const initialFlows = options.credentials ? [] : flows;
  fs.writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(initialFlows, null, 2));

  const credentialSecret = randomBytes(24).toString("hex");
  const child = spawn(process.execPath, [NR_HOST_SCRIPT, "--user-dir", userDir, "--port", "0"], {
    env: { ...process.env, NR_CREDENTIAL_SECRET: credentialSecret, NR_LOG_LEVEL: "info", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  runningProcesses.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      runningProcesses.delete(child);
      resolve(code);
    });
  });

  const logs: string[] = [];
  const events: HostEvent[] = [];
  const lineListeners = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream! }).on("line", (line) => {
      logs.push(line);
      if (line.startsWith('{"event":')) {
        events.push(JSON.parse(line) as HostEvent);
      }
      for (const listener of [...lineListeners]) {
        listener();
      }
    });
  }

  // Waits until `find` returns a value, checking after every new line, until the process exits or times out.
  const waitFor = <T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        lineListeners.delete(check);
      };
      const check = () => {
        const found = find();
        if (found !== undefined) {
          done();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}. Node-RED log:\n${logs.join("\n")}`));
      }, timeoutMs);
      exited.then((code) => {
        if (lineListeners.has(check)) {
          done();
          reject(new Error(`Node-RED exited with code ${code} while waiting for ${what}. Log:\n${logs.join("\n")}`));
        }
      });
      lineListeners.add(check);
      check();
    });

  const listening = await waitFor("the listening event", () => events.find((e) => e.event === "listening"), START_TIMEOUT_MS);
  const started = await waitFor(
    "the flows to start",
    () => events.find((e) => e.event === "flows-started" || e.event === "flows-not-started"),
    START_TIMEOUT_MS,
  );
  if (started.event === "flows-not-started") {
    child.kill("SIGKILL");
    throw new Error(`Node-RED did not start the flows (${started.error} ${JSON.stringify(started.types ?? started.modules ?? [])}). Log:\n${logs.join("\n")}`);
  }

  const port = listening.port!;
  const url = `http://127.0.0.1:${port}/`;

  const adminRequest = async (method: string, route: string, headers: Record<string, string>, body?: unknown) => {
    const response = await fetch(url + route, {
      method,
      headers: { "Node-RED-API-Version": "v1", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`${method} /${route} returned ${response.status}: ${text}`);
    }
    return text;
  };

  const runtime: Runtime = {
    url,
    port,
    userDir,
    credentialSecret,
    logs,

    async deploy(deployed, type = "full") {
      await adminRequest("POST", "flows", { "Content-Type": "application/json", "Node-RED-Deployment-Type": type }, deployed);
    },

    async getFlows() {
      return JSON.parse(await adminRequest("GET", "flows", { Accept: "application/json" })) as FlowNode[];
    },

    async getNodeSets() {
      return JSON.parse(await adminRequest("GET", "nodes", { Accept: "application/json" })) as NodeSet[];
    },

    getNodeSetHtml(id) {
      return adminRequest("GET", `nodes/${id}`, { Accept: "text/html" });
    },

    async getNodeTypes() {
      return (await runtime.getNodeSets()).flatMap((nodeSet) => nodeSet.types);
    },

    waitForLog(pattern, timeoutMs = 10000) {
      return waitFor(`a log line matching ${pattern}`, () => logs.find((line) => pattern.test(line)), timeoutMs);
    },

    readFlowsFile() {
      return JSON.parse(fs.readFileSync(path.join(userDir, "flows.json"), "utf8")) as FlowNode[];
    },

    readCredentialsFile() {
      const file = path.join(userDir, "flows_cred.json");
      return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    },

    async stop() {
      if (runningProcesses.has(child)) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };

  if (options.credentials) {
    try {
      await runtime.deploy(withCredentials(flows, options.credentials));
    } catch (err) {
      await runtime.stop();
      throw err;
    }
  }
  return runtime;
}
