// The baseline of the throughput benchmark: the same PUTs as the zoom-presence burst, sent with undici's
// Pool.request and a token already in hand, from a process of its own like the Node-RED runtimes.
//
//   BENCH_RAW='{"origin":…,"users":…,"prefix":…,"connections":…}' BENCH_TOKEN=… node dist/bench/raw-client.js
//
// Prints one JSON line: {t0, t1, ok, failed, maxRssKiB}.
import { Pool } from "undici";

interface RawOptions {
  origin: string;
  users: number;
  prefix: string;
  connections: number;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BENCH_RAW ?? "") as RawOptions;
  const token = process.env.BENCH_TOKEN;
  if (!token) {
    throw new Error("Missing BENCH_TOKEN: pass the access token to send.");
  }

  const pool = new Pool(options.origin, { connections: options.connections });
  let ok = 0;
  let failed = 0;

  const t0 = Date.now();
  const requests: Array<Promise<void>> = new Array(options.users);
  for (let i = 0; i < options.users; i++) {
    requests[i] = pool
      .request({
        path: `/v2/users/${encodeURIComponent(options.prefix + i)}/presence_status`,
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ status: "Away" }),
      })
      .then(async (response) => {
        await response.body.text();
        if (response.statusCode === 204) {
          ok++;
        } else {
          failed++;
        }
      });
  }
  await Promise.all(requests);
  const t1 = Date.now();

  await pool.close();
  process.stdout.write(JSON.stringify({ t0, t1, ok, failed, maxRssKiB: process.resourceUsage().maxRSS }) + "\n");
}

main().catch((error: unknown) => {
  console.error("raw-client failed:", error instanceof Error ? error.message : error);
  process.exit(1);
});
