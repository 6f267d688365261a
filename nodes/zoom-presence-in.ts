/**
 * The `zoom-presence-in` node: outputs a Zoom user's presence status as Zoom shows it, from a poll, a
 * webhook route or the WebSockets event subscription. It reads its settings, adds the webhook route,
 * and turns the watcher's observations and state into messages, node status and log lines.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { ZoomAccountNode } from "./common/account-node";
import { errorText, translate } from "./common/i18n";
import { shortError } from "./common/status";
import { InvalidPathError, PathInUseError, WebhookRoute, normalisePath } from "./common/webhook-route";
import { AccountConnection } from "./zoom/account";
import { InputError } from "./zoom/errors";
import { parseUserId } from "./zoom/input";
import { eventSockets } from "./zoom/event-socket";
import { lastKnownStatuses } from "./zoom/last-known";
import { BudgetRequestAbortedError } from "./zoom/limiter";
import { presencePolls } from "./zoom/poller";
import {
  DEFAULT_POLL_INTERVAL_SECONDS,
  EmitMode,
  MIN_POLL_INTERVAL_SECONDS,
  PRESENCE_SOURCES,
  PresenceObservation,
  PresenceSource,
  PresenceWatcher,
  WatchProblem,
  WatchView,
} from "./zoom/presence-watch";
import { presenceScheduler } from "./zoom/scheduler";
import { classifyStatus } from "./zoom/statuses";

interface PresenceInNodeDef extends NodeDef {
  account: string;
  userId: string;
  userIdType: string;
  source: string;
  interval: string | number;
  path: string;
  emit: string;
}

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (error?: Error) => void;

const NAMESPACE = "zoom-presence-in";
const DEFAULT_WEBHOOK_PATH = "/zoom/presence";

const FILL: Record<ReturnType<typeof classifyStatus>, "red" | "green" | "yellow" | "grey" | "blue"> = {
  busy: "red",
  available: "green",
  away: "yellow",
  offline: "grey",
  unknown: "blue",
};

export = function register(RED: NodeAPI): void {
  function ZoomPresenceIn(this: Node, config: PresenceInNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const account = RED.nodes.getNode(config.account) as ZoomAccountNode | null;
    const source: PresenceSource = PRESENCE_SOURCES.includes(config.source as PresenceSource) ? (config.source as PresenceSource) : "poll";
    const emit: EmitMode = config.emit === "every" ? "every" : "change";
    const intervalSeconds = pollInterval(config.interval);
    const text = (key: string, params: Record<string, unknown>, fallback: string) => translate(RED, `${NAMESPACE}.${key}`, params, fallback);

    let watcher: PresenceWatcher | undefined;
    let watchesEveryUser = false;
    let route: WebhookRoute | undefined;
    let closed = false;

    if (source === "poll" && intervalSeconds.raised) {
      node.warn(text("warn.interval-raised", { minimum: MIN_POLL_INTERVAL_SECONDS }, `Poll interval raised to the minimum of ${MIN_POLL_INTERVAL_SECONDS} s`));
    }

    // The user is resolved once, when the node starts; an environment variable or context value is
    // read then.
    const started = new Promise<void>((resolve) => {
      RED.util.evaluateNodeProperty(config.userId ?? "", config.userIdType || "str", node, {} as NodeMessage, (error: Error | null, value: unknown) => {
        if (!closed) {
          start(error, value);
        }
        resolve();
      });
    });

    function start(evaluationError: Error | null, value: unknown): void {
      let userId: string | undefined;
      let connection: AccountConnection;
      try {
        if (evaluationError) {
          throw new InputError("userId", evaluationError.message, { key: "errors.user-id", params: { value: String(config.userId) } });
        }
        userId = value === undefined || value === null || value === "" ? undefined : parseUserId(value);
        if (!account) {
          throw new InputError("account", "Missing Zoom account configuration", { key: "errors.no-account" });
        }
        connection = account.connection();
        watchesEveryUser = userId === undefined;
      } catch (error) {
        const message = errorText(RED, NAMESPACE, error);
        node.status({ fill: "red", shape: "ring", text: `${source}: ${message}` });
        node.warn(message);
        return;
      }

      watcher = new PresenceWatcher(
        { source, userId, intervalMs: intervalSeconds.seconds * 1000, emit },
        { connection, scheduler: presenceScheduler, polls: presencePolls, sockets: eventSockets, lastKnown: lastKnownStatuses },
        {
          emit: (observation) => node.send(toMessage({}, observation)),
          changed: () => render(watcher?.view()),
          log: (level, key, params, fallback) => {
            const line = text(key, params, fallback);
            if (level === "warn") {
              node.warn(line);
            } else {
              node.log(line);
            }
          },
        },
      );

      if (source === "webhook" && connection.webhookSecretToken !== "") {
        let path = config.path || DEFAULT_WEBHOOK_PATH;
        try {
          path = normalisePath(path);
          route = WebhookRoute.add(
            RED.httpNode as never,
            path,
            (request, body) =>
              (watcher as PresenceWatcher).handleWebhook({
                signature: request.get("x-zm-signature"),
                timestamp: request.get("x-zm-request-timestamp"),
                rawBody: body.raw,
                parsedBody: body.parsed,
              }),
            (error) => node.warn(text("warn.webhook-read", { error: String(error) }, `Could not read a webhook request: ${String(error)}`)),
          );
        } catch (error) {
          if (!(error instanceof PathInUseError) && !(error instanceof InvalidPathError)) {
            throw error;
          }
          const key = error instanceof PathInUseError ? "errors.path-in-use" : "errors.path-invalid";
          const message = text(key, { path }, error.message);
          node.status({ fill: "red", shape: "ring", text: `webhook: ${message}` });
          node.error(message);
          watcher = undefined;
          return;
        }
      }
      watcher.start();
      render(watcher.view());
    }

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => {
      started
        .then(() => {
          if (!watcher) {
            throw new Error(text("errors.not-started", {}, "The node is not following any presence: check its configuration"));
          }
          return watcher.refresh();
        })
        .then(
          (observations) => {
            const messages = observations.map((observation, index) => toMessage(index === 0 ? msg : RED.util.cloneMessage(msg), observation));
            if (messages.length === 1) {
              send(messages[0]);
            } else if (messages.length > 1) {
              send([messages]);
            }
            done();
          },
          (error: unknown) => {
            // A read aborted because the node closed ends the message without an error.
            if (error instanceof BudgetRequestAbortedError) {
              done();
              return;
            }
            done(new Error(errorText(RED, NAMESPACE, error)));
          },
        );
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      closed = true;
      watcher?.stop();
      watcher = undefined;
      route?.remove();
      route = undefined;
      node.status({});
      done();
    });

    function render(view: WatchView | undefined): void {
      if (!view) {
        return;
      }
      const current = view.current;
      if (view.problem) {
        // The problem names the source, so the status is shown without it.
        const problem = describeProblem(view.problem, view.source);
        const fill = view.problem.kind === "connecting" ? "yellow" : "red";
        const prefix = current === undefined ? "" : `${watchesEveryUser ? `${current.userId}: ` : ""}${current.status} · `;
        node.status({ fill, shape: "ring", text: `${prefix}${problem}` });
        return;
      }
      if (current === undefined) {
        node.status({ fill: "grey", shape: "ring", text: text("status.waiting", { source: view.source }, `${view.source}: waiting`) });
        return;
      }
      node.status({ fill: FILL[classifyStatus(current.status)], shape: "dot", text: describeCurrent(current, view.source) });
    }

    function describeCurrent(current: PresenceObservation, viewSource: PresenceSource): string {
      const params = { status: current.status, source: viewSource, userId: current.userId };
      if (watchesEveryUser) {
        return text("status.current-user", params, `${current.userId}: ${current.status} (${viewSource})`);
      }
      return text("status.current", params, `${current.status} (${viewSource})`);
    }

    function describeProblem(problem: WatchProblem, viewSource: PresenceSource): string {
      switch (problem.kind) {
        case "config":
          return `${viewSource}: ${errorText(RED, NAMESPACE, problem.error)}`;
        case "connecting":
          return text("status.connecting", {}, "websocket: connecting");
        case "reconnecting": {
          const seconds = Math.max(1, Math.round(problem.delayMs / 1000));
          return text("status.reconnecting", { seconds }, `websocket: reconnecting in ${seconds} s`);
        }
        case "rejected":
          return text("status.rejected", { count: problem.count }, `webhook: bad signature x${problem.count}`);
        case "poll-failed": {
          const error = shortError(problem.error);
          return text("status.poll-failed", { error, count: problem.count }, `poll: ${error} x${problem.count}`);
        }
        case "read-failed": {
          const error = shortError(problem.error);
          return text("status.read-failed", { source: viewSource, error }, `${viewSource}: read failed: ${error}`);
        }
      }
    }
  }

  RED.nodes.registerType("zoom-presence-in", ZoomPresenceIn as never);
};

/** Sets `msg.payload` to the status and `msg.zoom` to its details. */
function toMessage(msg: NodeMessage, observation: PresenceObservation): NodeMessage {
  const zoom: Record<string, unknown> = { userId: observation.userId };
  if (observation.email !== undefined) {
    zoom.email = observation.email;
  }
  Object.assign(zoom, { source: observation.source, rawStatus: observation.rawStatus, changedAt: observation.changedAt });
  for (const [name, value] of [["endTime", observation.endTime], ["remainingMinutes", observation.remainingMinutes], ["app", observation.app]] as const) {
    if (value !== undefined) {
      zoom[name] = value;
    }
  }
  msg.payload = observation.status;
  (msg as { zoom?: unknown }).zoom = zoom;
  return msg;
}

/** Reads the poll interval in seconds: the default when unset or invalid, and at least the minimum. */
function pollInterval(value: unknown): { seconds: number; raised: boolean } {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number) || number <= 0) {
    return { seconds: DEFAULT_POLL_INTERVAL_SECONDS, raised: false };
  }
  if (number < MIN_POLL_INTERVAL_SECONDS) {
    return { seconds: MIN_POLL_INTERVAL_SECONDS, raised: true };
  }
  return { seconds: number, raised: false };
}
