import { setTimeout as sleep } from "node:timers/promises";

/** Polls `read` every 50 ms until it returns a value other than undefined, or rejects after timeoutMs. */
export async function waitUntil<T>(what: string, read: () => T | undefined, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(50);
  }
}

/** Waits until the wall clock reaches `time` (ms since the epoch). */
export async function sleepUntil(time: number): Promise<void> {
  const remaining = time - Date.now();
  if (remaining > 0) {
    await sleep(remaining);
  }
}
