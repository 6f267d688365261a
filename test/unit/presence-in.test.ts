import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { EventOrder, compareEventTimes, parseEvent, parseEventText } from "../../nodes/zoom/events";
import { reconnectDelayMs, eventSocketUrl } from "../../nodes/zoom/event-socket";
import { LastKnownStatuses } from "../../nodes/zoom/last-known";
import { SPELLINGS, classifyStatus, parseObservedStatus, spellStatus } from "../../nodes/zoom/statuses";
import { isToggle, resolveToggle, toggleTarget } from "../../nodes/zoom/toggle";
import { MAX_TIMESTAMP_SKEW_MS, signWebhook, urlValidationAnswer, verifyWebhook } from "../../nodes/zoom/webhook";

describe("observed status vocabulary", () => {
  // Zoom's spellings per surface: PUT body, GET response (live API), webhook and WebSocket events.
  const table: Array<[string, string | undefined, string | undefined, string | undefined]> = [
    ["Available", "Available", "Available", "Available"],
    ["Away", "Away", "Away", "Away"],
    ["Do_Not_Disturb", "Do_Not_Disturb", "Do_Not_Disturb", "Do_Not_Disturb"],
    ["In_A_Zoom_Meeting", "In_A_Zoom_Meeting", "In_A_Meeting", "In_Meeting"],
    ["On_A_Call", "On_A_Call", "In_A_Call", "On_Phone_Call"],
    ["In_Calendar_Event", "In_Calendar_Event", "In_A_Calendar_Event", "In_Calendar_Event"],
    ["Presenting", "Presenting", "Presenting", "Presenting"],
    ["Out_of_Office", "Out_of_Office", "Out_of_Office", undefined],
    ["Busy", "Busy", "Busy", "Busy"],
    ["Offline", undefined, "Offline", "Offline"],
    ["Mobile_signed_in", undefined, undefined, "Mobile_signed_in"],
  ];

  it("spells each status per surface", () => {
    for (const [status, put, get, event] of table) {
      const canonical = parseObservedStatus(status);
      assert.equal(canonical, status);
      assert.equal(spellStatus(canonical!, "put"), put, `${status} on put`);
      assert.equal(spellStatus(canonical!, "get"), get, `${status} on get`);
      assert.equal(spellStatus(canonical!, "event"), event, `${status} on event`);
    }
    assert.deepEqual(Object.keys(SPELLINGS).sort(), table.map(([status]) => status).sort());
  });

  it("maps every spelling back to its status", () => {
    for (const [status, ...spellings] of table) {
      for (const spelling of spellings.filter((value): value is string => value !== undefined)) {
        assert.equal(parseObservedStatus(spelling), status, spelling);
      }
    }
    assert.equal(parseObservedStatus("Do_No_Disturb"), "Do_Not_Disturb");
    assert.equal(parseObservedStatus("in_meeting"), "In_A_Zoom_Meeting");
  });

  it("maps no unknown value to a status", () => {
    for (const value of ["Sleeping", "", "dnd", "Meeting", "In_A_Zoom", "Offline_Now"]) {
      assert.equal(parseObservedStatus(value), undefined, value);
    }
  });

  it("classifies statuses for lights", () => {
    assert.equal(classifyStatus("Available"), "available");
    assert.equal(classifyStatus("Away"), "away");
    assert.equal(classifyStatus("Offline"), "offline");
    for (const busy of ["Do_Not_Disturb", "In_A_Zoom_Meeting", "On_A_Call", "Presenting"]) {
      assert.equal(classifyStatus(busy), "busy", busy);
    }
    assert.equal(classifyStatus("Sleeping"), "unknown");
    assert.equal(classifyStatus("toString"), "unknown");
  });
});

describe("webhook signature", () => {
  const secret = "hJvJ2mPLQxSGJa1MO6ON6Q";
  const now = Date.parse("2026-03-02T10:00:00Z");
  const timestamp = String(now / 1000);
  const body = '{"event":"user.presence_status_updated","event_ts":1772445600000,"payload":{"account_id":"a","object":{"id":"u1","presence_status":"Available"}}}';
  const signature = `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;

  it("signs v0:{timestamp}:{body} with HMAC-SHA256", () => {
    assert.equal(signWebhook(secret, timestamp, body), signature);
    assert.equal(signWebhook(secret, timestamp, Buffer.from(body)), signature);
  });

  it("accepts a good signature", () => {
    assert.deepEqual(verifyWebhook(secret, { signature, timestamp, bodies: [body] }, now), { ok: true });
  });

  it("accepts a match with any candidate body", () => {
    const reformatted = JSON.stringify(JSON.parse(body), null, 2);
    assert.deepEqual(verifyWebhook(secret, { signature, timestamp, bodies: [Buffer.from(reformatted), body] }, now), { ok: true });
  });

  it("rejects a bad signature", () => {
    const forged = signWebhook("another-secret", timestamp, body);
    assert.deepEqual(verifyWebhook(secret, { signature: forged, timestamp, bodies: [body] }, now), { ok: false, reason: "bad-signature" });
    assert.deepEqual(verifyWebhook(secret, { signature: "v0=short", timestamp, bodies: [body] }, now), { ok: false, reason: "bad-signature" });
  });

  it("rejects a tampered body", () => {
    const tampered = body.replace("Available", "Do_Not_Disturb");
    assert.deepEqual(verifyWebhook(secret, { signature, timestamp, bodies: [tampered] }, now), { ok: false, reason: "bad-signature" });
  });

  it("rejects a timestamp more than 5 minutes off", () => {
    const stale = String((now - MAX_TIMESTAMP_SKEW_MS - 1000) / 1000);
    const future = String((now + MAX_TIMESTAMP_SKEW_MS + 1000) / 1000);
    const edge = String((now - MAX_TIMESTAMP_SKEW_MS) / 1000);
    assert.deepEqual(verifyWebhook(secret, { signature: signWebhook(secret, stale, body), timestamp: stale, bodies: [body] }, now), { ok: false, reason: "stale" });
    assert.deepEqual(verifyWebhook(secret, { signature: signWebhook(secret, future, body), timestamp: future, bodies: [body] }, now), { ok: false, reason: "stale" });
    assert.deepEqual(verifyWebhook(secret, { signature: signWebhook(secret, edge, body), timestamp: edge, bodies: [body] }, now), { ok: true });
  });

  it("rejects missing or malformed headers", () => {
    assert.deepEqual(verifyWebhook(secret, { signature: undefined, timestamp, bodies: [body] }, now), { ok: false, reason: "missing-signature" });
    assert.deepEqual(verifyWebhook(secret, { signature, timestamp: undefined, bodies: [body] }, now), { ok: false, reason: "missing-timestamp" });
    assert.deepEqual(verifyWebhook(secret, { signature, timestamp: "yesterday", bodies: [body] }, now), { ok: false, reason: "bad-timestamp" });
    assert.deepEqual(verifyWebhook(secret, { signature, timestamp, bodies: [] }, now), { ok: false, reason: "bad-signature" });
  });

  it("answers URL validation with the HMAC of the plain token", () => {
    const expected = createHmac("sha256", secret).update("qgg8vlvZRS6UYooatFL8Aw").digest("hex");
    assert.deepEqual(urlValidationAnswer(secret, "qgg8vlvZRS6UYooatFL8Aw"), { plainToken: "qgg8vlvZRS6UYooatFL8Aw", encryptedToken: expected });
  });
});

describe("presence events", () => {
  const event = {
    event: "user.presence_status_updated",
    event_ts: 1772445600123,
    payload: {
      account_id: "acct",
      object: { id: "u1", email: "desk@example.com", date_time: "2026-03-02T10:00:00Z", presence_status: "In_Meeting", app: { type: "desktop", presence_status: "In_Meeting" } },
    },
  };

  it("parses a presence event", () => {
    assert.deepEqual(parseEvent(event), {
      kind: "presence",
      event: {
        userId: "u1",
        email: "desk@example.com",
        accountId: "acct",
        rawStatus: "In_Meeting",
        dateTime: "2026-03-02T10:00:00Z",
        time: { changedAt: Date.parse("2026-03-02T10:00:00Z"), sentAt: 1772445600123 },
        app: { type: "desktop", presence_status: "In_Meeting" },
      },
    });
  });

  it("tells URL validation, other events and invalid input apart", () => {
    assert.deepEqual(parseEvent({ event: "endpoint.url_validation", payload: { plainToken: "p" } }), { kind: "url-validation", plainToken: "p" });
    assert.deepEqual(parseEvent({ event: "meeting.started", payload: {} }), { kind: "other", name: "meeting.started" });
    assert.equal(parseEvent({ event: "user.presence_status_updated", payload: { object: { id: "u1" } } }).kind, "invalid");
    assert.equal(parseEvent([]).kind, "invalid");
    assert.equal(parseEventText("{not json").kind, "invalid");
    assert.equal(parseEventText(JSON.stringify(event)).kind, "presence");
  });

  it("orders by change time, then by event_ts", () => {
    const at = (changedAt?: number, sentAt?: number) => ({ changedAt, sentAt });
    assert.ok(compareEventTimes(at(1000, 5000), at(2000, 1000)) < 0);
    assert.ok(compareEventTimes(at(2000, 1500), at(2000, 1400)) > 0);
    assert.equal(compareEventTimes(at(2000), at(2000)), 0);
    assert.equal(compareEventTimes(at(), at(2000, 1)), 0);
    assert.ok(compareEventTimes(at(undefined, 900), at(1000)) < 0);
  });

  it("drops events older than the newest per user", () => {
    const order = new EventOrder();
    assert.equal(order.accept("u1", { changedAt: 2000, sentAt: 2100 }), true);
    assert.equal(order.accept("u1", { changedAt: 1000, sentAt: 3000 }), false, "a late delivery of an older change");
    assert.equal(order.accept("u2", { changedAt: 1000 }), true, "another user has its own order");
    assert.equal(order.accept("u1", { changedAt: 2000, sentAt: 2050 }), false, "same second, sent earlier");
    assert.equal(order.accept("u1", { changedAt: 2000, sentAt: 2100 }), true, "a repeat of the newest");
    assert.equal(order.accept("u1", {}), true, "no time to compare");
    assert.equal(order.accept("u1", { changedAt: 3000 }), true);
    assert.equal(order.accept("u1", { changedAt: 2500 }), false);
  });
});

describe("WebSocket reconnect backoff", () => {
  it("doubles from 0.5-1 s up to 30-60 s", () => {
    const low = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempt) => reconnectDelayMs(attempt, () => 0));
    const high = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempt) => reconnectDelayMs(attempt, () => 1));
    assert.deepEqual(low, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    assert.deepEqual(high, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it("builds the subscription URL with the token as a query parameter", () => {
    const url = eventSocketUrl("wss://ws.zoom.us", "sub id", "tok+en");
    assert.equal(url.toString(), "wss://ws.zoom.us/ws?subscriptionId=sub+id&access_token=tok%2Ben");
    assert.equal(eventSocketUrl("ws://127.0.0.1:9/", "s", "t").toString(), "ws://127.0.0.1:9/ws?subscriptionId=s&access_token=t");
  });
});

describe("last known statuses", () => {
  it("finds a status by any identifier of the user", () => {
    const store = new LastKnownStatuses(() => 42);
    store.record("api\nacct", ["u1", "Desk@Example.com"], "Do_Not_Disturb", "webhook");

    assert.deepEqual(store.get("api\nacct", "u1"), { status: "Do_Not_Disturb", source: "webhook", recordedAt: 42 });
    assert.equal(store.get("api\nacct", "desk@example.com")?.status, "Do_Not_Disturb");
    assert.equal(store.get("api\nother", "u1"), undefined);
    assert.equal(store.get("api\nacct", "U1"), undefined, "user ids are case-sensitive");
  });
});

describe("toggle", () => {
  it("switches Do Not Disturb to Available and anything else to Do Not Disturb", () => {
    assert.equal(toggleTarget("Do_Not_Disturb"), "Available");
    assert.equal(toggleTarget("Available"), "Do_Not_Disturb");
    assert.equal(toggleTarget("In_A_Zoom_Meeting"), "Do_Not_Disturb");
    assert.equal(toggleTarget(undefined), "Do_Not_Disturb");
  });

  it("recognises the toggle payload", () => {
    assert.equal(isToggle("toggle"), true);
    assert.equal(isToggle(" TOGGLE "), true);
    assert.equal(isToggle({ status: "Toggle", duration: 5 }), true);
    assert.equal(isToggle("dnd"), false);
    assert.equal(isToggle({ payload: "toggle" }), false);
    assert.equal(isToggle(null), false);
  });

  it("keeps a duration only for Do Not Disturb", () => {
    assert.equal(resolveToggle("toggle", "Available"), "Available");
    assert.deepEqual(resolveToggle({ status: "toggle", duration: 5, userId: "u1" }, "Do_Not_Disturb"), { status: "Do_Not_Disturb", duration: 5, userId: "u1" });
    assert.deepEqual(resolveToggle({ status: "toggle", duration: 5, userId: "u1" }, "Available"), { status: "Available", userId: "u1" });
  });
});
