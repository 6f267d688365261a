import assert from "node:assert/strict";
import { ACCOUNT_SPAN_MARGIN_MS, FailureDecision, JobSpec, JobState, Outcome, PresenceScheduler, backoffWithJitter } from "../../nodes/zoom/limiter";
import { FakeClock } from "../support/fake-clock";

interface Attempt {
  label: string;
  at: number;
  signal: AbortSignal;
  resolve(value: string): void;
  reject(error: unknown): void;
}

/** A scheduler on a fake clock whose attempts wait until the test answers them. */
function setup(decide: (error: unknown) => FailureDecision = () => ({ action: "fail", reachedServer: true })) {
  const clock = new FakeClock();
  const scheduler = new PresenceScheduler({ clock, decide, backoffMs: (attempt) => 1000 * attempt });
  const attempts: Attempt[] = [];
  const outcomes: Array<{ label: string; outcome: Outcome<string>; job: JobState; at: number }> = [];
  const holds: Array<{ label: string; opensAt: number | undefined }> = [];

  function submit(label: string, overrides: Partial<JobSpec<string>> = {}): JobState {
    return scheduler.submit<string>({
      owner: overrides.owner ?? owner,
      userKey: "api\nacct\nuser-1",
      accountKey: "api\nacct",
      accountRateLimit: 100,
      minIntervalMs: 60_000,
      whenLimited: "latest",
      maxAttempts: 3,
      attempt: (signal) =>
        new Promise<string>((resolve, reject) => {
          attempts.push({ label, at: clock.now(), signal, resolve, reject });
        }),
      settle: (outcome, job) => outcomes.push({ label, outcome, job, at: clock.now() }),
      held: (opensAt) => holds.push({ label, opensAt }),
      ...overrides,
    });
  }

  const owner = {};
  return { clock, scheduler, attempts, outcomes, holds, submit, owner };
}

const start = 1_000_000;

describe("PresenceScheduler", () => {
  it("sends at once while the window is open", async () => {
    const t = setup();
    t.submit("a");
    assert.equal(t.attempts.length, 1);
    assert.equal(t.attempts[0].at, start);

    t.attempts[0].resolve("ok");
    await t.clock.advance(0);
    assert.equal(t.outcomes.length, 1);
    assert.deepEqual(t.outcomes[0].outcome, { type: "sent", result: "ok" });
    assert.equal(t.outcomes[0].job.superseded, 0);
  });

  it("opens the window minInterval after the answer", async () => {
    const t = setup();
    t.submit("a");
    await t.clock.advance(700);
    t.attempts[0].resolve("ok");
    await t.clock.advance(0);

    t.submit("b");
    assert.equal(t.attempts.length, 1, "b is held while the window is closed");
    assert.deepEqual(t.holds, [{ label: "b", opensAt: start + 700 + 60_000 }]);

    await t.clock.advance(60_000 - 1);
    assert.equal(t.attempts.length, 1);
    await t.clock.advance(1);
    assert.equal(t.attempts.length, 2);
    assert.equal(t.attempts[1].label, "b");
    assert.equal(t.attempts[1].at, start + 700 + 60_000);
  });

  it("holds an update while a request is in flight", async () => {
    const t = setup();
    t.submit("a");
    t.submit("b");
    assert.equal(t.attempts.length, 1);
    assert.deepEqual(t.holds, [{ label: "b", opensAt: undefined }]);
  });

  it("keeps only the latest held update", async () => {
    const t = setup();
    t.submit("a");
    t.submit("b");
    t.submit("c");
    assert.deepEqual(
      t.outcomes.map((o) => [o.label, o.outcome.type]),
      [["b", "superseded"]],
    );

    t.attempts[0].resolve("ok");
    await t.clock.advance(60_000);
    assert.deepEqual(
      t.attempts.map((a) => a.label),
      ["a", "c"],
    );
    t.attempts[1].resolve("ok");
    await t.clock.advance(0);
    const c = t.outcomes.find((o) => o.label === "c");
    assert.equal(c?.outcome.type, "sent");
    assert.equal(c?.job.superseded, 1);
  });

  it("drops a new update under the drop policy", async () => {
    const t = setup();
    t.submit("a");
    t.attempts[0].resolve("ok");
    await t.clock.advance(10_000);
    t.submit("b", { whenLimited: "drop" });
    assert.equal(t.attempts.length, 1);
    assert.deepEqual(t.outcomes[1], { label: "b", outcome: { type: "dropped", opensInMs: 50_000 }, job: t.outcomes[1].job, at: start + 10_000 });
  });

  it("rejects a new update under the error policy", async () => {
    const t = setup();
    t.submit("a");
    t.submit("b", { whenLimited: "error" });
    assert.equal(t.attempts.length, 1);
    assert.deepEqual(t.outcomes[0].outcome, { type: "rejected", opensInMs: undefined });
  });

  it("waits out a 429 for Retry-After", async () => {
    const t = setup(() => ({ action: "rate-limited", retryAfterMs: 5000, reachedServer: true }));
    t.submit("a");
    t.attempts[0].reject(new Error("429"));
    await t.clock.advance(4999);
    assert.equal(t.attempts.length, 1);
    await t.clock.advance(1);
    assert.equal(t.attempts.length, 2);
    assert.equal(t.attempts[1].label, "a");

    t.attempts[1].resolve("ok");
    await t.clock.advance(0);
    assert.equal(t.outcomes[0].outcome.type, "sent");
    assert.equal(t.outcomes[0].job.attempts, 1, "a 429 does not use up an attempt");
  });

  it("waits minInterval after a 429 without Retry-After", async () => {
    const t = setup(() => ({ action: "rate-limited", reachedServer: true }));
    t.submit("a");
    t.attempts[0].reject(new Error("429"));
    await t.clock.advance(59_999);
    assert.equal(t.attempts.length, 1);
    await t.clock.advance(1);
    assert.equal(t.attempts.length, 2);
  });

  it("lets a newer update replace one waiting after a 429", async () => {
    const t = setup(() => ({ action: "rate-limited", retryAfterMs: 5000, reachedServer: true }));
    t.submit("a");
    t.submit("b");
    t.attempts[0].reject(new Error("429"));
    await t.clock.advance(0);
    assert.deepEqual(t.outcomes.map((o) => [o.label, o.outcome.type]), [["a", "superseded"]]);

    await t.clock.advance(5000);
    assert.deepEqual(t.attempts.map((a) => a.label), ["a", "b"]);
    t.attempts[1].resolve("ok");
    await t.clock.advance(0);
    assert.equal(t.outcomes[1].job.superseded, 1);
  });

  it("retries with backoff, then fails with the attempt count", async () => {
    const failure = new Error("reset");
    const t = setup(() => ({ action: "retry", reachedServer: false }));
    t.submit("a");
    t.attempts[0].reject(failure);
    await t.clock.advance(999);
    assert.equal(t.attempts.length, 1);
    await t.clock.advance(1);
    assert.equal(t.attempts.length, 2, "second attempt after 1 s");
    t.attempts[1].reject(failure);
    await t.clock.advance(2000);
    assert.equal(t.attempts.length, 3, "third attempt after 2 s more");
    t.attempts[2].reject(failure);
    await t.clock.advance(0);

    assert.deepEqual(t.outcomes.map((o) => o.outcome), [{ type: "failed", error: failure, attempts: 3 }]);
    await t.clock.advance(60_000);
    assert.equal(t.attempts.length, 3);
  });

  it("keeps the window open after a request that never reached Zoom", async () => {
    const t = setup(() => ({ action: "fail", reachedServer: false }));
    t.submit("a");
    t.attempts[0].reject(new Error("refused"));
    await t.clock.advance(0);
    t.submit("b");
    assert.equal(t.attempts.length, 2);
  });

  it("shares one window between owners, the longer interval winning", async () => {
    const t = setup();
    const other = {};
    t.submit("a", { minIntervalMs: 10_000 });
    t.submit("b", { owner: other, minIntervalMs: 30_000 });
    t.attempts[0].resolve("ok");
    await t.clock.advance(29_999);
    assert.equal(t.attempts.length, 1);
    await t.clock.advance(1);
    assert.equal(t.attempts.length, 2);
  });

  it("discards held updates of a closed owner", async () => {
    const t = setup();
    const other = {};
    t.submit("a", { owner: other });
    t.submit("b");
    assert.equal(t.scheduler.cancelOwner(t.owner), 1);
    assert.deepEqual(t.outcomes.map((o) => [o.label, o.outcome.type]), [["b", "discarded"]]);

    t.attempts[0].resolve("ok");
    await t.clock.advance(120_000);
    assert.equal(t.attempts.length, 1, "no request after close");
  });

  it("aborts a request in flight when its owner closes", async () => {
    const t = setup();
    t.submit("a");
    assert.equal(t.scheduler.cancelOwner(t.owner), 1);
    assert.equal(t.attempts[0].signal.aborted, true);
    t.attempts[0].reject(new Error("aborted"));
    await t.clock.advance(0);
    assert.deepEqual(t.outcomes.map((o) => o.outcome), [{ type: "discarded" }]);
  });

  it("keeps the window across a redeploy", async () => {
    const t = setup();
    t.submit("a");
    t.attempts[0].resolve("ok");
    await t.clock.advance(1000);
    t.scheduler.cancelOwner(t.owner);

    const redeployed = {};
    t.submit("b", { owner: redeployed });
    assert.equal(t.attempts.length, 1, "the new node's update waits for the old window");
    await t.clock.advance(59_000);
    assert.equal(t.attempts.length, 2);
  });

  it("limits requests per account per second", async () => {
    const t = setup();
    for (let i = 1; i <= 5; i++) {
      t.submit(`u${i}`, { userKey: `api\nacct\nuser-${i}`, accountRateLimit: 2 });
    }
    assert.deepEqual(t.attempts.map((a) => a.label), ["u1", "u2"]);
    t.attempts[0].resolve("ok");
    t.attempts[1].resolve("ok");
    await t.clock.advance(1000 + ACCOUNT_SPAN_MARGIN_MS - 1);
    assert.equal(t.attempts.length, 2);
    await t.clock.advance(1);
    assert.deepEqual(t.attempts.map((a) => a.label), ["u1", "u2", "u3", "u4"]);
    t.attempts[2].resolve("ok");
    await t.clock.advance(1000 + ACCOUNT_SPAN_MARGIN_MS);
    assert.equal(t.attempts.length, 5);
  });

  it("counts a budget slot from the response, not the send", async () => {
    const t = setup();
    t.submit("u1", { userKey: "api\nacct\nuser-1", accountRateLimit: 1 });
    t.submit("u2", { userKey: "api\nacct\nuser-2", accountRateLimit: 1 });
    await t.clock.advance(5000);
    assert.equal(t.attempts.length, 1, "no slot frees while the only request is in flight");

    t.attempts[0].resolve("ok");
    await t.clock.advance(1000 + ACCOUNT_SPAN_MARGIN_MS - 1);
    assert.equal(t.attempts.length, 1);
    await t.clock.advance(1);
    assert.equal(t.attempts.length, 2);
    assert.equal(t.attempts[1].at, start + 5000 + 1000 + ACCOUNT_SPAN_MARGIN_MS);
  });

  it("forgets users whose window has opened", async () => {
    const t = setup();
    t.submit("a");
    t.attempts[0].resolve("ok");
    await t.clock.advance(0);
    assert.equal(t.scheduler.userCount, 1);
    await t.clock.advance(60_000);
    assert.equal(t.scheduler.userCount, 0);
    assert.equal(t.clock.pendingTimers, 0);
  });

  it("settles a job whose attempt throws synchronously", async () => {
    const failure = new Error("boom");
    const t = setup();
    t.submit("a", {
      attempt: () => {
        throw failure;
      },
    });
    await t.clock.advance(0);
    assert.deepEqual(t.outcomes.map((o) => o.outcome), [{ type: "failed", error: failure, attempts: 1 }]);
  });
});

describe("backoffWithJitter", () => {
  it("doubles up to the cap", () => {
    assert.equal(backoffWithJitter(1, () => 1), 1000);
    assert.equal(backoffWithJitter(2, () => 1), 2000);
    assert.equal(backoffWithJitter(3, () => 1), 4000);
    assert.equal(backoffWithJitter(10, () => 1), 30_000);
  });

  it("keeps at least half of the delay", () => {
    assert.equal(backoffWithJitter(1, () => 0), 500);
    assert.equal(backoffWithJitter(4, () => 0), 4000);
  });
});
