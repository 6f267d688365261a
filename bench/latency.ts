/**
 * Benchmark 5: latency from an MQTT button message to the PUT at the emulator. An MQTT client
 * publishes {status, userId} for a new user every PRESS_INTERVAL_MS; Node-RED's mqtt in node passes
 * it to zoom-presence, whose window for that user is open. Latency is the emulator's receivedAt minus
 * the time just before publish(), both Date.now() in this process, so each value is whole milliseconds.
 */
import type { MqttClient } from "mqtt";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { connectMqtt, startBroker } from "../test/support/runtime";
import { BENCH_ACCOUNT } from "./emulator";
import { mqttFlow, startBenchRuntime } from "./node-red";
import { formatSpread, percentile } from "./stats";

const TOPIC = "bench/button";
const PRESS_INTERVAL_MS = 20;
/** Presses before the measured ones, which also fetch the token and open the pool's sockets. */
const WARM_UP_PRESSES = 20;
/** High enough that the account budget never delays a press here. */
const ACCOUNT_RATE_LIMIT = 100_000;

export interface LatencyRun {
  presses: number;
  p50: number;
  p99: number;
  max: number;
  /** Presses whose PUT never reached the emulator. */
  missing: number;
}

export interface LatencyOptions {
  runs: number;
  presses: number;
  log: (line: string) => void;
}

export async function runLatency(options: LatencyOptions): Promise<{ runs: LatencyRun[]; summary: string[] }> {
  const runs: LatencyRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const result = await runOnce(options.presses, `mqtt-${run}-`);
    runs.push(result);
    options.log(`latency run ${run}: p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms, missing ${result.missing}`);
  }

  const of = (pick: (run: LatencyRun) => number) => runs.map(pick);
  const summary = [
    `MQTT press to PUT, ${options.presses} presses for distinct users, one every ${PRESS_INTERVAL_MS} ms, ${runs.length} runs: median (min–max)`,
    `  p50 ${formatSpread(of((run) => run.p50))} ms, p99 ${formatSpread(of((run) => run.p99))} ms, max ${formatSpread(of((run) => run.max))} ms`,
    `  presses without a PUT: ${of((run) => run.missing).join(", ")}`,
  ];
  return { runs, summary };
}

async function runOnce(presses: number, prefix: string): Promise<LatencyRun> {
  const broker = await startBroker();
  const emulator = await ZoomEmulator.start({ accounts: [BENCH_ACCOUNT], autoCreateUsers: true });
  let button: MqttClient | undefined;
  try {
    const { flows, credentials } = mqttFlow(
      { apiBaseUrl: emulator.apiBaseUrl, oauthBaseUrl: emulator.oauthBaseUrl, credentials: BENCH_ACCOUNT, accountRateLimit: ACCOUNT_RATE_LIMIT },
      broker.port,
      TOPIC,
    );
    const bench = await startBenchRuntime(flows, credentials);
    try {
      await broker.waitForSubscription(TOPIC);
      button = await connectMqtt(broker.url, `${prefix}button`);

      const measured = `${prefix}p`;
      await press(button, `${prefix}w`, WARM_UP_PRESSES);
      const publishedAt = await press(button, measured, presses);
      await waitForPuts(emulator, measured, presses, 10_000);

      const latencies: number[] = [];
      const seen = new Set<string>();
      for (const request of emulator.requestsFor("presence.put")) {
        const index = request.userId?.startsWith(measured) ? Number(request.userId.slice(measured.length)) : Number.NaN;
        if (Number.isInteger(index) && !seen.has(request.userId as string)) {
          seen.add(request.userId as string);
          latencies.push(request.receivedAt - publishedAt[index]);
        }
      }
      return {
        presses,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: percentile(latencies, 1),
        missing: presses - latencies.length,
      };
    } finally {
      await bench.stop();
    }
  } finally {
    await button?.endAsync();
    await emulator.close();
    await broker.close();
  }
}

/** Publishes one press per user, PRESS_INTERVAL_MS apart, and returns each publish time. */
async function press(button: MqttClient, prefix: string, count: number): Promise<number[]> {
  const publishedAt: number[] = [];
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    const due = start + i * PRESS_INTERVAL_MS;
    const wait = due - Date.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    publishedAt.push(Date.now());
    // QoS 1 like a Zigbee2MQTT button; not awaited, so a slow PUBACK does not delay the next press.
    button.publish(TOPIC, JSON.stringify({ status: "Do_Not_Disturb", duration: 30, userId: `${prefix}${i}` }), { qos: 1 });
  }
  return publishedAt;
}

async function waitForPuts(emulator: ZoomEmulator, prefix: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const arrived = emulator.requestsFor("presence.put").filter((request) => request.userId?.startsWith(prefix)).length;
    if (arrived >= count || Date.now() >= deadline) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
