/**
 * Benchmark 4: the account budget. A burst of updates for distinct users goes through zoom-presence
 * with accountRateLimit 20 to an emulator that responds 429 to the 21st request in any one second.
 * The rate and the 429s are read from the emulator's record of the PUTs it received.
 */
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { BENCH_ACCOUNT } from "./emulator";
import { packageFlow, startBenchRuntime } from "./node-red";
import { fixed, formatSpread } from "./stats";

const RATE_LIMIT = 20;

export interface BudgetRun {
  users: number;
  /** PUTs the emulator responded to with 204. */
  accepted: number;
  /** PUTs the emulator responded to with 429. */
  rejected429: number;
  /** The 429s among PUTs that arrived 2 s or more after the first PUT, past the start-up. */
  rejected429Later: number;
  /** Milliseconds from the first PUT's arrival to the last one's. */
  spanMs: number;
  /**
   * Requests per second after the first second's burst: (accepted − limit) / span. The budget lets
   * `limit` requests out at once, and every later request waits for a slot.
   */
  sustainedPerSecond: number;
  /** Most PUTs, 429s included, that arrived less than 1000 ms apart. */
  maxInAnySecond: number;
}

export interface BudgetOptions {
  runs: number;
  users: number;
  log: (line: string) => void;
}

export async function runBudget(options: BudgetOptions): Promise<{ runs: BudgetRun[]; summary: string[] }> {
  const runs: BudgetRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const result = await runOnce(options.users, `budget-${run}-`);
    runs.push(result);
    options.log(
      `budget run ${run}: ${fixed(result.sustainedPerSecond, 2)}/s sustained, ${result.accepted} accepted, ` +
        `${result.rejected429} × 429 (${result.rejected429Later} after the first 2 s), at most ${result.maxInAnySecond} in any second, span ${fixed(result.spanMs)} ms`,
    );
  }

  const of = (pick: (run: BudgetRun) => number) => runs.map(pick);
  const summary = [
    `Account budget, ${options.users} users, accountRateLimit ${RATE_LIMIT} against an emulator limit of ${RATE_LIMIT}/s, ${runs.length} runs: median (min–max)`,
    `  sustained rate: ${formatSpread(of((run) => run.sustainedPerSecond), 2)} requests/s`,
    `  429 responses: ${of((run) => run.rejected429).join(", ")}; of these after the first 2 s: ${of((run) => run.rejected429Later).join(", ")}`,
    `  most PUTs received (429s included) in any 1000 ms: ${of((run) => run.maxInAnySecond).join(", ")}`,
    `  accepted: ${of((run) => run.accepted).join(", ")}; span ${formatSpread(of((run) => run.spanMs / 1000), 1)} s`,
  ];
  return { runs, summary };
}

async function runOnce(users: number, prefix: string): Promise<BudgetRun> {
  const emulator = await ZoomEmulator.start({ accounts: [BENCH_ACCOUNT], autoCreateUsers: true, accountRateLimit: RATE_LIMIT });
  try {
    const { flows, credentials } = packageFlow({
      apiBaseUrl: emulator.apiBaseUrl,
      oauthBaseUrl: emulator.oauthBaseUrl,
      credentials: BENCH_ACCOUNT,
      accountRateLimit: RATE_LIMIT,
    });
    const bench = await startBenchRuntime(flows, credentials);
    try {
      const id = `${prefix}burst`;
      await bench.startBurst({ id, kind: "package", users, prefix });
      // Twice the time the budget needs, plus start-up.
      await bench.waitForBurst(id, (users / RATE_LIMIT) * 2000 + 30_000);
    } finally {
      await bench.stop();
    }

    const puts = emulator.requestsFor("presence.put").filter((request) => request.userId?.startsWith(prefix));
    const arrivals = puts.map((request) => request.receivedAt).sort((a, b) => a - b);
    const accepted = puts.filter((request) => request.statusCode === 204).length;
    const spanMs = arrivals[arrivals.length - 1] - arrivals[0];
    const rejected = puts.filter((request) => request.statusCode === 429);
    return {
      users,
      accepted,
      rejected429: rejected.length,
      rejected429Later: rejected.filter((request) => request.receivedAt - arrivals[0] >= 2000).length,
      spanMs,
      sustainedPerSecond: ((accepted - RATE_LIMIT) * 1000) / spanMs,
      maxInAnySecond: maxInWindow(arrivals, 1000),
    };
  } finally {
    await emulator.close();
  }
}

/**
 * Counts the most sorted times that lie less than `windowMs` apart, the span the emulator counts: a request
 * exactly 1000 ms after another no longer shares its second.
 */
function maxInWindow(sortedTimes: number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < sortedTimes.length; end++) {
    while (sortedTimes[end] - sortedTimes[start] >= windowMs) {
      start++;
    }
    most = Math.max(most, end - start + 1);
  }
  return most;
}
