// The zoom-presence node under faults: a seeded random workload of 50 users while the emulator fails
// requests in every way the retry policy handles (5xx, resets, slow and silent servers, 429 with odd
// headers, a token endpoint outage and revoked tokens). Every message must end exactly once, and each
// user must end up with the last status requested. FAULT_SEED replays the workload and
// the order of the faults; which request each fault hits still depends on timing.
import assert from "node:assert/strict";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import helper from "node-red-node-test-helper";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { accountKey, userKey } from "../nodes/zoom/policy";
import { presenceScheduler } from "../nodes/zoom/scheduler";
import { clearTokenCache } from "../nodes/zoom/token";
import { ChaosTimeline, injectRandomPresenceFaults, presenceFault } from "./support/chaos";
import { MessageEnds, ProcessErrorWatch } from "./support/message-ends";
import { waitFor } from "./support/poll";
import { SeededRandom, announceSeed, seedFromEnv } from "./support/seeded-random";

// The compiled nodes, as Node-RED loads them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const accountNode = require("../nodes/zoom-account");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const presenceNode = require("../nodes/zoom-presence");

helper.init(require.resolve("node-red"));

const ACCOUNT = { accountId: "fault-account-id", clientId: "fault-client", clientSecret: "fault-secret" };
const PRESENCE_ID = "fault-presence";
/** The client's request timeout, in seconds: short, so that silent and slow servers cost little time. */
const TIMEOUT_SECONDS = 1;
const DEFAULT_MAX_ATTEMPTS = 5;

const USERS = 50;
const UPDATES_PER_USER = 10;
/** Updates arrive and faults are injected during this span; afterwards the emulator behaves. */
const WORKLOAD_MS = 20_000;
const TOKEN_OUTAGE_MS = 5_000;
const FINAL_SPAN_MS = 3_000;

const STATUSES = ["Available", "Away", "Do_Not_Disturb", "In_Calendar_Event", "Presenting", "In_A_Zoom_Meeting", "On_A_Call", "Out_of_Office", "Busy"];

interface PlannedUpdate {
  msgid: string;
  userId: string;
  /** Milliseconds after the workload starts. */
  at: number;
  payload: unknown;
  status: string;
  /** The exact body of the PUT this update makes. */
  body: string;
}

function flow(emulator: ZoomEmulator, account: Record<string, unknown> = {}, presence: Record<string, unknown> = {}): object[] {
  return [
    { id: "fault-tab", type: "tab" },
    {
      id: "fault-account",
      type: "zoom-account",
      authType: "s2s",
      cloud: "custom",
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      accountRateLimit: 60,
      timeout: TIMEOUT_SECONDS,
      ...account,
    },
    {
      id: PRESENCE_ID,
      type: "zoom-presence",
      z: "fault-tab",
      account: "fault-account",
      userId: "u1",
      userIdType: "str",
      duration: "20",
      whenLimited: "latest",
      minInterval: "1",
      encoding: "json",
      wires: [["fault-out"]],
      ...presence,
    },
    { id: "fault-out", type: "helper", z: "fault-tab" },
  ];
}

const credentials = { "fault-account": { ...ACCOUNT } };

function userName(index: number): string {
  return `user-${String(index + 1).padStart(2, "0")}`;
}

/** Draws a status update in one of the forms a flow sends, and the PUT body it must produce. */
function drawUpdate(random: SeededRandom): { payload: unknown; status: string; body: string } {
  const status = random.pick(STATUSES);
  if (status !== "Do_Not_Disturb") {
    const payload = random.chance(0.5) ? status : { status: status.toLowerCase().replaceAll("_", " ") };
    return { payload, status, body: JSON.stringify({ status }) };
  }
  // Durations from 5 minutes up, so no Do Not Disturb runs out before the test reads the status.
  if (random.chance(0.3)) {
    return { payload: "dnd", status, body: JSON.stringify({ status, duration: 20 }) };
  }
  const duration = random.int(5, 1440);
  return { payload: { status: "Do Not Disturb", duration }, status, body: JSON.stringify({ status, duration }) };
}

/**
 * Plans each user's updates at random moments of the workload. The last one of each user falls in its
 * final FINAL_SPAN_MS, so it cannot use up its attempts before the faults stop. Its fourth attempt
 * would come at least 3.5 s after its first, because the backoffs are at least 0.5, 1 and 2 s.
 */
function planWorkload(random: SeededRandom): PlannedUpdate[] {
  const updates: PlannedUpdate[] = [];
  for (let user = 0; user < USERS; user++) {
    const times = Array.from({ length: UPDATES_PER_USER - 1 }, () => random.int(0, WORKLOAD_MS - FINAL_SPAN_MS - 1)).sort((a, b) => a - b);
    times.push(random.int(WORKLOAD_MS - FINAL_SPAN_MS, WORKLOAD_MS - 1));
    times.forEach((at, index) => {
      updates.push({ msgid: `${userName(user)}#${index + 1}`, userId: userName(user), at, ...drawUpdate(random) });
    });
  }
  // Updates of one user keep their order when two fall on the same millisecond.
  return updates.sort((a, b) => a.at - b.at);
}

/** Returns the scheduler's key of a user of the test account, to look at its window. */
function schedulerKey(emulator: ZoomEmulator, userId: string): string {
  return userKey(accountKey(new URL(emulator.apiBaseUrl).host, ACCOUNT.accountId), userId);
}

/**
 * Stops the flow and returns the time from which the emulator must see no request. Requests written
 * before the stop can still be in the loopback socket. Two turns of the event loop let the emulator
 * read them, so their arrival time falls before the returned time.
 */
async function stopFlow(): Promise<number> {
  await helper.unload();
  await nextTurn();
  await nextTurn();
  return Date.now();
}

describe("zoom-presence under faults", function () {
  this.timeout(240_000);

  const seed = seedFromEnv("FAULT_SEED");
  let emulator: ZoomEmulator;
  let ends: MessageEnds;
  let processErrors: ProcessErrorWatch;
  let chaos: ChaosTimeline | undefined;

  before(() => announceSeed("faults", "FAULT_SEED", seed));

  beforeEach(async () => {
    clearTokenCache();
    processErrors = new ProcessErrorWatch();
    ends = new MessageEnds(PRESENCE_ID);
  });

  afterEach(async () => {
    chaos?.stop();
    ends.dispose();
    processErrors.dispose();
    await helper.unload();
    await emulator?.close();
  });

  it("ends every update once and leaves each user's last status", async () => {
    const random = new SeededRandom(seed);
    const users = Array.from({ length: USERS }, (_, index) => ({ id: userName(index), email: `${userName(index)}@example.com` }));
    emulator = await ZoomEmulator.start({ accounts: [ACCOUNT], users, presenceWindowMs: 1000, accountRateLimit: 60 });
    await helper.load([accountNode, presenceNode], flow(emulator), credentials);
    const node = helper.getNode(PRESENCE_ID);
    const outputs: string[] = [];
    helper.getNode("fault-out").on("input", (msg: object) => outputs.push(String((msg as { _msgid: string })._msgid)));

    const updates = planWorkload(random.fork());
    chaos = new ChaosTimeline();
    const chaosRandom = random.fork();
    injectRandomPresenceFaults(chaos, emulator, chaosRandom, { tickMs: 100, perTick: 0.4, timeoutMs: TIMEOUT_SECONDS * 1000 });
    // The token endpoint fails for 5 s, and the cached token expires as it starts, so every update
    // in that span needs a token that it cannot get.
    const outageAt = chaosRandom.int(3_000, 7_000);
    chaos.at(outageAt, "token endpoint down, tokens expired", () => {
      emulator.injectFault("token", { status: chaosRandom.pick([500, 503]), body: { reason: "Internal error", error: "server_error" }, times: Infinity });
      emulator.expireTokens();
    });
    chaos.at(outageAt + TOKEN_OUTAGE_MS, "token endpoint up", () => emulator.clearFaults("token"));
    chaos.at(chaosRandom.int(13_000, 16_000), "tokens revoked", () => emulator.revokeTokens());

    const startedAt = Date.now();
    for (const update of updates) {
      const wait = startedAt + update.at - Date.now();
      if (wait > 0) {
        await sleep(wait);
      }
      node.receive({ _msgid: update.msgid, payload: update.payload, userId: update.userId });
    }
    await sleep(Math.max(0, startedAt + WORKLOAD_MS - Date.now()));
    chaos.stop();
    emulator.clearFaults();

    await waitFor(() => ends.ids().length === updates.length, 180_000, "every update to end");
    // Time for a second end of any message to show up.
    await sleep(2000);
    const runMs = Date.now() - startedAt;

    const errors = updates.filter((update) => ends.endsOf(update.msgid)[0]?.error !== undefined);
    console.log(
      `      faults: ${updates.length} updates, ${emulator.requestsFor("presence.put").length} PUTs, ` +
        `${emulator.requestsFor("token").length} token requests, ${outputs.length} set, ${errors.length} failed, ${runMs} ms; ` +
        `injected: ${chaos.summary()}`,
    );

    for (const update of updates) {
      assert.equal(ends.endsOf(update.msgid).length, 1, `update ${update.msgid} ended ${ends.endsOf(update.msgid).length} times (seed ${seed})`);
    }
    assert.equal(ends.count, updates.length, "ends of messages that the test did not send");

    for (const update of errors) {
      const { error, msg } = ends.endsOf(update.msgid)[0];
      const zoom = msg.zoom as Record<string, unknown>;
      assert.match(String(error?.message), /^5 attempts failed; the last: (Zoom answered HTTP 5\d\d|Timed out after 1 s|Cannot reach|Token request to)/, `${update.msgid} (seed ${seed})`);
      assert.equal(zoom.attempts, DEFAULT_MAX_ATTEMPTS, `attempts of ${update.msgid}`);
      assert.ok(zoom.error === "network_error" || zoom.error === "zoom_error", `error kind ${String(zoom.error)} of ${update.msgid}`);
    }

    const sent = updates.filter((update) => {
      const [end] = ends.endsOf(update.msgid);
      return end.error === undefined && (end.msg.zoom as { statusCode?: number } | undefined)?.statusCode === 204;
    });
    assert.deepEqual([...outputs].sort(), sent.map((update) => update.msgid).sort(), "outputs are the updates that ended as set");

    const puts = emulator.requestsFor("presence.put");
    for (let index = 0; index < USERS; index++) {
      const userId = userName(index);
      const last = updates.filter((update) => update.userId === userId).at(-1) as PlannedUpdate;
      const [end] = ends.endsOf(last.msgid);
      assert.equal(end.error, undefined, `the last update of ${userId} failed: ${end.error?.message} (seed ${seed})`);
      assert.ok(outputs.includes(last.msgid), `the last update of ${userId} was not output (seed ${seed})`);
      assert.equal(emulator.getStatus(userId), last.status, `status of ${userId} (seed ${seed})`);

      const lastPut = puts.filter((put) => put.userId === userId).at(-1);
      assert.equal(lastPut?.rawBody, last.body, `body of the last PUT for ${userId}`);
      assert.equal(lastPut?.statusCode, 204, `answer to the last PUT for ${userId}`);
    }

    const stoppedAt = await stopFlow();
    await sleep(3000);
    assert.deepEqual(emulator.requests.filter((request) => request.receivedAt > stoppedAt), [], "requests after the flow stopped");
    assert.equal(processErrors.errors.length, 0, processErrors.describe());
  });

  it("sends nothing once the flow stops mid-run", async () => {
    const random = new SeededRandom(seed ^ 0x5f0f);
    const users = Array.from({ length: USERS }, (_, index) => ({ id: userName(index), email: `${userName(index)}@example.com` }));
    emulator = await ZoomEmulator.start({ accounts: [ACCOUNT], users, presenceWindowMs: 1000 });
    await helper.load([accountNode, presenceNode], flow(emulator), credentials);
    const node = helper.getNode(PRESENCE_ID);

    // Silent servers keep requests in flight, 5xx responses put updates into backoff, and the updates
    // that follow are held in closed windows when the flow stops.
    for (let i = 0; i < 15; i++) {
      emulator.injectFault("presence.put", random.chance(0.5) ? { action: "hang" } : presenceFault(random.pick(["500", "503", "reset"] as const), TIMEOUT_SECONDS * 1000));
    }
    const msgids: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let index = 0; index < USERS; index++) {
        const msgid = `stop-${round}-${userName(index)}`;
        msgids.push(msgid);
        node.receive({ _msgid: msgid, payload: random.pick(STATUSES), userId: userName(index) });
      }
      await sleep(random.int(200, 600));
    }

    const stoppedAt = await stopFlow();
    for (let index = 0; index < USERS; index++) {
      const state = presenceScheduler.describeUser(schedulerKey(emulator, userName(index)));
      assert.ok(!state?.pending, `${userName(index)} still has an update held after the stop`);
      assert.ok(!state?.inFlight, `${userName(index)} still has an update in flight after the stop`);
    }
    // Longer than any backoff that was pending at the stop (the second retry waits at most 2 s).
    await sleep(3000);

    assert.deepEqual(emulator.requests.filter((request) => request.receivedAt > stoppedAt), [], "requests after the flow stopped");
    for (const msgid of msgids) {
      assert.equal(ends.endsOf(msgid).length, 1, `${msgid} ended ${ends.endsOf(msgid).length} times (seed ${seed})`);
    }
    assert.equal(processErrors.errors.length, 0, processErrors.describe());
  });

  describe("retries", function () {
    const putStatuses = () => emulator.requestsFor("presence.put").map((put) => put.statusCode);

    async function load(account: Record<string, unknown> = {}, presence: Record<string, unknown> = {}): Promise<ReturnType<typeof helper.getNode>> {
      emulator = await ZoomEmulator.start({ accounts: [ACCOUNT], presenceWindowMs: 0 });
      await helper.load([accountNode, presenceNode], flow(emulator, account, { minInterval: "0.1", ...presence }), credentials);
      return helper.getNode(PRESENCE_ID);
    }

    it("retries 5xx and resets, then names the attempts and last cause", async () => {
      const node = await load({ maxAttempts: 3 });
      for (const kind of ["500", "reset", "503"] as const) {
        emulator.injectFault("presence.put", presenceFault(kind, TIMEOUT_SECONDS * 1000));
      }
      node.receive({ _msgid: "m1", payload: "away" });
      const { error, msg } = await ends.next("m1");

      assert.equal(error?.message, "3 attempts failed; the last: Zoom answered HTTP 503 (code 503) for user u1: Service unavailable");
      assert.deepEqual(msg.zoom, { error: "zoom_error", userId: "u1", statusCode: 503, code: 503, message: "Service unavailable", trackingId: (msg.zoom as { trackingId: string }).trackingId, attempts: 3 });
      assert.deepEqual(putStatuses(), [500, 0, 503]);
    });

    it("succeeds on the last attempt after 502 and a silent server", async () => {
      const node = await load({ maxAttempts: 3 });
      emulator.injectFault("presence.put", presenceFault("502", TIMEOUT_SECONDS * 1000));
      emulator.injectFault("presence.put", presenceFault("hang", TIMEOUT_SECONDS * 1000));
      node.receive({ _msgid: "m1", payload: "busy" });
      const { error, msg } = await ends.next("m1");

      assert.equal(error, undefined);
      assert.equal(msg.payload, "Busy");
      assert.deepEqual(putStatuses(), [502, 0, 204]);
      assert.equal(emulator.requestsFor("token").length, 1);
      assert.equal(emulator.getStatus("u1"), "Busy");
    });

    it("does not retry other 4xx answers", async () => {
      const node = await load();
      const cases = [
        { fault: { status: 400, body: { code: 300, message: "Validation Failed." } }, text: "Zoom answered HTTP 400 (code 300) for user u1: Validation Failed." },
        { fault: { status: 403, body: { code: 200, message: "No permission." } }, text: "Zoom answered HTTP 403 (code 200) for user u1: No permission." },
        { fault: { status: 404, body: { code: 1001, message: "User does not exist: u1." } }, text: "Zoom user u1 does not exist in this account (HTTP 404, code 1001)" },
      ];
      for (const [index, { fault, text }] of cases.entries()) {
        emulator.injectFault("presence.put", fault);
        node.receive({ _msgid: `m${index}`, payload: "away" });
        const { error, msg } = await ends.next(`m${index}`);
        assert.equal(error?.message, text);
        assert.equal((msg.zoom as Record<string, unknown>).attempts, 1);
      }
      assert.deepEqual(putStatuses(), [400, 403, 404]);
    });

    it("retries a rejected token once with a new one", async () => {
      const node = await load();
      node.receive({ _msgid: "first", payload: "away" });
      assert.equal((await ends.next("first")).error, undefined);

      emulator.revokeTokens();
      node.receive({ _msgid: "after-revoke", payload: "available" });
      assert.equal((await ends.next("after-revoke")).error, undefined);
      assert.deepEqual(putStatuses(), [204, 401, 204]);
      assert.equal(emulator.requestsFor("token").length, 2);
      assert.equal(emulator.requestsFor("presence.put")[2].headers.authorization, `Bearer ${emulator.issuedTokens[1]}`);

      emulator.injectFault("presence.put", { status: 401, body: { code: 124, message: "Invalid access token." }, times: 2 });
      node.receive({ _msgid: "rejected-twice", payload: "busy" });
      const { error, msg } = await ends.next("rejected-twice");
      assert.equal(error?.message, "Zoom rejected the access token (HTTP 401, code 124): Invalid access token.");
      assert.equal((msg.zoom as Record<string, unknown>).error, "auth_failed");
      assert.deepEqual(putStatuses(), [204, 401, 204, 401, 401]);
      assert.equal(emulator.requestsFor("token").length, 3);
    });

    it("waits out 429 answers without using attempts", async () => {
      const node = await load({ maxAttempts: 1 });
      emulator.injectFault("presence.put", presenceFault("429 bare", TIMEOUT_SECONDS * 1000));
      emulator.injectFault("presence.put", presenceFault("429 Retry-After date", TIMEOUT_SECONDS * 1000));
      node.receive({ _msgid: "m1", payload: "away" });
      const { error } = await ends.next("m1");

      assert.equal(error, undefined);
      assert.deepEqual(putStatuses(), [429, 429, 204]);
    });

    it("lets a newer update replace one waiting for a retry", async () => {
      const node = await load();
      emulator.injectFault("presence.put", presenceFault("500", TIMEOUT_SECONDS * 1000));
      node.receive({ _msgid: "older", payload: "away" });
      await waitFor(() => putStatuses().length === 1 && putStatuses()[0] === 500);
      node.receive({ _msgid: "newer", payload: "busy" });

      const older = await ends.next("older");
      const newer = await ends.next("newer");
      assert.equal(older.error, undefined);
      assert.equal(older.msg.zoom, undefined, "the replaced update has no result");
      assert.equal(newer.error, undefined);
      assert.equal((newer.msg.zoom as Record<string, unknown>).superseded, 1);
      assert.deepEqual(emulator.requestsFor("presence.put").map((put) => put.rawBody), ['{"status":"Away"}', '{"status":"Busy"}']);
    });

    it("frees the window from a server that never answers", async () => {
      const node = await load({ maxAttempts: 1 });
      emulator.injectFault("presence.put", { action: "hang" });
      node.receive({ _msgid: "silent", payload: "away" });
      const silent = await ends.next("silent");
      assert.equal(silent.error?.message, `Timed out after 1 s waiting for ${new URL(emulator.apiBaseUrl).host}`);
      assert.equal((silent.msg.zoom as Record<string, unknown>).error, "network_error");

      node.receive({ _msgid: "next", payload: "busy" });
      assert.equal((await ends.next("next")).error, undefined);
      assert.deepEqual(putStatuses(), [0, 204]);
    });
  });
});
