// Benchmark 3, run in a process of its own with --expose-gc: many users, each with one update held by
// the PresenceScheduler, and how late the held updates go out once their windows open.
//
//   node --expose-gc dist/bench/limiter-child.js USERS
//
// The attempt function is a stand-in that resolves at once, so the numbers are the scheduler's own:
// its per-user state, its timer heap and its dispatch. Prints one JSON line (LimiterRunResult).
import v8 from "node:v8";
import { JobSpec, PresenceScheduler } from "../nodes/zoom/limiter";
import { accountKey, decideFailure, userKey } from "../nodes/zoom/policy";
import { percentile } from "./stats";

/** Windows open from BASE_WINDOW_MS to BASE_WINDOW_MS + SPREAD_MS after the response to the first update. */
const BASE_WINDOW_MS = 10_000;
const SPREAD_MS = 10_000;
/** High enough that the account budget never delays a request here: this run measures user windows. */
const ACCOUNT_RATE_LIMIT = 1_000_000;

export interface LimiterRunResult {
  users: number;
  /** RSS and V8 heap in use, after a full GC, before any update. */
  baseline: MemoryReading;
  /** The same, after a full GC, with every user's update held. */
  held: MemoryReading;
  rssGrowthPerUserBytes: number;
  heapGrowthPerUserBytes: number;
  /** Milliseconds for submit() of every held update, which returned with the update held. */
  submitHeldMs: number;
  /** Milliseconds from each window's opening to the call of the held update's attempt. */
  lateness: { p50: number; p99: number; max: number };
  /** Held updates that were still waiting when the window they were due at had passed by 1 s. */
  missing: number;
}

interface MemoryReading {
  rssBytes: number;
  heapUsedBytes: number;
  /** Physical size of V8's young generation, which grows during an allocation burst and stays grown. */
  newSpaceBytes: number;
}

/**
 * Reads memory after full GCs. RSS right after one GC still contains pages that V8 frees on a later
 * GC, so it collects, waits half a second and collects again before reading.
 */
async function memory(): Promise<MemoryReading> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    throw new Error("Run with node --expose-gc: the memory figures need a full GC first.");
  }
  gc();
  await new Promise((resolve) => setTimeout(resolve, 500));
  gc();
  gc();
  const usage = process.memoryUsage();
  const newSpace = v8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space");
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed, newSpaceBytes: newSpace?.physical_space_size ?? 0 };
}

const nextMacrotask = () => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const users = Number(process.argv[2] ?? "100000");
  if (!Number.isInteger(users) || users < 1) {
    throw new Error(`Invalid user count "${process.argv[2]}": expected a whole number of 1 or more.`);
  }

  // Everything the measurement itself needs is allocated before the baseline.
  const opensAt = new Float64Array(users);
  const lateness = new Float64Array(users).fill(Number.NaN);
  const scheduler = new PresenceScheduler({ decide: decideFailure });
  const owner = {};
  const account = accountKey("api.zoom.example", "bench-account");
  const result = { statusCode: 204 };
  let firstSettled = 0;
  let heldSent = 0;
  let allSent: () => void = () => undefined;
  const everyHeldSent = new Promise<void>((resolve) => {
    allSent = resolve;
  });

  const spec = (index: number, attempt: () => Promise<{ statusCode: number }>, settle: () => void): JobSpec<{ statusCode: number }> => ({
    owner,
    userKey: userKey(account, `user-${index}@example.com`),
    accountKey: account,
    accountRateLimit: ACCOUNT_RATE_LIMIT,
    minIntervalMs: BASE_WINDOW_MS + Math.floor((index * SPREAD_MS) / users),
    whenLimited: "latest",
    maxAttempts: 5,
    attempt,
    settle,
  });

  const baseline = await memory();

  // First update of each user: sent at once, and its response closes the user's window.
  for (let i = 0; i < users; i++) {
    scheduler.submit(spec(i, () => Promise.resolve(result), () => firstSettled++));
  }
  while (firstSettled < users) {
    await nextMacrotask();
  }

  // Second update of each user: held until the window opens.
  const submitStart = performance.now();
  for (let i = 0; i < users; i++) {
    const index = i;
    scheduler.submit(
      spec(
        index,
        () => {
          lateness[index] = Date.now() - opensAt[index];
          heldSent++;
          if (heldSent === users) {
            allSent();
          }
          return Promise.resolve(result);
        },
        () => undefined,
      ),
    );
  }
  const submitHeldMs = performance.now() - submitStart;

  for (let i = 0; i < users; i++) {
    const state = scheduler.describeUser(userKey(account, `user-${i}@example.com`));
    if (!state?.pending || state.inFlight) {
      throw new Error(`User ${i} has no held update: ${JSON.stringify(state)}`);
    }
    opensAt[i] = state.opensAt;
  }
  const held = await memory();

  // Stops waiting 1 s after the last window opened, so a lost update shows up as missing.
  let lastOpening = 0;
  for (const time of opensAt) {
    lastOpening = Math.max(lastOpening, time);
  }
  const deadline = setTimeout(allSent, Math.max(0, lastOpening - Date.now()) + 1000);
  await everyHeldSent;
  clearTimeout(deadline);

  const sent = Array.from(lateness).filter((value) => !Number.isNaN(value));
  const report: LimiterRunResult = {
    users,
    baseline,
    held,
    rssGrowthPerUserBytes: (held.rssBytes - baseline.rssBytes) / users,
    heapGrowthPerUserBytes: (held.heapUsedBytes - baseline.heapUsedBytes) / users,
    submitHeldMs,
    lateness: { p50: percentile(sent, 0.5), p99: percentile(sent, 0.99), max: percentile(sent, 1) },
    missing: users - sent.length,
  };
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((error: unknown) => {
  console.error("limiter benchmark failed:", error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
