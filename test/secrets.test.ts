// Secret scan: runs the package in a real Node-RED process through success and every error path. The
// client secret and every access token the emulator issued must appear in no log line, message, node
// status, flow file, credentials file or admin API response.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import type { Fault } from "../emulator/zoom-emulator";
import { startRuntime } from "./support/runtime";
import type { FlowNode, Runtime } from "./support/runtime";
import { waitForFlowsStarted } from "./support/deploy";
import { waitUntil } from "./support/wait";

const ACCOUNT = {
  accountId: `acct-${randomBytes(4).toString("hex")}`,
  clientId: `client-${randomBytes(4).toString("hex")}`,
  clientSecret: `s3cr3t-${randomBytes(16).toString("hex")}`,
};
const WRONG_SECRET = `s3cr3t-wrong-${randomBytes(16).toString("hex")}`;
const USER_ID = "u1";
const TIMEOUT_SECONDS = 1;

/** Returns a loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function basic(clientId: string, clientSecret: string): string {
  return Buffer.from(`${clientId}:${clientSecret}`).toString("base64");
}

describe("secret scan", function () {
  this.timeout(240_000);

  let emulator: ZoomEmulator;
  let runtime: Runtime;
  let unreachableUrl: string;
  let pastedToken: string;
  /** The text of every admin API response, with the request that got it. */
  const adminResponses: Array<{ request: string; text: string }> = [];

  const endLines = () => runtime.logs.filter((line) => /\[debug:scan (out|errors)\]/.test(line)).length;

  async function admin(method: string, route: string, body?: unknown): Promise<string> {
    const response = await fetch(runtime.url + route, {
      method,
      headers: { "Node-RED-API-Version": "v1", Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    adminResponses.push({ request: `${method} /${route} → ${response.status}`, text });
    return text;
  }

  /** Presses an inject node's button and waits for the message it starts to end (output or error). */
  async function press(injectId: string): Promise<void> {
    const before = endLines();
    await admin("POST", `inject/${injectId}`);
    try {
      await waitUntil(`the message from ${injectId} to end`, () => (endLines() > before ? true : undefined), 30_000);
    } catch (error) {
      const responses = adminResponses.slice(-3).map(({ request, text }) => `${request}: ${text}`).join("\n");
      throw new Error(`${(error as Error).message}. The last admin responses:\n${responses}\nThe last lines of the Node-RED log:\n${runtime.logs.slice(-60).join("\n")}`);
    }
  }

  function account(id: string, properties: Record<string, unknown> = {}): FlowNode {
    return {
      id,
      type: "zoom-account",
      // A name equal to a node id would make Node-RED take it for a reference to that node.
      name: `account ${id}`,
      authType: "s2s",
      cloud: "custom",
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      accountRateLimit: 20,
      timeout: TIMEOUT_SECONDS,
      maxAttempts: 2,
      ...properties,
    };
  }

  /** Returns an inject node wired to its own zoom-presence node on the given account. */
  function scenario(name: string, accountId: string, payload: string): FlowNode[] {
    return [
      { id: `sec-inject-${name}`, type: "inject", z: "sec-tab", name: `inject ${name}`, props: [{ p: "payload" }], payload, payloadType: "str", repeat: "", once: false, wires: [[`sec-presence-${name}`]] },
      {
        id: `sec-presence-${name}`,
        type: "zoom-presence",
        z: "sec-tab",
        name: `presence ${name}`,
        account: accountId,
        userId: USER_ID,
        userIdType: "str",
        duration: "20",
        whenLimited: "latest",
        minInterval: "0.1",
        encoding: "json",
        wires: [["sec-out"]],
      },
    ];
  }

  before(async () => {
    emulator = await ZoomEmulator.start({ accounts: [ACCOUNT], presenceWindowMs: 0 });
    unreachableUrl = `http://127.0.0.1:${await closedPort()}`;

    // A token for the pasted-token account, issued by the emulator like any other.
    const response = await fetch(`${emulator.oauthBaseUrl}/oauth/token?grant_type=account_credentials&account_id=${ACCOUNT.accountId}`, {
      method: "POST",
      headers: { Authorization: `Basic ${basic(ACCOUNT.clientId, ACCOUNT.clientSecret)}` },
    });
    pastedToken = ((await response.json()) as { access_token: string }).access_token;

    const flows: FlowNode[] = [
      { id: "sec-tab", type: "tab", label: "secrets" },
      account("sec-account"),
      account("sec-account-wrong-secret"),
      account("sec-account-wrong-id"),
      account("sec-account-unreachable", { apiBaseUrl: `${unreachableUrl}/v2`, oauthBaseUrl: unreachableUrl }),
      account("sec-account-pasted", { authType: "token" }),
      ...scenario("ok", "sec-account", "dnd"),
      ...scenario("wrong-secret", "sec-account-wrong-secret", "away"),
      ...scenario("wrong-id", "sec-account-wrong-id", "away"),
      ...scenario("unreachable", "sec-account-unreachable", "away"),
      ...scenario("pasted", "sec-account-pasted", "busy"),
      { id: "sec-out", type: "debug", z: "sec-tab", name: "scan out", active: true, tosidebar: true, console: true, tostatus: false, complete: "true", wires: [] },
      { id: "sec-catch", type: "catch", z: "sec-tab", name: "", scope: null, uncaught: false, wires: [["sec-errors"]] },
      { id: "sec-errors", type: "debug", z: "sec-tab", name: "scan errors", active: true, tosidebar: true, console: true, tostatus: false, complete: "true", wires: [] },
      { id: "sec-status", type: "status", z: "sec-tab", name: "", scope: null, wires: [["sec-statuses"]] },
      { id: "sec-statuses", type: "debug", z: "sec-tab", name: "scan statuses", active: true, tosidebar: true, console: true, tostatus: false, complete: "true", wires: [] },
    ];
    const credentials = {
      "sec-account": { ...ACCOUNT },
      "sec-account-wrong-secret": { ...ACCOUNT, clientSecret: WRONG_SECRET },
      "sec-account-wrong-id": { ...ACCOUNT, accountId: "not-the-account" },
      "sec-account-unreachable": { ...ACCOUNT },
      "sec-account-pasted": { accessToken: pastedToken },
    };
    // Trace level, so that the scan covers every log line the runtime and the nodes can write.
    runtime = await startRuntime({ flows, credentials, env: { NR_LOG_LEVEL: "trace" } });
    // The start with no flows, then the deploy of these with their credentials.
    await waitForFlowsStarted(runtime, 2);
  });

  after(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  it("keeps the secret and tokens out of everything", async () => {
    const fault = (route: "token" | "presence.put", value: Fault) => emulator.injectFault(route, value);

    // A pasted token works until the revocations below.
    await press("sec-inject-pasted");

    // Success, then the API rejecting the token twice, resets and a silent server.
    await press("sec-inject-ok");
    fault("presence.put", { status: 401, body: { code: 124, message: "Invalid access token." }, times: 2 });
    await press("sec-inject-ok");
    fault("presence.put", { action: "reset", times: 2 });
    await press("sec-inject-ok");
    fault("presence.put", { action: "hang", times: 2 });
    await press("sec-inject-ok");

    // The token endpoint failing with 500, a reset and silence, each after the token was revoked.
    for (const tokenFault of [{ status: 500, body: { reason: "Internal error" } }, { action: "reset" as const }, { action: "hang" as const }]) {
      emulator.revokeTokens();
      fault("token", { ...tokenFault, times: 2 });
      await press("sec-inject-ok");
    }
    await press("sec-inject-ok");

    // Token endpoint 401 and 400, an unreachable host, and the pasted token after its revocation.
    await press("sec-inject-wrong-secret");
    await press("sec-inject-wrong-id");
    await press("sec-inject-unreachable");
    emulator.revokeTokens();
    await press("sec-inject-pasted");

    // The editor's "Test connection" button, with stored, typed and wrong credentials.
    const testBody = (credentials: Record<string, string>, properties: Record<string, unknown> = {}) => ({
      id: "sec-account",
      authType: "s2s",
      cloud: "custom",
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      timeout: TIMEOUT_SECONDS,
      credentials,
      ...properties,
    });
    const stored = { accountId: ACCOUNT.accountId, clientId: ACCOUNT.clientId, clientSecret: "__PWRD__" };
    const answers: Array<{ ok: boolean; error?: string }> = [];
    const testConnection = async (body: unknown) => {
      answers.push(JSON.parse(await admin("POST", "zoom-account/test", body)) as { ok: boolean; error?: string });
    };
    await testConnection(testBody(stored));
    await testConnection(testBody({ ...ACCOUNT }));
    await testConnection(testBody({ ...ACCOUNT, clientSecret: WRONG_SECRET }));
    await testConnection(testBody({ ...ACCOUNT, accountId: "not-the-account" }));
    for (const tokenFault of [{ status: 500, body: { reason: "Internal error" } }, { action: "reset" as const }, { action: "hang" as const }]) {
      fault("token", tokenFault);
      await testConnection(testBody(stored));
    }
    await testConnection(testBody(stored, { apiBaseUrl: `${unreachableUrl}/v2`, oauthBaseUrl: unreachableUrl }));
    const freshToken = await fetch(`${emulator.oauthBaseUrl}/oauth/token?grant_type=account_credentials&account_id=${ACCOUNT.accountId}`, {
      method: "POST",
      headers: { Authorization: `Basic ${basic(ACCOUNT.clientId, ACCOUNT.clientSecret)}` },
    });
    const typedToken = ((await freshToken.json()) as { access_token: string }).access_token;
    await testConnection(testBody({ accessToken: typedToken }, { id: "sec-account-pasted", authType: "token" }));
    emulator.revokeTokens();
    await testConnection(testBody({ accessToken: typedToken }, { id: "sec-account-pasted", authType: "token" }));
    await testConnection(testBody({ accessToken: "__PWRD__" }, { id: "sec-account-pasted", authType: "token" }));

    await admin("GET", "flows");
    await admin("GET", "nodes");
    await admin("GET", "settings");
    for (const id of ["sec-account", "sec-account-wrong-secret", "sec-account-wrong-id", "sec-account-unreachable", "sec-account-pasted"]) {
      await admin("GET", `credentials/zoom-account/${id}`);
    }

    // Every path ran: the outputs and errors that the flow and the test button produced.
    const log = runtime.logs.join("\n");
    const expectedInLog = [
      /payload: 'Do_Not_Disturb'/,
      /Zoom rejected the access token \(HTTP 401, code 124\): Invalid access token\./,
      /Cannot reach 127\.0\.0\.1:\d+: (connection reset|the server closed the connection)/,
      /Timed out after 1 s waiting for 127\.0\.0\.1:\d+/,
      /Token request to 127\.0\.0\.1:\d+ failed with HTTP 500/,
      /Zoom rejected the credentials: Invalid client_id or client_secret/,
      /Zoom rejected the credentials: Invalid request : Invalid account_id\./,
      /Cannot reach 127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)/,
      /payload: 'Busy'/,
    ];
    for (const pattern of expectedInLog) {
      assert.ok(pattern.test(log), `no log line matches ${pattern}`);
    }
    assert.deepEqual(
      answers.map((answer) => answer.ok),
      [true, true, false, false, false, false, false, false, true, false, false],
      JSON.stringify(answers),
    );
    assert.match(String(answers[9].error), /Zoom rejected the access token \(HTTP 401, code 124\)/);
    assert.match(String(answers[6].error), /Timed out after 1 s/);
    assert.ok(
      runtime.logs.some((line) => line.includes("[debug:scan statuses]")),
      "no node status reached the log",
    );

    // The scan.
    const secrets = new Map<string, string>([
      [ACCOUNT.clientSecret, "the client secret"],
      [WRONG_SECRET, "the wrong client secret"],
      [basic(ACCOUNT.clientId, ACCOUNT.clientSecret), "the Basic credentials"],
      [basic(ACCOUNT.clientId, WRONG_SECRET), "the wrong Basic credentials"],
    ]);
    emulator.issuedTokens.forEach((token, index) => secrets.set(token, `access token #${index + 1} of ${emulator.issuedTokens.length}`));
    assert.ok(emulator.issuedTokens.includes(pastedToken), "the pasted token is not among the issued ones");
    assert.ok(emulator.issuedTokens.length >= 5, `only ${emulator.issuedTokens.length} tokens issued`);

    const credentialsFile = runtime.readCredentialsFile();
    assert.ok(credentialsFile !== undefined, "flows_cred.json was not written");
    // Node-RED stores encrypted credentials as {"$": "<iv><ciphertext>"}.
    assert.deepEqual(Object.keys(JSON.parse(credentialsFile) as object), ["$"], "flows_cred.json is not encrypted");

    const places = [
      ...runtime.logs.map((line, index) => ({ where: `log line ${index + 1}`, text: line })),
      { where: "the whole log", text: log },
      { where: "flows.json", text: JSON.stringify(runtime.readFlowsFile()) },
      { where: "flows_cred.json", text: credentialsFile },
      ...adminResponses.map(({ request, text }) => ({ where: request, text })),
    ];
    for (const { where, text } of places) {
      for (const [secret, name] of secrets) {
        assert.ok(!text.includes(secret), `${where} contains ${name}`);
      }
    }
    for (const clear of [ACCOUNT.accountId, ACCOUNT.clientId]) {
      assert.ok(!credentialsFile.includes(clear), "flows_cred.json holds credentials in clear text");
    }
    console.log(`      secrets: scanned ${runtime.logs.length} log lines, ${adminResponses.length} admin responses and both flow files for ${secrets.size} secrets`);
  });
});
