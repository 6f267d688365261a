/**
 * Node-RED flows for the benchmarks, and a runtime wrapper that can start a burst of messages and
 * wait for its end. The runtime is the one the end-to-end tests use: a child process with this
 * package installed from its `npm pack` tarball.
 */
import type { FlowCredentials, FlowNode, Runtime } from "../test/support/runtime";
import { startRuntime } from "../test/support/runtime";
import { findPidByArgument } from "./proc";

export const TAB_ID = "bench-tab";
export const ACCOUNT_ID = "bench-account";
export const PRESENCE_ID = "bench-presence";
const BURST_ID = "bench-burst";
const COUNT_ID = "bench-count";

/** The message shape the burst function builds for each user. */
export type BurstKind = "package" | "hand-built";

/** The body of POST /bench/start. */
export interface BurstRequest {
  id: string;
  kind: BurstKind;
  users: number;
  /** User ids are this prefix followed by 0 … users-1. */
  prefix: string;
  /** For the hand-built flow, which calls the API itself. */
  apiBaseUrl?: string;
  token?: string;
}

/** The count function's log entry once every message of a burst has come out. */
export interface BurstReport {
  id: string;
  /** Date.now() in the burst function, before it built the first message. */
  t0: number;
  /** Date.now() when the first output reached the count function. */
  firstAt: number;
  /** Date.now() when the last output reached the count function. */
  t1: number;
  /** Outputs with status code 204. */
  ok: number;
  /** Outputs with any other status code, and errors. */
  failed: number;
}

const DONE_PREFIX = "BENCH-DONE ";

// Runs in a function node. msg.payload is a BurstRequest. The first output gets one message per
// user, the second the original message for the http response node.
const BURST_FUNCTION = `
const request = msg.payload;
const t0 = Date.now();
flow.set("run", { id: request.id, total: request.users, t0, firstAt: 0, done: 0, ok: 0, failed: 0 });
const messages = new Array(request.users);
for (let i = 0; i < request.users; i++) {
  const userId = request.prefix + i;
  if (request.kind === "hand-built") {
    messages[i] = {
      url: request.apiBaseUrl + "/users/" + encodeURIComponent(userId) + "/presence_status",
      method: "PUT",
      headers: { authorization: "Bearer " + request.token, "content-type": "application/json" },
      payload: { status: "Away" },
    };
  } else {
    messages[i] = { payload: { status: "Away", userId } };
  }
}
msg.payload = "";
return [messages, msg];
`;

// Runs in a function node after the node under test. The run object lives in the memory context
// store, which returns it by reference, so counting mutates it in place.
const COUNT_FUNCTION = `
const run = flow.get("run");
run.done += 1;
if (run.done === 1) {
  run.firstAt = Date.now();
}
const statusCode = msg.zoom ? msg.zoom.statusCode : msg.statusCode;
if (statusCode === 204) {
  run.ok += 1;
} else {
  run.failed += 1;
}
if (run.done === run.total) {
  node.log("${DONE_PREFIX}" + JSON.stringify({ id: run.id, t0: run.t0, firstAt: run.firstAt, t1: Date.now(), ok: run.ok, failed: run.failed }));
}
return null;
`;

function functionNode(id: string, func: string, outputs: number, wires: string[][]): FlowNode {
  return { id, type: "function", z: TAB_ID, name: id, func, outputs, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires };
}

/**
 * Gives every node on the tab a position. Node-RED treats a node without x and y as a config node,
 * which never receives messages.
 */
function placed(flows: FlowNode[]): FlowNode[] {
  return flows.map((node, index) => (node.z === TAB_ID ? { x: 150 + 200 * index, y: 100, ...node } : node));
}

/** The trigger (POST /bench/start), the burst function and the count function around `middle`. */
function burstFlow(middle: FlowNode[], firstId: string): FlowNode[] {
  return placed([
    { id: TAB_ID, type: "tab", label: "Benchmark" },
    { id: "bench-start", type: "http in", z: TAB_ID, url: "/bench/start", method: "post", upload: false, wires: [[BURST_ID]] },
    functionNode(BURST_ID, BURST_FUNCTION, 2, [[firstId], ["bench-ack"]]),
    { id: "bench-ack", type: "http response", z: TAB_ID, statusCode: "202", headers: {}, wires: [] },
    ...middle,
    functionNode(COUNT_ID, COUNT_FUNCTION, 1, [[]]),
  ]);
}

export interface AccountTarget {
  apiBaseUrl: string;
  oauthBaseUrl: string;
  credentials: { accountId: string; clientId: string; clientSecret: string };
  accountRateLimit: number;
}

function accountNode(target: AccountTarget): FlowNode {
  return {
    id: ACCOUNT_ID,
    type: "zoom-account",
    name: "Zoom emulator",
    authType: "s2s",
    cloud: "custom",
    apiBaseUrl: target.apiBaseUrl,
    oauthBaseUrl: target.oauthBaseUrl,
    accountRateLimit: target.accountRateLimit,
    timeout: 15,
    maxAttempts: 5,
    configVersion: 1,
  };
}

function presenceNode(wires: string[][]): FlowNode {
  return {
    id: PRESENCE_ID,
    type: "zoom-presence",
    z: TAB_ID,
    account: ACCOUNT_ID,
    userId: "",
    userIdType: "str",
    duration: 20,
    whenLimited: "latest",
    minInterval: 60,
    encoding: "json",
    wires,
  };
}

/** Burst → zoom-presence → count, with a catch node that counts the errors too. */
export function packageFlow(target: AccountTarget): { flows: FlowNode[]; credentials: FlowCredentials } {
  const middle: FlowNode[] = [
    accountNode(target),
    presenceNode([[COUNT_ID]]),
    { id: "bench-catch", type: "catch", z: TAB_ID, scope: [PRESENCE_ID], uncaught: false, wires: [[COUNT_ID]] },
  ];
  return { flows: burstFlow(middle, PRESENCE_ID), credentials: { [ACCOUNT_ID]: { ...target.credentials } } };
}

/**
 * Burst → core http request node → count: the flow people build without this package. The burst
 * function sets msg.url, msg.method, msg.headers and msg.payload. The http request node keeps its
 * defaults (no keep-alive option, errors also sent on), so it sends every output, errors included.
 */
export function handBuiltFlow(): FlowNode[] {
  const middle: FlowNode[] = [
    {
      id: "bench-http",
      type: "http request",
      z: TAB_ID,
      method: "use",
      ret: "txt",
      paytoqs: "ignore",
      url: "",
      tls: "",
      persist: false,
      proxy: "",
      insecureHTTPParser: false,
      authType: "",
      senderr: false,
      headers: [],
      wires: [[COUNT_ID]],
    },
  ];
  return burstFlow(middle, "bench-http");
}

/** Builds a flow with an MQTT button topic wired straight into zoom-presence: msg.payload is {status, userId}. */
export function mqttFlow(target: AccountTarget, brokerPort: number, topic: string): { flows: FlowNode[]; credentials: FlowCredentials } {
  const flows: FlowNode[] = [
    { id: TAB_ID, type: "tab", label: "Benchmark" },
    { id: "bench-broker", type: "mqtt-broker", broker: "127.0.0.1", port: String(brokerPort), clientid: "", protocolVersion: "4", keepalive: "60", cleansession: true },
    { id: "bench-button", type: "mqtt in", z: TAB_ID, topic, qos: "1", datatype: "json", broker: "bench-broker", nl: false, rap: true, rh: 0, inputs: 0, wires: [[PRESENCE_ID]] },
    accountNode(target),
    presenceNode([[]]),
  ];
  return { flows: placed(flows), credentials: { [ACCOUNT_ID]: { ...target.credentials } } };
}

export interface BenchRuntime {
  runtime: Runtime;
  /** The Node-RED process, for reading its memory. */
  pid: number;
  /** Starts a burst and resolves once the flow has accepted it. */
  startBurst(request: BurstRequest): Promise<void>;
  /** Resolves with the count function's report for the burst. */
  waitForBurst(id: string, timeoutMs: number): Promise<BurstReport>;
  stop(): Promise<void>;
}

export async function startBenchRuntime(flows: FlowNode[], credentials?: FlowCredentials): Promise<BenchRuntime> {
  const runtime = await startRuntime({ flows, credentials });
  const pid = findPidByArgument(runtime.userDir);

  return {
    runtime,
    pid,

    async startBurst(request) {
      // A deploy through the admin API can return just before the http in route is mounted.
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(`${runtime.url}bench/start`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(request),
          signal: AbortSignal.timeout(30_000),
        });
        await response.arrayBuffer();
        if (response.status === 202) {
          return;
        }
        if (response.status !== 404 || attempt >= 50) {
          throw new Error(`POST /bench/start returned ${response.status}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },

    async waitForBurst(id, timeoutMs) {
      const line = await runtime.waitForLog(new RegExp(`${DONE_PREFIX}\\{"id":"${id}"`), timeoutMs);
      return JSON.parse(line.slice(line.indexOf(DONE_PREFIX) + DONE_PREFIX.length)) as BurstReport;
    },

    stop: () => runtime.stop(),
  };
}
