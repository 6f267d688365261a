/**
 * Benchmarks 1 and 2: a burst of presence updates for distinct users, sent three ways in each run:
 *
 * - raw: undici Pool.request PUTs with the token in hand, from a process of its own, over a pool of
 *   POOL_CONNECTIONS sockets (the package's pool size);
 * - package: a function node emits the burst into zoom-presence in a real Node-RED runtime;
 * - hand-built: the same function node builds msg.url, method, headers and payload for Node-RED's
 *   core http request node.
 *
 * Each variant gets a fresh emulator and a fresh client process, so socket counts, the token count
 * and the peak RSS belong to that variant alone. Times run from the burst's start (before the first
 * message is built) to the last output.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { POOL_CONNECTIONS } from "../nodes/zoom/http";
import { BENCH_ACCOUNT, countPuts, fetchToken, sampleOpenConnections, waitForIdleSockets } from "./emulator";
import { BurstKind, BurstReport, handBuiltFlow, packageFlow, startBenchRuntime } from "./node-red";
import { KIB_PER_MIB, readStatusKiB, resetPeakRss } from "./proc";
import { fixed, formatSpread } from "./stats";

const execFileAsync = promisify(execFile);
const RAW_CLIENT_SCRIPT = path.join(__dirname, "raw-client.js");
/** Set high so that the account budget never delays a request in this benchmark. */
const ACCOUNT_RATE_LIMIT = 100_000;
const BURST_TIMEOUT_MS = 300_000;

export interface VariantResult {
  elapsedMs: number;
  updatesPerSecond: number;
  ok: number;
  failed: number;
  /** 204 responses that the emulator sent for this variant's users. */
  acceptedAtEmulator: number;
  /** Sockets the emulator accepted during the burst. */
  socketsOpened: number;
  /** Most sockets open at once during the burst, sampled every 5 ms. */
  peakOpenSockets: number;
  /** RSS of the client process just before the burst, in MiB (raw: not measured). */
  rssBeforeMiB?: number;
  /** Peak RSS of the client process during the burst (raw: over the whole process life), in MiB. */
  peakRssMiB: number;
  /** Token requests that reached the emulator during the burst. */
  tokenRequests: number;
}

export interface ThroughputRun {
  raw: VariantResult;
  package: VariantResult;
  handBuilt: VariantResult;
  packageToRaw: number;
  packageToHandBuilt: number;
  /** Peak RSS of the package's Node-RED over that of the hand-built flow's. */
  peakRssPackageToHandBuilt: number;
  /** The same for the growth from the RSS before the burst to the peak. */
  rssGrowthPackageToHandBuilt: number;
}

export interface ThroughputOptions {
  runs: number;
  users: number;
  log: (line: string) => void;
}

export async function runThroughput(options: ThroughputOptions): Promise<{ runs: ThroughputRun[]; summary: string[] }> {
  options.log(`throughput: warm-up of the emulator with one raw burst of ${options.users}`);
  await withEmulator((emulator) => runRaw(emulator, options.users, "warm-"));

  const runs: ThroughputRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const raw = await withEmulator((emulator) => runRaw(emulator, options.users, `raw-${run}-`));
    options.log(`throughput run ${run}: raw ${describe(raw)}`);
    const pkg = await withEmulator((emulator) => runNodeRed("package", emulator, options.users, `pkg-${run}-`));
    options.log(`throughput run ${run}: package ${describe(pkg)}`);
    const handBuilt = await withEmulator((emulator) => runNodeRed("hand-built", emulator, options.users, `hand-${run}-`));
    options.log(`throughput run ${run}: hand-built ${describe(handBuilt)}`);

    runs.push({
      raw,
      package: pkg,
      handBuilt,
      packageToRaw: pkg.updatesPerSecond / raw.updatesPerSecond,
      packageToHandBuilt: pkg.updatesPerSecond / handBuilt.updatesPerSecond,
      peakRssPackageToHandBuilt: pkg.peakRssMiB / handBuilt.peakRssMiB,
      rssGrowthPackageToHandBuilt: rssGrowth(pkg) / rssGrowth(handBuilt),
    });
  }
  return { runs, summary: summarize(runs, options.users) };
}

async function withEmulator<T>(body: (emulator: ZoomEmulator) => Promise<T>): Promise<T> {
  const emulator = await ZoomEmulator.start({ accounts: [BENCH_ACCOUNT], autoCreateUsers: true });
  try {
    return await body(emulator);
  } finally {
    await emulator.close();
  }
}

async function runRaw(emulator: ZoomEmulator, users: number, prefix: string): Promise<VariantResult> {
  const token = await fetchToken(emulator);
  await waitForIdleSockets(emulator);
  const connectionsBefore = emulator.totalConnections();
  const tokensBefore = emulator.requestsFor("token").length;
  const sampler = sampleOpenConnections(emulator);

  let stdout: string;
  let peakOpenSockets: number;
  try {
    // execFile, not execFileSync: the emulator responds from this process's event loop.
    ({ stdout } = await execFileAsync(process.execPath, [RAW_CLIENT_SCRIPT], {
      env: {
        ...process.env,
        BENCH_RAW: JSON.stringify({ origin: emulator.baseUrl, users, prefix, connections: POOL_CONNECTIONS }),
        BENCH_TOKEN: token,
      },
    }));
  } finally {
    peakOpenSockets = sampler.stop();
  }
  const report = JSON.parse(stdout.trim().split("\n").pop() as string) as { t0: number; t1: number; ok: number; failed: number; maxRssKiB: number };

  const elapsedMs = report.t1 - report.t0;
  return {
    elapsedMs,
    updatesPerSecond: (users * 1000) / elapsedMs,
    ok: report.ok,
    failed: report.failed,
    acceptedAtEmulator: countPuts(emulator, prefix).get(204) ?? 0,
    socketsOpened: emulator.totalConnections() - connectionsBefore,
    peakOpenSockets,
    peakRssMiB: report.maxRssKiB / KIB_PER_MIB,
    tokenRequests: emulator.requestsFor("token").length - tokensBefore,
  };
}

async function runNodeRed(kind: BurstKind, emulator: ZoomEmulator, users: number, prefix: string): Promise<VariantResult> {
  const target = {
    apiBaseUrl: emulator.apiBaseUrl,
    oauthBaseUrl: emulator.oauthBaseUrl,
    credentials: BENCH_ACCOUNT,
    accountRateLimit: ACCOUNT_RATE_LIMIT,
  };
  const { flows, credentials } = kind === "package" ? packageFlow(target) : { flows: handBuiltFlow(), credentials: undefined };
  // The hand-built flow gets its token the way a user pastes one in: fetched before the burst.
  const token = kind === "hand-built" ? await fetchToken(emulator) : undefined;

  const bench = await startBenchRuntime(flows, credentials);
  try {
    await waitForIdleSockets(emulator);
    const rssBeforeKiB = readStatusKiB(bench.pid, "VmRSS");
    resetPeakRss(bench.pid);
    const connectionsBefore = emulator.totalConnections();
    const tokensBefore = emulator.requestsFor("token").length;
    const sampler = sampleOpenConnections(emulator);

    const id = `${prefix}burst`;
    let report: BurstReport;
    let peakOpenSockets: number;
    try {
      await bench.startBurst({ id, kind, users, prefix, apiBaseUrl: emulator.apiBaseUrl, token });
      report = await bench.waitForBurst(id, BURST_TIMEOUT_MS);
    } finally {
      peakOpenSockets = sampler.stop();
    }
    const peakRssKiB = readStatusKiB(bench.pid, "VmHWM");

    const elapsedMs = report.t1 - report.t0;
    return {
      elapsedMs,
      updatesPerSecond: (users * 1000) / elapsedMs,
      ok: report.ok,
      failed: report.failed,
      acceptedAtEmulator: countPuts(emulator, prefix).get(204) ?? 0,
      socketsOpened: emulator.totalConnections() - connectionsBefore,
      peakOpenSockets,
      rssBeforeMiB: rssBeforeKiB / KIB_PER_MIB,
      peakRssMiB: peakRssKiB / KIB_PER_MIB,
      tokenRequests: emulator.requestsFor("token").length - tokensBefore,
    };
  } finally {
    await bench.stop();
  }
}

function rssGrowth(result: VariantResult): number {
  return result.peakRssMiB - (result.rssBeforeMiB ?? 0);
}

function describe(result: VariantResult): string {
  const rss = result.rssBeforeMiB === undefined ? "" : `, RSS ${fixed(result.rssBeforeMiB)} → peak ${fixed(result.peakRssMiB)} MiB`;
  return (
    `${fixed(result.elapsedMs)} ms, ${fixed(result.updatesPerSecond)}/s, ok ${result.ok}, failed ${result.failed}, ` +
    `204 at emulator ${result.acceptedAtEmulator}, sockets ${result.socketsOpened} (peak open ${result.peakOpenSockets}), ` +
    `tokens ${result.tokenRequests}${rss}`
  );
}

function summarize(runs: ThroughputRun[], users: number): string[] {
  const of = (pick: (run: ThroughputRun) => number) => runs.map(pick);
  const lines = [`Throughput, ${users} distinct users, ${runs.length} runs: median (min–max)`];
  for (const [name, key] of [["raw undici", "raw"], ["zoom-presence", "package"], ["hand-built flow", "handBuilt"]] as const) {
    lines.push(
      `  ${name}: ${formatSpread(of((run) => run[key].updatesPerSecond))} updates/s, ` +
        `${formatSpread(of((run) => run[key].elapsedMs))} ms, ` +
        `sockets opened ${formatSpread(of((run) => run[key].socketsOpened))}, ` +
        `peak open ${formatSpread(of((run) => run[key].peakOpenSockets))}, ` +
        `peak RSS ${formatSpread(of((run) => run[key].peakRssMiB))} MiB, ` +
        `failed ${formatSpread(of((run) => run[key].failed))}`,
    );
  }
  lines.push(`  zoom-presence / raw undici: ${formatSpread(of((run) => run.packageToRaw), 2)}×`);
  lines.push(`  zoom-presence / hand-built: ${formatSpread(of((run) => run.packageToHandBuilt), 1)}×`);
  lines.push(
    `  RSS before the burst: zoom-presence ${formatSpread(of((run) => run.package.rssBeforeMiB ?? Number.NaN))} MiB, ` +
      `hand-built ${formatSpread(of((run) => run.handBuilt.rssBeforeMiB ?? Number.NaN))} MiB`,
  );
  lines.push(`  peak RSS zoom-presence / hand-built: ${formatSpread(of((run) => run.peakRssPackageToHandBuilt), 2)}`);
  lines.push(`  RSS growth (peak − before) zoom-presence / hand-built: ${formatSpread(of((run) => run.rssGrowthPackageToHandBuilt), 2)}`);
  lines.push(`  token requests per zoom-presence burst: ${of((run) => run.package.tokenRequests).join(", ")}`);
  lines.push("  per run: package/raw, package/hand-built, peak RSS ratio, RSS growth ratio");
  runs.forEach((run, index) => {
    lines.push(
      `    run ${index + 1}: ${fixed(run.packageToRaw, 2)}×, ${fixed(run.packageToHandBuilt, 1)}×, ` +
        `${fixed(run.peakRssPackageToHandBuilt, 2)}, ${fixed(run.rssGrowthPackageToHandBuilt, 2)}`,
    );
  });
  return lines;
}
