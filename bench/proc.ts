/** Reads the memory of another process from /proc (Linux only). */
import fs from "node:fs";

/**
 * Finds the process whose command line contains `argument` as one whole argument, such as the
 * unique user directory of a Node-RED child. Throws when none or several match.
 */
export function findPidByArgument(argument: string): number {
  const matches: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    let commandLine: string;
    try {
      commandLine = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
    } catch {
      // The process exited between readdir and read.
      continue;
    }
    if (commandLine.split("\0").includes(argument)) {
      matches.push(Number(entry));
    }
  }
  if (matches.length !== 1) {
    throw new Error(`Expected one process with the argument ${argument}, found ${matches.length}: ${matches.join(", ")}`);
  }
  return matches[0];
}

/** Reads a size field of /proc/PID/status, such as VmRSS or VmHWM, in KiB. */
export function readStatusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (!match) {
    throw new Error(`/proc/${pid}/status has no ${field} line`);
  }
  return Number(match[1]);
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS, so that VmHWM read later is the peak
 * since this call. Needs Linux 4.0 or later and permission to write /proc/PID/clear_refs.
 */
export function resetPeakRss(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

export const KIB_PER_MIB = 1024;
