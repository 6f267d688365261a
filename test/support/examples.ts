// Loads the example flows from examples/ and points them at the test broker and Zoom emulator.
import fs from "node:fs";
import path from "node:path";
import type { FlowCredentials, FlowNode } from "./runtime";
import { REPO_ROOT } from "./runtime";

export const EXAMPLES_DIR = path.join(REPO_ROOT, "examples");

export function exampleFiles(): string[] {
  return fs
    .readdirSync(EXAMPLES_DIR)
    .filter((file) => file.endsWith(".json"))
    .sort();
}

export function loadExample(file: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), "utf8")) as FlowNode[];
}

export interface TestTargets {
  brokerPort: number;
  apiBaseUrl: string;
  oauthBaseUrl: string;
  credentials: { accountId: string; clientId: string; clientSecret: string };
  userId?: string;
  minIntervalSeconds?: number;
}

/**
 * Returns a copy of the flow with only these changes: each broker node's port, each Zoom account's
 * base URLs, and optionally each zoom-presence node's user id and minimum interval. The credentials
 * for every Zoom account come back separately, for the admin API.
 */
export function pointAtTestServers(flows: FlowNode[], targets: TestTargets): { flows: FlowNode[]; credentials: FlowCredentials } {
  const credentials: FlowCredentials = {};

  const rewritten = flows.map((node) => {
    switch (node.type) {
      case "mqtt-broker":
        return { ...node, port: String(targets.brokerPort) };
      case "zoom-account":
        credentials[node.id] = { ...targets.credentials };
        return { ...node, apiBaseUrl: targets.apiBaseUrl, oauthBaseUrl: targets.oauthBaseUrl };
      case "zoom-presence": {
        const changed: FlowNode = { ...node };
        if (targets.userId !== undefined) {
          changed.userId = targets.userId;
        }
        if (targets.minIntervalSeconds !== undefined) {
          changed.minInterval = targets.minIntervalSeconds;
        }
        return changed;
      }
      default:
        return node;
    }
  });

  return { flows: rewritten, credentials };
}
