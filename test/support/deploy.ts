// Deploys to a runtime from test/support/runtime.ts and waits for the new flows to start. Node-RED's
// POST /flows (4.1) responds once the old flows have stopped, before the new ones have started, so a
// request that needs a new node right after a deploy can find none.
import type { DeploymentType, FlowNode, Runtime } from "./runtime";
import { waitUntil } from "./wait";

const FLOWS_STARTED = '{"event":"flows-started"}';

/** Number of times Node-RED has started flows in this runtime: at its start and after each deploy. */
export function flowsStartedCount(runtime: Runtime): number {
  return runtime.logs.filter((line) => line === FLOWS_STARTED).length;
}

/** Resolves once Node-RED has started flows at least `count` times. */
export async function waitForFlowsStarted(runtime: Runtime, count: number, timeoutMs = 30_000): Promise<void> {
  await waitUntil(`flows to start for the ${count}. time`, () => (flowsStartedCount(runtime) >= count ? true : undefined), timeoutMs);
}

/** Deploys the flows and resolves once they have started. */
export async function deployAndWait(runtime: Runtime, flows: FlowNode[], type: DeploymentType = "full"): Promise<void> {
  const before = flowsStartedCount(runtime);
  await runtime.deploy(flows, type);
  await waitForFlowsStarted(runtime, before + 1);
}
