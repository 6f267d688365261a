/** Helpers around the Zoom emulator for the benchmarks. */
import { Pool } from "undici";
import { DEFAULT_ACCOUNT, ZoomEmulator } from "../emulator/zoom-emulator";

export const BENCH_ACCOUNT = { ...DEFAULT_ACCOUNT };

/** Gets an access token from the emulator on a connection of its own, closed before returning. */
export async function fetchToken(emulator: ZoomEmulator): Promise<string> {
  const pool = new Pool(emulator.oauthBaseUrl, { connections: 1 });
  try {
    const basic = Buffer.from(`${BENCH_ACCOUNT.clientId}:${BENCH_ACCOUNT.clientSecret}`).toString("base64");
    const response = await pool.request({
      path: "/oauth/token",
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "account_credentials", account_id: BENCH_ACCOUNT.accountId }).toString(),
    });
    const body = (await response.body.json()) as { access_token?: unknown };
    if (response.statusCode !== 200 || typeof body.access_token !== "string") {
      throw new Error(`The emulator's token endpoint returned ${response.statusCode}`);
    }
    return body.access_token;
  } finally {
    await pool.close();
  }
}

export interface ConnectionSampler {
  /** Stops sampling and returns the most sockets seen open at once. */
  stop(): number;
}

/**
 * Samples the emulator's open sockets every 5 ms. A socket that opens and closes between two samples
 * is missed, so the peak is a lower bound; totalConnections() counts every socket exactly.
 */
export function sampleOpenConnections(emulator: ZoomEmulator): ConnectionSampler {
  let peak = emulator.openConnections();
  const timer = setInterval(() => {
    peak = Math.max(peak, emulator.openConnections());
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, emulator.openConnections());
    },
  };
}

/** Counts the presence PUTs whose user id starts with `prefix`, by status code. */
export function countPuts(emulator: ZoomEmulator, prefix: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const request of emulator.requests) {
    if (request.route === "presence.put" && request.userId?.startsWith(prefix)) {
      counts.set(request.statusCode, (counts.get(request.statusCode) ?? 0) + 1);
    }
  }
  return counts;
}

/** Waits until the emulator's open sockets have closed (the clients' pools closed them), for up to `timeoutMs`. */
export async function waitForIdleSockets(emulator: ZoomEmulator, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (emulator.openConnections() > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
