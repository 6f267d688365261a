import assert from "node:assert/strict";
import { ZoomEmulator } from "../../emulator/zoom-emulator";
import { createConnection, migrateAccountSettings } from "../../nodes/zoom/account";
import { PresenceReading } from "../../nodes/zoom/client";
import { ZoomApiError } from "../../nodes/zoom/errors";
import { EventSocketState, ZoomEventSocket, eventSocketUrl } from "../../nodes/zoom/event-socket";
import { BudgetRequestAbortedError, PresenceScheduler } from "../../nodes/zoom/limiter";
import { PollRegistry } from "../../nodes/zoom/poller";
import { decideFailure } from "../../nodes/zoom/policy";
import { readPresence } from "../../nodes/zoom/reader";
import { clearTokenCache } from "../../nodes/zoom/token";
import { FakeClock } from "../support/fake-clock";
import { waitFor } from "../support/poll";

const start = 1_000_000;

describe("account budget for reads", () => {
  function setup(limit: number) {
    const clock = new FakeClock();
    const scheduler = new PresenceScheduler({ clock, decide: decideFailure });
    const runs: Array<{ label: string; at: number }> = [];
    const read = (label: string, signal?: AbortSignal) =>
      scheduler.runInAccountBudget({
        accountKey: "api\nacct",
        accountRateLimit: limit,
        signal,
        run: async () => {
          runs.push({ label, at: clock.now() });
          return label;
        },
      });
    const update = (label: string) =>
      scheduler.submit<string>({
        owner: {},
        userKey: "api\nacct\nu1",
        accountKey: "api\nacct",
        accountRateLimit: limit,
        minIntervalMs: 60_000,
        whenLimited: "latest",
        maxAttempts: 1,
        attempt: async () => {
          runs.push({ label, at: clock.now() });
          return label;
        },
        settle: () => undefined,
      });
    return { clock, scheduler, runs, read, update };
  }

  it("waits for a slot that an update used", async () => {
    const t = setup(1);
    t.update("put");
    const reading = t.read("get");
    await t.clock.advance(0);
    assert.deepEqual(t.runs, [{ label: "put", at: start }]);

    await t.clock.advance(1020);
    assert.equal(await reading, "get");
    assert.deepEqual(t.runs, [
      { label: "put", at: start },
      { label: "get", at: start + 1020 },
    ]);
  });

  it("leaves the user window alone", async () => {
    const t = setup(10);
    await t.read("get");
    t.update("put");
    await t.clock.advance(0);

    assert.deepEqual(t.runs, [
      { label: "get", at: start },
      { label: "put", at: start },
    ]);
    assert.equal(t.scheduler.describeUser("api\nacct\nu1")?.inFlight, false);
  });

  it("drops a waiting read when its signal aborts", async () => {
    const t = setup(1);
    await t.read("first");
    const controller = new AbortController();
    const aborted = t.read("aborted", controller.signal);
    const next = t.read("next");
    controller.abort();

    await assert.rejects(aborted, BudgetRequestAbortedError);
    await t.clock.advance(1020);
    assert.equal(await next, "next");
    assert.deepEqual(t.runs.map((run) => run.label), ["first", "next"]);
    assert.equal(t.runs[1].at, start + 1020, "the aborted read used no slot");
  });
});

describe("shared polls", () => {
  function setup() {
    const clock = new FakeClock();
    const registry = new PollRegistry(clock, (error) => {
      throw error;
    });
    const reads: Array<{ at: number; signal: AbortSignal; resolve(reading: PresenceReading): void; reject(error: unknown): void }> = [];
    const read = (signal: AbortSignal) =>
      new Promise<PresenceReading>((resolve, reject) => {
        reads.push({ at: clock.now(), signal, resolve, reject });
      });
    const subscriber = (intervalMs: number) => {
      const seen: string[] = [];
      return { seen, subscriber: { intervalMs, read, onReading: (reading: PresenceReading) => seen.push(reading.status), onError: (error: unknown) => seen.push(`error: ${String(error)}`) } };
    };
    return { clock, registry, reads, subscriber };
  }

  it("reads once for all subscribers of a user, at the shortest interval", async () => {
    const t = setup();
    const a = t.subscriber(60_000);
    const b = t.subscriber(30_000);
    t.registry.subscribe("acct\nu1", a.subscriber);
    t.registry.subscribe("acct\nu1", b.subscriber);
    assert.equal(t.reads.length, 1);

    t.reads[0].resolve({ status: "Available" });
    await t.clock.advance(0);
    assert.deepEqual(a.seen, ["Available"]);
    assert.deepEqual(b.seen, ["Available"]);

    await t.clock.advance(29_999);
    assert.equal(t.reads.length, 1);
    await t.clock.advance(1);
    assert.equal(t.reads.length, 2);
    assert.equal(t.reads[1].at, start + 30_000);
  });

  it("reads for a new subscriber at once", async () => {
    const t = setup();
    t.registry.subscribe("acct\nu1", t.subscriber(60_000).subscriber);
    t.reads[0].resolve({ status: "Away" });
    await t.clock.advance(10_000);

    const late = t.subscriber(60_000);
    t.registry.subscribe("acct\nu1", late.subscriber);
    assert.equal(t.reads.length, 2);
    t.reads[1].resolve({ status: "Away" });
    await t.clock.advance(0);
    assert.deepEqual(late.seen, ["Away"]);
  });

  it("passes errors on and keeps polling", async () => {
    const t = setup();
    const a = t.subscriber(10_000);
    t.registry.subscribe("acct\nu1", a.subscriber);
    t.reads[0].reject(new Error("HTTP 500"));
    await t.clock.advance(10_000);
    t.reads[1].resolve({ status: "Busy" });
    await t.clock.advance(0);

    assert.deepEqual(a.seen, ["error: Error: HTTP 500", "Busy"]);
  });

  it("stops with its last subscriber", async () => {
    const t = setup();
    const stopA = t.registry.subscribe("acct\nu1", t.subscriber(10_000).subscriber);
    const stopB = t.registry.subscribe("acct\nu1", t.subscriber(10_000).subscriber);
    stopA();
    assert.equal(t.registry.size, 1);
    assert.equal(t.reads[0].signal.aborted, false);

    stopB();
    assert.equal(t.registry.size, 0);
    assert.equal(t.reads[0].signal.aborted, true);
    t.reads[0].reject(new BudgetRequestAbortedError());
    await t.clock.advance(60_000);
    assert.equal(t.reads.length, 1);
    assert.equal(t.clock.pendingTimers, 0);
  });
});

describe("readPresence", () => {
  let emulator: ZoomEmulator;

  beforeEach(async () => {
    clearTokenCache();
    emulator = await ZoomEmulator.start();
  });

  afterEach(async () => {
    await emulator.close();
  });

  function connection(maxAttempts: number) {
    const settings = migrateAccountSettings({ cloud: "custom", apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl, maxAttempts, timeout: 5 });
    return createConnection(settings, { accountId: "emu-account", clientId: "emu-client", clientSecret: "emu-secret" }, "test");
  }

  it("retries a 5xx answer", async () => {
    emulator.injectFault("presence.get", { status: 503, body: { code: 503, message: "Service unavailable" } });
    const scheduler = new PresenceScheduler({ decide: decideFailure });

    const reading = await readPresence(scheduler, connection(3), "u1", { backoffMs: () => 10 });

    assert.deepEqual(reading, { status: "Available" });
    assert.deepEqual(emulator.requestsFor("presence.get").map((get) => get.statusCode), [503, 200]);
  });

  it("fails at once on a 404", async () => {
    const scheduler = new PresenceScheduler({ decide: decideFailure });

    await assert.rejects(readPresence(scheduler, connection(3), "nobody", { backoffMs: () => 10 }), (error: unknown) => error instanceof ZoomApiError && error.statusCode === 404);
    assert.equal(emulator.requestsFor("presence.get").length, 1);
  });

  it("gives up after maxAttempts", async () => {
    emulator.injectFault("presence.get", { status: 500, times: Infinity });
    const scheduler = new PresenceScheduler({ decide: decideFailure });

    await assert.rejects(readPresence(scheduler, connection(2), "u1", { backoffMs: () => 10 }), (error: unknown) => error instanceof ZoomApiError && error.statusCode === 500);
    assert.equal(emulator.requestsFor("presence.get").length, 2);
  });
});

describe("ZoomEventSocket", () => {
  let emulator: ZoomEmulator;
  let socket: ZoomEventSocket | undefined;

  beforeEach(async () => {
    clearTokenCache();
    emulator = await ZoomEmulator.start();
  });

  afterEach(async () => {
    socket?.stop();
    socket = undefined;
    await emulator.close();
  });

  function connect(subscriptionId = "emu-subscription", heartbeatMs = 30_000) {
    const tokens = createConnection(
      migrateAccountSettings({ cloud: "custom", apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl }),
      { accountId: "emu-account", clientId: "emu-client", clientSecret: "emu-secret" },
      "test",
    ).tokens;
    const seen = { opens: 0, events: [] as string[], states: [] as EventSocketState[], problems: [] as string[], invalidated: [] as string[] };
    socket = new ZoomEventSocket({
      connectTarget: async () => {
        const token = await tokens.getToken();
        return { url: eventSocketUrl(`ws://127.0.0.1:${new URL(emulator.baseUrl).port}`, subscriptionId, token.value), token: token.value };
      },
      invalidateToken: (token) => {
        seen.invalidated.push(token);
        tokens.invalidate(token);
      },
      onOpen: () => seen.opens++,
      onEvent: (content) => seen.events.push(content),
      onState: (state) => seen.states.push(state),
      onProblem: (description) => seen.problems.push(description),
      heartbeatMs,
      backoffMs: () => 50,
    });
    socket.start();
    return seen;
  }

  it("passes on pushed events", async () => {
    const seen = connect();
    await waitFor(() => seen.opens === 1 && emulator.openWebSockets() === 1);

    const event = emulator.emitPresenceEvent("u1", "In_A_Zoom_Meeting");
    await waitFor(() => seen.events.length === 1);

    assert.deepEqual(JSON.parse(seen.events[0]), event);
    assert.deepEqual(seen.states.map((state) => state.state), ["connecting", "open"]);
    assert.deepEqual(seen.problems, []);
  });

  it("sends heartbeats", async () => {
    const seen = connect("emu-subscription", 40);
    await waitFor(() => emulator.heartbeatsReceived >= 3);

    assert.equal(seen.opens, 1, "answered heartbeats keep the connection");
    assert.deepEqual(seen.problems, []);
  });

  it("reconnects when heartbeats go unanswered", async () => {
    const seen = connect("emu-subscription", 40);
    await waitFor(() => seen.opens === 1);
    emulator.setHeartbeatAnswers(false);
    await waitFor(() => seen.states.some((state) => state.state === "reconnecting"));
    emulator.setHeartbeatAnswers(true);
    await waitFor(() => seen.opens === 2);

    const reconnecting = seen.states.find((state) => state.state === "reconnecting") as { reason: string };
    assert.equal(reconnecting.reason, "no answer to heartbeats");
    assert.equal(seen.invalidated.length, 1);
  });

  it("reconnects with a new token after a drop", async () => {
    const seen = connect();
    await waitFor(() => seen.opens === 1 && emulator.openWebSockets() === 1);
    const firstToken = emulator.webSocketConnections[0].accessToken;

    emulator.dropWebSockets();
    await waitFor(() => seen.opens === 2);

    assert.deepEqual(seen.invalidated, [firstToken]);
    assert.notEqual(emulator.webSocketConnections[1].accessToken, firstToken);
    assert.deepEqual(seen.states.map((state) => state.state), ["connecting", "open", "reconnecting", "connecting", "open"]);
    const reconnecting = seen.states[2] as Extract<EventSocketState, { state: "reconnecting" }>;
    assert.deepEqual({ attempt: reconnecting.attempt, delayMs: reconnecting.delayMs, reason: reconnecting.reason }, { attempt: 1, delayMs: 50, reason: "connection closed (code 1006)" });
  });

  it("retries a refused token with another one", async () => {
    const cached = createConnection(
      migrateAccountSettings({ cloud: "custom", apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl }),
      { accountId: "emu-account", clientId: "emu-client", clientSecret: "emu-secret" },
      "test",
    ).tokens;
    const revoked = (await cached.getToken()).value;
    emulator.revokeTokens();

    const seen = connect();
    await waitFor(() => seen.opens === 1);

    // undici's WebSocket (7.x) repeats an upgrade request that gets 401 once, as fetch does for HTTP
    // authentication, so the emulator records the refused attempt once or twice.
    const records = emulator.webSocketConnections.map((connection) => [connection.accessToken === revoked, connection.status]);
    assert.deepEqual(records.at(-1), [false, 101]);
    assert.ok(records.length >= 2, `${records.length} upgrade requests`);
    assert.ok(records.length <= 3, `${records.length} upgrade requests`);
    assert.deepEqual(records.slice(0, -1), records.slice(0, -1).map(() => [true, 401]));
    assert.deepEqual(seen.invalidated, [revoked]);
    assert.equal((seen.states[1] as { reason?: string }).reason, "connection failed (code 1006)");
  });

  it("reconnects after the server closes for a wrong subscription", async () => {
    const seen = connect("wrong-subscription");
    await waitFor(() => emulator.webSocketConnections.length >= 2);

    const reasons = seen.states.filter((state) => state.state === "reconnecting").map((state) => (state as { reason: string }).reason);
    assert.equal(reasons[0], "connection closed (code 1008: Invalid subscriptionId)");
    assert.equal(emulator.webSocketConnections[0].closeCode, 1008);
  });

  it("stops reconnecting when stopped", async () => {
    const seen = connect();
    await waitFor(() => seen.opens === 1);
    socket?.stop();
    await waitFor(() => emulator.openWebSockets() === 0);
    await new Promise((resolve) => setTimeout(resolve, 200));

    assert.equal(emulator.webSocketConnections.length, 1);
    assert.deepEqual(seen.states.map((state) => state.state), ["connecting", "open"]);
  });
});
