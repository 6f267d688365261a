import assert from "node:assert/strict";
import { InputError } from "../../nodes/zoom/errors";
import { PresenceUpdate, UpdateSources, parseUpdate } from "../../nodes/zoom/input";
import { SETTABLE_STATUSES, parseSettableStatus } from "../../nodes/zoom/statuses";

function update(payload: unknown, rest: Partial<UpdateSources> = {}): PresenceUpdate {
  return parseUpdate({ payload, nodeUserId: "me", nodeDuration: "20", ...rest });
}

function inputError(payload: unknown, rest: Partial<UpdateSources> = {}): InputError {
  try {
    update(payload, rest);
  } catch (error) {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(payload)} to be rejected`);
}

describe("status vocabulary", () => {
  it("accepts every canonical status as itself", () => {
    for (const status of SETTABLE_STATUSES) {
      assert.equal(parseSettableStatus(status), status);
    }
  });

  const spellings: Array<[string, string]> = [
    ["available", "Available"],
    ["  AWAY ", "Away"],
    ["do not disturb", "Do_Not_Disturb"],
    ["do-not-disturb", "Do_Not_Disturb"],
    ["Do__Not - Disturb", "Do_Not_Disturb"],
    ["dnd", "Do_Not_Disturb"],
    ["DND", "Do_Not_Disturb"],
    ["Do_No_Disturb", "Do_Not_Disturb"],
    ["In_Meeting", "In_A_Zoom_Meeting"],
    ["in a meeting", "In_A_Zoom_Meeting"],
    ["in-a-zoom-meeting", "In_A_Zoom_Meeting"],
    ["On_Phone_Call", "On_A_Call"],
    ["In_A_Call", "On_A_Call"],
    ["on a call", "On_A_Call"],
    ["In_A_Calendar_Event", "In_Calendar_Event"],
    ["in calendar event", "In_Calendar_Event"],
    ["out of office", "Out_of_Office"],
    ["busy", "Busy"],
    ["presenting", "Presenting"],
  ];
  for (const [spelling, expected] of spellings) {
    it(`maps ${JSON.stringify(spelling)}`, () => {
      assert.equal(parseSettableStatus(spelling), expected);
    });
  }

  it("rejects statuses that cannot be set", () => {
    for (const spelling of ["Offline", "Mobile_signed_in", "", "available!", "do not"]) {
      assert.equal(parseSettableStatus(spelling), undefined, spelling);
    }
  });
});

describe("parseUpdate", () => {
  it("reads a status string with the node's defaults", () => {
    assert.deepEqual(update("away"), { userId: "me", status: "Away" });
    assert.deepEqual(update("dnd"), { userId: "me", status: "Do_Not_Disturb", duration: 20 });
  });

  it("prefers payload fields, then msg, then the node", () => {
    assert.deepEqual(update({ status: "dnd", duration: 5, userId: "a@example.com" }, { msgUserId: "b", msgDuration: 7 }), {
      userId: "a@example.com",
      status: "Do_Not_Disturb",
      duration: 5,
    });
    assert.deepEqual(update("dnd", { msgUserId: "b", msgDuration: "7" }), { userId: "b", status: "Do_Not_Disturb", duration: 7 });
    assert.deepEqual(update("dnd", { nodeDuration: 45, nodeUserId: "c" }), { userId: "c", status: "Do_Not_Disturb", duration: 45 });
  });

  it("uses Zoom's default duration when none is set", () => {
    assert.deepEqual(update("dnd", { nodeDuration: "" }), { userId: "me", status: "Do_Not_Disturb", duration: 20 });
  });

  it("ignores msg.duration for other statuses", () => {
    assert.deepEqual(update("Available", { msgDuration: "abc" }), { userId: "me", status: "Available" });
  });

  it("accepts the duration limits", () => {
    assert.equal(update({ status: "dnd", duration: 1 }).duration, 1);
    assert.equal(update({ status: "dnd", duration: "1440" }).duration, 1440);
  });

  const badDurations: unknown[] = [0, 2000, "abc", 12.5, "12.5", -1, "", true, [30]];
  for (const duration of badDurations.filter((value) => value !== "")) {
    it(`rejects duration ${JSON.stringify(duration)}`, () => {
      const error = inputError({ status: "dnd", duration });
      assert.equal(error.field, "duration");
      assert.equal(error.key, "errors.duration");
      assert.match(error.message, /expected whole minutes from 1 to 1440/);
    });
  }

  it("names the bad duration value", () => {
    assert.equal(inputError({ status: "dnd", duration: 2000 }).message, "Invalid duration 2000: expected whole minutes from 1 to 1440");
    assert.equal(inputError("dnd", { msgDuration: "abc" }).message, 'Invalid duration "abc": expected whole minutes from 1 to 1440');
  });

  it("rejects a payload duration with another status", () => {
    const error = inputError({ status: "Available", duration: 30 });
    assert.equal(error.field, "payload.duration");
    assert.equal(error.message, "Invalid input: a duration applies only to Do_Not_Disturb, not to Available");
  });

  it("rejects an unknown status and lists the accepted ones", () => {
    const error = inputError("sleeping");
    assert.equal(error.field, "payload.status");
    assert.match(error.message, /^Invalid status "sleeping": expected one of Available, Away, Do_Not_Disturb, /);
  });

  it("rejects a status that is not a string", () => {
    for (const status of [42, true, null, { a: 1 }, ["Away"]]) {
      const error = inputError({ status });
      assert.equal(error.field, "payload.status", JSON.stringify(status));
      assert.match(error.message, /^Invalid status: expected a string, got /);
    }
  });

  it("rejects payloads that are neither string nor object", () => {
    for (const [payload, type] of [[42, "number"], [true, "boolean"], [null, "null"], [undefined, "undefined"], [["Away"], "array"], [Buffer.from("Away"), "Buffer"]] as const) {
      const error = inputError(payload);
      assert.equal(error.field, "payload");
      assert.equal(error.message, `Invalid payload: expected a status string or an object {status, duration?, userId?}, got ${type}`);
    }
  });

  it("rejects bad user ids", () => {
    for (const userId of ["", "  ", ".", "..", "a\nb", "a\u0000b", "tab\there"]) {
      const error = inputError("Away", { msgUserId: userId });
      assert.equal(error.field, "userId", JSON.stringify(userId));
      assert.match(error.message, /^Invalid user id .*: expected a Zoom user id or email/);
    }
    assert.equal(inputError("Away", { nodeUserId: undefined }).field, "userId");
  });

  it("keeps path characters in user ids for encoding", () => {
    assert.equal(update("Away", { msgUserId: "../accounts" }).userId, "../accounts");
  });

  it("takes no inherited keys from a payload", () => {
    const payload = Object.create({ status: "Away" }) as object;
    assert.equal(inputError(payload).field, "payload.status");
  });

  it("cuts long values in messages", () => {
    const error = inputError("x".repeat(100_000));
    assert.ok(error.message.length < 400, `message length ${error.message.length}`);
    assert.match(error.message, /\(100000 characters\)/);
  });
});
