// Input fuzzing of the zoom-presence node: 10,000 seeded random messages through a running flow. A
// small reference model, written from the README's input rules and not from the node's code, decides
// for each message whether it is valid and which PUT it must produce, or which field is at fault.
// Valid messages must produce exactly that PUT; invalid ones no request at all. Set FUZZ_SEED to
// replay a run.
import assert from "node:assert/strict";
import helper from "node-red-node-test-helper";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { clearTokenCache } from "../nodes/zoom/token";
import { MessageEnds, ProcessErrorWatch } from "./support/message-ends";
import { SeededRandom, announceSeed, seedFromEnv } from "./support/seeded-random";

// The compiled nodes, as Node-RED loads them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const accountNode = require("../nodes/zoom-account");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const presenceNode = require("../nodes/zoom-presence");

helper.init(require.resolve("node-red"));

const CASES = 10_000;
const PRESENCE_ID = "fuzz-presence";
const NODE_USER_ID = "fuzz-node-user";
const NODE_DURATION = "20";
const MEGABYTE = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The reference model of valid input, from the README.
// ---------------------------------------------------------------------------------------------

const DO_NOT_DISTURB = "Do_Not_Disturb";
const CANONICAL_STATUSES = ["Available", "Away", "Do_Not_Disturb", "In_Calendar_Event", "Presenting", "In_A_Zoom_Meeting", "On_A_Call", "Out_of_Office", "Busy"];
const STATUS_ALIASES: Record<string, string> = {
  dnd: "Do_Not_Disturb",
  Do_No_Disturb: "Do_Not_Disturb",
  In_Meeting: "In_A_Zoom_Meeting",
  In_A_Meeting: "In_A_Zoom_Meeting",
  On_Phone_Call: "On_A_Call",
  In_A_Call: "On_A_Call",
  In_A_Calendar_Event: "In_Calendar_Event",
};

/** "Case, spaces, hyphens and underscores do not matter": every run of them is one separator. */
function foldSpelling(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_-]+/g, "_");
}

const SPELLINGS = new Map<string, string>();
for (const status of CANONICAL_STATUSES) {
  SPELLINGS.set(foldSpelling(status), status);
}
for (const [alias, status] of Object.entries(STATUS_ALIASES)) {
  SPELLINGS.set(foldSpelling(alias), status);
}

/** Maximum length of a user id or email: RFC 5321 allows 256 octets for a path, angle brackets included. */
const MAX_USER_ID_LENGTH = 254;

type Expected = { valid: true; userId: string; status: string; duration?: number } | { valid: false; field: string };

/** What the error text of each rejected field starts with. */
const FIELD_TEXTS: Record<string, RegExp> = {
  payload: /^Invalid payload: /,
  "payload.status": /^Invalid status/,
  userId: /^Invalid user id /,
  "payload.duration": /^Invalid input: a duration applies only to Do_Not_Disturb/,
  duration: /^Invalid duration /,
};

function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function isObjectPayload(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** True when a string has no lone UTF-16 surrogate, so it can be percent-encoded as UTF-8. */
function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) {
        return false;
      }
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}

function modelUserId(value: unknown): string | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) ? String(value) : undefined;
  }
  if (typeof value !== "string" || /[\u0000-\u001f\u007f-\u009f]/.test(value)) {
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed === "" || trimmed === "." || trimmed === ".." || !isWellFormed(trimmed) || trimmed.length > MAX_USER_ID_LENGTH) {
    return undefined;
  }
  return trimmed;
}

function modelDuration(value: unknown): number | undefined {
  let minutes: number | undefined;
  if (typeof value === "number") {
    minutes = value;
  } else if (typeof value === "string" && /^\s*[0-9]+\s*$/.test(value)) {
    minutes = Number(value);
  }
  return minutes !== undefined && Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440 ? minutes : undefined;
}

/** Returns whether a duration is given: anything but undefined, null or "". */
function isGiven(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

/**
 * Applies the README's rules. The payload is a status string or an object. Payload fields win over
 * msg.userId and msg.duration, which win over the node's settings. A duration applies only to Do Not
 * Disturb. The checks run in the node's order (payload, status, user, duration), so the first fault is named.
 */
function expectedOutcome(msg: { payload: unknown; userId?: unknown; duration?: unknown }): Expected {
  let status: unknown;
  let payloadDuration: unknown;
  let payloadUserId: unknown;
  if (typeof msg.payload === "string") {
    status = msg.payload;
  } else if (isObjectPayload(msg.payload)) {
    status = hasOwn(msg.payload, "status") ? msg.payload.status : undefined;
    payloadDuration = hasOwn(msg.payload, "duration") ? msg.payload.duration : undefined;
    payloadUserId = hasOwn(msg.payload, "userId") ? msg.payload.userId : undefined;
  } else {
    return { valid: false, field: "payload" };
  }

  const canonical = typeof status === "string" ? SPELLINGS.get(foldSpelling(status)) : undefined;
  if (canonical === undefined) {
    return { valid: false, field: "payload.status" };
  }

  const rawUserId = [payloadUserId, msg.userId, NODE_USER_ID].find((value) => value !== undefined && value !== null);
  const userId = modelUserId(rawUserId);
  if (userId === undefined) {
    return { valid: false, field: "userId" };
  }

  if (canonical !== DO_NOT_DISTURB) {
    return isGiven(payloadDuration) ? { valid: false, field: "payload.duration" } : { valid: true, userId, status: canonical };
  }
  const duration = modelDuration([payloadDuration, msg.duration, NODE_DURATION].find(isGiven));
  return duration === undefined ? { valid: false, field: "duration" } : { valid: true, userId, status: canonical, duration };
}

// ---------------------------------------------------------------------------------------------
// The generator of random messages.
// ---------------------------------------------------------------------------------------------

const WHITESPACE = [" ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\ufeff", "\u2028"];
const SEPARATORS = [" ", "_", "-", "  ", " - ", "__", "\t", "\u00a0", "\u3000"];
const CHARACTER_POOLS = [
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  "./?#%@+&=:;,'\"\\<>[]{}()!$*~`^|",
  "\u0000\u0001\u0007\b\t\n\r\u001b\u001f\u007f\u0080\u009f",
  "\u00a0\u2003\u3000\ufeff\u2028\u200b",
  "éßøİıKÅΩжדעص漢字かなＡｖａｉｌ",
  "😀👍🏽𝔘𐐷",
  "\udc00\udfff\ud800\udbff",
];
const SPECIAL_STRINGS = ["", " ", ".", "..", " .. ", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "null", "undefined", "NaN", "true", "d n d", "Availabl", "Available!", "_available", "Away_", "Ａｖａｉｌａｂｌｅ", "Offline", "Mobile_signed_in", "Do Not Disturb\u0000", "In_A_Zoom", "%00", "../x"];

function randomString(random: SeededRandom, maxLength: number): string {
  const length = random.int(0, maxLength);
  let text = "";
  for (let i = 0; i < length; i++) {
    // Picks whole code points, so the pool of astral characters gives surrogate pairs. The last pool
    // contains only lone surrogates, which stay lone.
    text += random.pick([...random.pick(CHARACTER_POOLS)]);
  }
  return text;
}

/** Makes a string of one mebibyte or more: repeated random text, padding around a status, or digits. */
function megabyteString(random: SeededRandom): string {
  switch (random.int(0, 3)) {
    case 0: {
      const chunk = randomString(random, 64).padEnd(1, "x");
      return chunk.repeat(Math.ceil(MEGABYTE / chunk.length)).slice(0, MEGABYTE);
    }
    case 1:
      return " ".repeat(MEGABYTE) + random.pick(CANONICAL_STATUSES) + "\u00a0".repeat(16);
    case 2:
      return "0".repeat(MEGABYTE) + String(random.int(0, 2000));
    default:
      return "Available".repeat(MEGABYTE / 8);
  }
}

/** Spells a status or alias with random case, separators and surrounding whitespace. */
function statusSpelling(random: SeededRandom): string {
  const name = random.chance(0.8) ? random.pick(CANONICAL_STATUSES) : random.pick(Object.keys(STATUS_ALIASES));
  const words = name.split("_").map((word) =>
    [...word].map((char) => (random.chance(0.5) ? char : random.chance(0.5) ? char.toUpperCase() : char.toLowerCase())).join(""),
  );
  let text = words.map((word, index) => (index === 0 ? word : random.pick(SEPARATORS) + word)).join("");
  if (random.chance(0.2)) {
    text = random.pick(WHITESPACE) + text + random.pick(WHITESPACE);
  }
  if (random.chance(0.05)) {
    // One character off: usually an unknown status.
    const at = random.int(0, text.length - 1);
    text = text.slice(0, at) + randomString(random, 1) + text.slice(at + 1);
  }
  return text;
}

function anyString(random: SeededRandom): string {
  return random.weighted<() => string>([
    [4, () => statusSpelling(random)],
    [3, () => randomString(random, 40)],
    [2, () => random.pick(SPECIAL_STRINGS)],
    [0.1, () => megabyteString(random)],
  ])();
}

function number(random: SeededRandom): number {
  return random.weighted<() => number>([
    [4, () => random.int(-5, 1500)],
    [1, () => random.pick([0, 1, 1440, 1441, -0, 20, 30])],
    [1, () => random.between(-100, 2000)],
    [1, () => random.pick([Number.NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, 1e21, 1e3, 2.5])],
  ])();
}

/** Draws a value of any kind that a flow could put into a message, nested up to `depth` levels. */
function anyValue(random: SeededRandom, depth = 2): unknown {
  return random.weighted<() => unknown>([
    [3, () => anyString(random)],
    [2, () => number(random)],
    [1, () => random.chance(0.5)],
    [1, () => null],
    [1, () => undefined],
    [1, () => (depth > 0 ? Array.from({ length: random.int(0, 3) }, () => anyValue(random, depth - 1)) : [])],
    [1, () => (depth > 0 ? randomObject(random, depth - 1) : {})],
    [0.5, () => Buffer.from(randomString(random, 20))],
    [0.2, () => new Date(random.int(0, 2 ** 40))],
  ])();
}

function randomObject(random: SeededRandom, depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = random.int(0, 3); i > 0; i--) {
    object[random.pick(["a", "status", "duration", "userId", "value", randomString(random, 8)])] = anyValue(random, depth);
  }
  return object;
}

function durationValue(random: SeededRandom): unknown {
  return random.weighted<() => unknown>([
    [4, () => random.int(-2, 1442)],
    [3, () => random.pick([" 30 ", "030", "1", "1440", "1441", "0", "1.5", "1e3", "0x1F", "+5", "-5", "", " ", "٣٠", "３０", "30\n", "\u00a030\u3000", "20.0"])],
    [1, () => number(random)],
    [1, () => anyValue(random, 1)],
  ])();
}

/** Draws a user id: a valid-looking one with the case number appended, or one of many broken forms. */
function userIdValue(random: SeededRandom, index: number): unknown {
  return random.weighted<() => unknown>([
    [4, () => `${random.pick(["ana", "Bo", "ana@example.com", "u/../x", "a?b#c%20", "名前", "😀", "x.y", "...", "a b", "%2e%2e"])}-${index}`],
    [1, () => `${random.pick(WHITESPACE.filter((space) => !/[\t\n]/.test(space)))}padded-${index} `],
    [2, () => randomString(random, 30) + `-${index}`],
    [1, () => random.pick(["", "   ", ".", "..", " .. ", "ana\u0000", "tab\tbed", "\u0085nel", "lone\ud800", "\udc00x", "x".repeat(255), "y".repeat(254)])],
    [1, () => number(random)],
    [1, () => anyValue(random, 1)],
    [0.1, () => megabyteString(random)],
  ])();
}

/** Draws an object payload, sometimes parsed from JSON text with own `__proto__` and `constructor` keys. */
function objectPayload(random: SeededRandom, index: number): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  if (random.chance(0.9)) {
    payload.status = random.chance(0.85) ? statusSpelling(random) : anyValue(random, 1);
  }
  if (random.chance(0.4)) {
    payload.duration = durationValue(random);
  }
  if (random.chance(0.3)) {
    payload.userId = userIdValue(random, index);
  }
  if (random.chance(0.2)) {
    payload[randomString(random, 6)] = anyValue(random, 2);
  }
  if (!random.chance(0.2)) {
    return payload;
  }

  // JSON.parse makes "__proto__" an own key, as it arrives from MQTT or HTTP. JSON drops undefined,
  // Buffers become objects, and NaN becomes null, as in any JSON message.
  const poison = random.pick([
    '"__proto__": {"status": "Available", "userId": "proto-user", "polluted": "yes"}',
    '"constructor": {"prototype": {"polluted": "yes", "status": "Away"}}',
    '"__proto__": {"__proto__": {"polluted": "yes"}}',
    '"__proto__": null',
  ]);
  const body = JSON.stringify(payload).slice(1, -1);
  return JSON.parse(`{${poison}${body === "" ? "" : `, ${body}`}}`) as Record<string, unknown>;
}

interface FuzzMessage {
  _msgid: string;
  payload: unknown;
  userId?: unknown;
  duration?: unknown;
}

function randomMessage(random: SeededRandom, index: number): FuzzMessage {
  const payload = random.weighted<() => unknown>([
    [3, () => statusSpelling(random)],
    [3, () => objectPayload(random, index)],
    [2, () => anyString(random)],
    [2, () => anyValue(random, 3)],
  ])();
  const msg: FuzzMessage = { _msgid: `fuzz-${index}`, payload };
  if (random.chance(0.4)) {
    msg.userId = userIdValue(random, index);
  }
  if (random.chance(0.4)) {
    msg.duration = durationValue(random);
  }
  return msg;
}

/** Cuts a text for an assertion message. */
function short(text: string | undefined): string {
  return text !== undefined && text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : String(text);
}

function describeMessage(msg: FuzzMessage): string {
  const text = JSON.stringify(msg, (_key, value: unknown) => {
    if (typeof value === "string" && value.length > 80) {
      return `${value.slice(0, 80)}… (${value.length} characters)`;
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
      return String(value);
    }
    return value === undefined ? "(undefined)" : value;
  });
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

// ---------------------------------------------------------------------------------------------

describe("zoom-presence input fuzz", function () {
  this.timeout(180_000);

  const seed = seedFromEnv("FUZZ_SEED");
  let emulator: ZoomEmulator;
  let ends: MessageEnds;
  let processErrors: ProcessErrorWatch;

  before(async () => {
    announceSeed("fuzz", "FUZZ_SEED", seed);
    clearTokenCache();
    emulator = await ZoomEmulator.start({ presenceWindowMs: 0, users: [{ id: NODE_USER_ID, email: "node-user@example.com" }] });
  });

  after(async () => {
    await helper.unload();
    await emulator.close();
  });

  it("sends the model's PUT for valid input and nothing for invalid", async () => {
    processErrors = new ProcessErrorWatch();
    ends = new MessageEnds(PRESENCE_ID);
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    try {
      await helper.load(
        [accountNode, presenceNode],
        [
          { id: "fuzz-tab", type: "tab" },
          {
            id: "fuzz-account",
            type: "zoom-account",
            authType: "s2s",
            cloud: "custom",
            apiBaseUrl: emulator.apiBaseUrl,
            oauthBaseUrl: emulator.oauthBaseUrl,
            accountRateLimit: 5000,
            timeout: 5,
            maxAttempts: 1,
          },
          {
            id: PRESENCE_ID,
            type: "zoom-presence",
            z: "fuzz-tab",
            account: "fuzz-account",
            userId: NODE_USER_ID,
            userIdType: "str",
            duration: NODE_DURATION,
            whenLimited: "latest",
            minInterval: "0",
            encoding: "json",
            wires: [[]],
          },
        ],
        { "fuzz-account": { accountId: "emu-account", clientId: "emu-client", clientSecret: "emu-secret" } },
      );
      const node = helper.getNode(PRESENCE_ID);
      const random = new SeededRandom(seed);
      const counts = { valid: 0, invalid: 0, megabyte: 0 };
      const fields = new Map<string, number>();
      const startedAt = Date.now();

      for (let index = 0; index < CASES; index++) {
        const msg = randomMessage(random, index);
        const expected = expectedOutcome(msg);
        const shown = describeMessage(msg);
        if (shown.includes("characters)")) {
          counts.megabyte++;
        }
        if (expected.valid && emulator.getStatus(expected.userId) === undefined) {
          // Ids that differ only in case are different Zoom users, so each gets an email of its own.
          emulator.addUser({ id: expected.userId, email: `fuzz-${index}@users.example` });
        }
        const requestsBefore = emulator.requests.length;

        node.receive(msg);
        const { error, msg: ended } = await ends.next(msg._msgid);
        ends.forget(msg._msgid);
        const requests = emulator.requests.slice(requestsBefore);
        const zoom = (ended.zoom ?? {}) as Record<string, unknown>;
        const context = `case ${index} (seed ${seed}): ${shown}`;

        if (expected.valid) {
          counts.valid++;
          assert.equal(error, undefined, `${context}\nexpected a PUT, got the error: ${short(error?.message)}`);
          const puts = requests.filter((request) => request.route === "presence.put");
          assert.equal(puts.length, 1, `${context}\nPUT requests`);
          assert.deepEqual(requests.filter((request) => request.route !== "presence.put" && request.route !== "token"), [], context);
          assert.equal(puts[0].path, `/v2/users/${encodeURIComponent(expected.userId)}/presence_status`, context);
          assert.equal(puts[0].userId, expected.userId, context);
          const body = expected.duration === undefined ? { status: expected.status } : { status: expected.status, duration: expected.duration };
          assert.equal(puts[0].rawBody, JSON.stringify(body), context);
          assert.equal(puts[0].statusCode, 204, context);
          assert.equal(ended.payload, expected.status, context);
          assert.equal(zoom.userId, expected.userId, context);
        } else {
          counts.invalid++;
          fields.set(expected.field, (fields.get(expected.field) ?? 0) + 1);
          assert.deepEqual(requests, [], `${context}\ninvalid input made requests`);
          assert.ok(error, `${context}\nexpected an error on ${expected.field}`);
          assert.equal(zoom.error, "invalid_input", `${context}\n${short(error.message)}`);
          assert.equal(zoom.field, expected.field, `${context}\n${short(error.message)}`);
          assert.match(error.message, FIELD_TEXTS[expected.field], context);
          assert.ok(error.message.length < 1000, `${context}\nan error text of ${error.message.length} characters`);
        }
      }

      const runMs = Date.now() - startedAt;
      const byField = [...fields].map(([field, count]) => `${field} ${count}`).join(", ");
      console.log(`      fuzz: ${CASES} messages in ${runMs} ms: ${counts.valid} valid, ${counts.invalid} invalid (${byField}), ${counts.megabyte} with 1 MB strings`);

      assert.equal(ends.count, CASES, "every message ended exactly once");
      assert.ok(counts.valid > CASES / 5, `only ${counts.valid} valid messages`);
      assert.ok(counts.invalid > CASES / 5, `only ${counts.invalid} invalid messages`);
      assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys, "keys added to Object.prototype");
      for (const key of ["polluted", "status", "userId", "duration"]) {
        assert.equal(({} as Record<string, unknown>)[key], undefined, `Object.prototype.${key}`);
      }

      // The node still works after the fuzzing.
      node.receive({ _msgid: "after-fuzz", payload: "busy", userId: NODE_USER_ID });
      const last = await ends.next("after-fuzz");
      assert.equal(last.error, undefined);
      assert.equal(emulator.getStatus(NODE_USER_ID), "Busy");
      assert.equal(processErrors.errors.length, 0, processErrors.describe());
    } finally {
      ends.dispose();
      processErrors.dispose();
    }
  });
});
