/** Benchmark 3: runs limiter-child.js once per run, each in a fresh process, and summarizes. */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { LimiterRunResult } from "./limiter-child";
import { fixed, formatSpread } from "./stats";

const execFileAsync = promisify(execFile);
const CHILD_SCRIPT = path.join(__dirname, "limiter-child.js");

export interface LimiterOptions {
  runs: number;
  users: number;
  log: (line: string) => void;
}

export async function runLimiterScale(options: LimiterOptions): Promise<{ runs: LimiterRunResult[]; summary: string[] }> {
  const runs: LimiterRunResult[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const { stdout } = await execFileAsync(process.execPath, ["--expose-gc", CHILD_SCRIPT, String(options.users)], { maxBuffer: 1 << 20 });
    const result = JSON.parse(stdout.trim()) as LimiterRunResult;
    runs.push(result);
    options.log(
      `limiter run ${run}: RSS +${fixed(result.rssGrowthPerUserBytes)} B/user, heap +${fixed(result.heapGrowthPerUserBytes)} B/user, ` +
        `lateness p50 ${result.lateness.p50} ms, p99 ${result.lateness.p99} ms, max ${result.lateness.max} ms, missing ${result.missing}`,
    );
  }

  const of = (pick: (run: LimiterRunResult) => number) => runs.map(pick);
  const summary = [
    `Limiter scale, ${options.users} users with one update held each, ${runs.length} runs: median (min–max)`,
    `  RSS growth: ${formatSpread(of((run) => run.rssGrowthPerUserBytes))} B/user ` +
      `(total ${formatSpread(of((run) => (run.held.rssBytes - run.baseline.rssBytes) / 2 ** 20), 1)} MiB)`,
    `  V8 heap growth: ${formatSpread(of((run) => run.heapGrowthPerUserBytes))} B/user`,
    `  V8 young generation at the held reading: ${formatSpread(of((run) => run.held.newSpaceBytes / 2 ** 20), 1)} MiB ` +
      `(before: ${formatSpread(of((run) => run.baseline.newSpaceBytes / 2 ** 20), 1)} MiB)`,
    `  submit() of the held updates: ${formatSpread(of((run) => (run.submitHeldMs * 1000) / run.users), 2)} µs/update`,
    `  lateness after the window opens: p50 ${formatSpread(of((run) => run.lateness.p50))} ms, ` +
      `p99 ${formatSpread(of((run) => run.lateness.p99))} ms, max ${formatSpread(of((run) => run.lateness.max))} ms`,
    `  held updates never sent: ${of((run) => run.missing).join(", ")}`,
  ];
  return { runs, summary };
}
