import { setTimeout as sleep } from "node:timers/promises";

/** Polls a condition every 20 ms; rejects after timeoutMs with what was awaited. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = condition.toString()): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(20);
  }
}
