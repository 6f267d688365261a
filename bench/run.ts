// Runs the benchmarks and prints their results; `npm run bench` builds first.
//
//   node dist/bench/run.js [throughput] [limiter] [budget] [latency] [--runs N] [--budget-users N]
//
// Without names it runs all four. Every server is on 127.0.0.1. The results are also written as JSON
// to dist/bench/results.json. Benchmarks are not tests: nothing here fails on a slow result.
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { runBudget } from "./budget";
import { runLatency } from "./latency";
import { runLimiterScale } from "./limiter";
import { describeMachine, loadAverage } from "./machine";
import { runThroughput } from "./throughput";

const BENCHMARKS = ["throughput", "limiter", "budget", "latency"] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];

interface RunOptions {
  selected: BenchmarkName[];
  runs: number;
  budgetUsers: number;
}

function readOptions(): RunOptions {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: "string", default: "5" },
      "budget-users": { type: "string", default: "2000" },
    },
  });

  for (const name of positionals) {
    if (!(BENCHMARKS as readonly string[]).includes(name)) {
      throw new Error(`Unknown benchmark "${name}": expected any of ${BENCHMARKS.join(", ")}.`);
    }
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`Invalid --runs "${values.runs}": expected a whole number of 1 or more.`);
  }
  const budgetUsers = Number(values["budget-users"]);
  if (!Number.isInteger(budgetUsers) || budgetUsers < 1) {
    throw new Error(`Invalid --budget-users "${values["budget-users"]}": expected a whole number of 1 or more.`);
  }

  const selected = positionals.length === 0 ? [...BENCHMARKS] : (positionals as BenchmarkName[]);
  return { selected, runs, budgetUsers };
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(): Promise<void> {
  let options: RunOptions;
  try {
    options = readOptions();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
    return;
  }
  const machine = describeMachine();
  const started = Date.now();
  const results: Record<string, unknown> = { machine, command: process.argv.slice(2).join(" "), startedAt: new Date(started).toISOString() };
  const summary: string[] = [
    `Machine: ${machine.cpuModel}, ${machine.cores} logical CPUs (nproc ${machine.nproc}), ${machine.totalMemoryMiB} MiB, ` +
      `Node.js ${machine.nodeVersion}, ${machine.platform}, kernel ${machine.kernel}`,
  ];

  for (const name of options.selected) {
    const benchmarkStart = Date.now();
    const loadBefore = loadAverage();
    let outcome: { runs: unknown; summary: string[] };
    switch (name) {
      case "throughput":
        outcome = await runThroughput({ runs: options.runs, users: 5000, log });
        break;
      case "limiter":
        outcome = await runLimiterScale({ runs: options.runs, users: 100_000, log });
        break;
      case "budget":
        outcome = await runBudget({ runs: options.runs, users: options.budgetUsers, log });
        break;
      case "latency":
        outcome = await runLatency({ runs: options.runs, presses: 500, log });
        break;
    }
    const seconds = Math.round((Date.now() - benchmarkStart) / 1000);
    const loadAfter = loadAverage();
    results[name] = { runs: outcome.runs, seconds, loadBefore, loadAfter };
    summary.push("", ...outcome.summary, `  (${seconds} s; load average before ${loadBefore}, after ${loadAfter})`);
  }

  results.totalSeconds = Math.round((Date.now() - started) / 1000);
  const file = path.join(__dirname, "results.json");
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  process.stdout.write(summary.join("\n") + `\n\nTotal ${results.totalSeconds} s. Results: ${file}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
