/** A description of the machine the benchmarks ran on, for the record in BENCHMARKS.md. */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs available to Node.js (os.availableParallelism()). */
  cores: number;
  /** Output of `nproc`: the CPUs this process may run on. */
  nproc: string;
  nodeVersion: string;
  platform: string;
  kernel: string;
  totalMemoryMiB: number;
}

export function describeMachine(): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: os.availableParallelism(),
    nproc: runNproc(),
    nodeVersion: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
  };
}

/** Returns the 1, 5 and 15 minute load averages, to show whether other work shared the CPUs. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (match) {
      return match[1].trim();
    }
  } catch (error) {
    // Not Linux: fall back to what Node.js reports.
    return os.cpus()[0]?.model ?? `unknown (${(error as Error).message})`;
  }
  return os.cpus()[0]?.model ?? "unknown";
}

function runNproc(): string {
  try {
    return execFileSync("nproc", { encoding: "utf8" }).trim();
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}
