// The HTTP client through a forward proxy. HTTP_PROXY (or http_proxy) sends the token request and
// the API calls through the proxy, and NO_PROXY exempts hosts from it. In a real Node-RED, the
// editor's "Test connection" uses the proxy of the runtime's environment.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { createConnection, migrateAccountSettings } from "../nodes/zoom/account";
import type { AccountConnection } from "../nodes/zoom/account";
import { NetworkError } from "../nodes/zoom/errors";
import { closeAllPools } from "../nodes/zoom/http";
import { clearTokenCache } from "../nodes/zoom/token";
import { startForwardProxy } from "./support/forward-proxy";
import type { ForwardProxy } from "./support/forward-proxy";
import { startRuntime } from "./support/runtime";
import type { Runtime } from "./support/runtime";

const PROXY_VARIABLES = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"] as const;
const CREDENTIALS = { accountId: "proxy-account", clientId: "proxy-client", clientSecret: "proxy-secret" };
// A NO_PROXY value that matches none of the test servers, so that a NO_PROXY or no_proxy in the
// environment of the test run cannot exempt 127.0.0.1.
const NO_PROXY_ELSEWHERE = "example.invalid";

/** Replaces every proxy variable of this process with `values` and returns a function that restores them. */
function setProxyEnvironment(values: Partial<Record<(typeof PROXY_VARIABLES)[number], string>>): () => void {
  const saved = new Map(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of PROXY_VARIABLES) {
    delete process.env[name];
  }
  Object.assign(process.env, values);
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) {
        delete process.env[name];
      } else {
        process.env[name] = value;
      }
    }
  };
}

function connectTo(emulator: ZoomEmulator): AccountConnection {
  const settings = migrateAccountSettings({ cloud: "custom", apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl, timeout: 5, configVersion: 1 });
  return createConnection(settings, CREDENTIALS, "proxy-test");
}

/** Returns a loopback port with no listener: it was free a moment ago, and no server of these tests takes it. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("HTTP client behind a proxy", () => {
  let emulator: ZoomEmulator;
  let proxy: ForwardProxy;
  let restoreEnvironment: (() => void) | undefined;

  beforeEach(async () => {
    // The dispatcher reads the proxy variables when it is created, so each test starts without one.
    await closeAllPools();
    clearTokenCache();
    emulator = await ZoomEmulator.start({ accounts: [CREDENTIALS], users: [{ id: "u1", email: "desk@example.com" }] });
    proxy = await startForwardProxy();
  });

  afterEach(async () => {
    restoreEnvironment?.();
    restoreEnvironment = undefined;
    await closeAllPools();
    clearTokenCache();
    await proxy.close();
    await emulator.close();
  });

  for (const variable of ["HTTP_PROXY", "http_proxy"] as const) {
    it(`sends the token request and the PUT through ${variable}`, async () => {
      restoreEnvironment = setProxyEnvironment({ [variable]: proxy.url, NO_PROXY: NO_PROXY_ELSEWHERE });
      const result = await connectTo(emulator).client.setPresence({ userId: "u1", status: "Away" }, "json");

      assert.equal(result.statusCode, 204);
      assert.deepEqual(proxy.tunnelledRequests, ["POST /oauth/token", "PUT /v2/users/u1/presence_status"]);
      assert.ok(proxy.exchanges.length > 0, "the proxy opened no tunnel");
      for (const exchange of proxy.exchanges) {
        assert.deepEqual(exchange, { kind: "connect", target: `127.0.0.1:${new URL(emulator.baseUrl).port}`, proxyAuthorization: undefined, statusCode: 200 });
      }
      assert.deepEqual(emulator.requests.map((request) => `${request.method} ${request.path} ${request.statusCode}`), [
        "POST /oauth/token 200",
        "PUT /v2/users/u1/presence_status 204",
      ]);
      assert.equal(emulator.getStatus("u1"), "Away");
    });
  }

  it("sends the credentials in the proxy URL", async () => {
    const url = new URL(proxy.url);
    url.username = "proxy-user";
    url.password = "p@ss word";
    restoreEnvironment = setProxyEnvironment({ HTTP_PROXY: url.href, NO_PROXY: NO_PROXY_ELSEWHERE });
    await connectTo(emulator).client.getPresence("u1");

    assert.ok(proxy.exchanges.length > 0, "the proxy opened no tunnel");
    for (const exchange of proxy.exchanges) {
      assert.equal(exchange.proxyAuthorization, `Basic ${Buffer.from("proxy-user:p@ss word").toString("base64")}`);
    }
    assert.deepEqual(proxy.tunnelledRequests, ["POST /oauth/token", "GET /v2/users/u1/presence_status"]);
  });

  describe("NO_PROXY", () => {
    const cases: Array<{ name: string; noProxy: (emulatorPort: number) => string; proxied: boolean }> = [
      { name: "the address", noProxy: () => "127.0.0.1", proxied: false },
      { name: "the address and port", noProxy: (port) => `127.0.0.1:${port}`, proxied: false },
      { name: "a list with the address", noProxy: () => `${NO_PROXY_ELSEWHERE}, 127.0.0.1`, proxied: false },
      { name: "*", noProxy: () => "*", proxied: false },
      { name: "another port", noProxy: (port) => `127.0.0.1:${port === 65535 ? port - 1 : port + 1}`, proxied: true },
      { name: "another host", noProxy: () => NO_PROXY_ELSEWHERE, proxied: true },
      // undici compares host names as text and does not resolve localhost to 127.0.0.1.
      { name: "localhost", noProxy: () => "localhost", proxied: true },
    ];

    for (const { name, noProxy, proxied } of cases) {
      it(`with ${name} ${proxied ? "keeps" : "bypasses"} the proxy`, async () => {
        const emulatorPort = Number(new URL(emulator.baseUrl).port);
        restoreEnvironment = setProxyEnvironment({ HTTP_PROXY: proxy.url, NO_PROXY: noProxy(emulatorPort) });
        const reading = await connectTo(emulator).client.getPresence("u1");

        assert.equal(reading.status, "Available");
        assert.deepEqual(emulator.requests.map((request) => `${request.method} ${request.path}`), ["POST /oauth/token", "GET /v2/users/u1/presence_status"]);
        assert.deepEqual(proxy.tunnelledRequests, proxied ? ["POST /oauth/token", "GET /v2/users/u1/presence_status"] : []);
        assert.equal(proxy.exchanges.length > 0, proxied);
      });
    }

    it("is read again for each request", async () => {
      restoreEnvironment = setProxyEnvironment({ HTTP_PROXY: proxy.url, NO_PROXY: NO_PROXY_ELSEWHERE });
      const client = connectTo(emulator).client;
      await client.getPresence("u1");
      process.env.NO_PROXY = "127.0.0.1";
      await client.getPresence("u1");

      assert.deepEqual(proxy.tunnelledRequests, ["POST /oauth/token", "GET /v2/users/u1/presence_status"]);
      assert.equal(emulator.requestsFor("presence.get").length, 2);
    });
  });

  it("reports an unreachable proxy as a network error", async () => {
    restoreEnvironment = setProxyEnvironment({ HTTP_PROXY: `http://127.0.0.1:${await closedPort()}`, NO_PROXY: NO_PROXY_ELSEWHERE });

    await assert.rejects(connectTo(emulator).client.setPresence({ userId: "u1", status: "Away" }, "json"), (error: unknown) => {
      assert.ok(error instanceof NetworkError, `expected NetworkError, got ${String(error)}`);
      assert.equal(error.kind, "network_error");
      assert.equal(error.maybeDelivered, false);
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
    assert.equal(emulator.requests.length, 0);
  });

  it("goes direct without proxy variables", async () => {
    restoreEnvironment = setProxyEnvironment({});
    await connectTo(emulator).client.getPresence("u1");

    assert.equal(emulator.requests.length, 2);
    assert.deepEqual(proxy.exchanges, []);
  });

  it("forwards an absolute-URI request", async () => {
    // The Zoom client tunnels with CONNECT, so this checks the proxy's other mode, which plain clients use.
    const response = await new Promise<{ statusCode: number; body: string }>((resolve, reject) => {
      const request = http.request({ host: "127.0.0.1", port: proxy.port, method: "GET", path: `${emulator.apiBaseUrl}/users/u1/presence_status` }, (answer) => {
        let body = "";
        answer.setEncoding("utf8");
        answer.on("data", (chunk: string) => (body += chunk));
        answer.on("end", () => resolve({ statusCode: answer.statusCode ?? 0, body }));
      });
      request.on("error", reject);
      request.end();
    });

    // Without a token the emulator responds with 401, and that response came back through the proxy.
    assert.equal(response.statusCode, 401);
    assert.deepEqual(proxy.exchanges, [{ kind: "absolute", target: `${emulator.apiBaseUrl}/users/u1/presence_status`, proxyAuthorization: undefined, statusCode: 401 }]);
    assert.deepEqual(emulator.requests.map((request) => `${request.method} ${request.path} ${request.statusCode}`), ["GET /v2/users/u1/presence_status 401"]);
  });
});

describe("Test connection in Node-RED behind a proxy", function () {
  this.timeout(180000);

  let emulator: ZoomEmulator;
  let proxy: ForwardProxy;
  let runtime: Runtime;

  before(async () => {
    emulator = await ZoomEmulator.start({ accounts: [CREDENTIALS] });
    proxy = await startForwardProxy();
    // The proxy variables go to the Node-RED process only. Empty lower-case values would still win
    // over the upper-case ones in undici, so they are removed instead.
    const env: NodeJS.ProcessEnv = { HTTP_PROXY: proxy.url, NO_PROXY: NO_PROXY_ELSEWHERE };
    for (const name of ["http_proxy", "https_proxy", "no_proxy", "HTTPS_PROXY"]) {
      env[name] = undefined;
    }
    runtime = await startRuntime({ env });
  });

  after(async () => {
    await runtime?.stop();
    await proxy?.close();
    await emulator?.close();
  });

  it("requests the token through HTTP_PROXY", async () => {
    const response = await fetch(`${runtime.url}zoom-account/test`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ authType: "s2s", cloud: "custom", apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl, timeout: 5, credentials: CREDENTIALS }),
    });
    const result = (await response.json()) as Record<string, unknown>;

    assert.equal(response.status, 200);
    assert.deepEqual(result, { ok: true, scopes: ["user:read:admin", "user:write:admin"], missingScopes: [] });
    assert.deepEqual(proxy.tunnelledRequests, ["POST /oauth/token"]);
    assert.deepEqual(emulator.requests.map((request) => `${request.method} ${request.path} ${request.statusCode}`), ["POST /oauth/token 200"]);
  });
});
