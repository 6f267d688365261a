/**
 * The `zoom-presence` node: sets a Zoom user's presence status from `msg.payload`, through the
 * shared rate limiter. It reads its settings, turns messages into updates, and reports outcomes as
 * outputs, node status, warnings and `done(err)` for Catch nodes.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { ZoomAccountNode } from "./common/account-node";
import { errorText, translate } from "./common/i18n";
import { StatusHelper } from "./common/status";
import { AccountConnection } from "./zoom/account";
import { BodyEncoding, SetPresenceResult } from "./zoom/client";
import { InputError, PresenceError, RateLimitedError } from "./zoom/errors";
import { PresenceUpdate, UpdateSources, parseUpdate } from "./zoom/input";
import { lastKnownStatuses } from "./zoom/last-known";
import { BudgetRequestAbortedError, JobState, Outcome, WhenLimited } from "./zoom/limiter";
import { userKey } from "./zoom/policy";
import { readPresence } from "./zoom/reader";
import { presenceScheduler } from "./zoom/scheduler";
import { DO_NOT_DISTURB, parseObservedStatus } from "./zoom/statuses";
import { isToggle, resolveToggle, toggleTarget } from "./zoom/toggle";

interface PresenceNodeDef extends NodeDef {
  account: string;
  userId: string;
  userIdType: string;
  duration: string | number;
  whenLimited: string;
  minInterval: string | number;
  encoding: string;
  confirm?: boolean | string;
}

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (error?: Error) => void;

const NAMESPACE = "zoom-presence";
const DEFAULT_MIN_INTERVAL_SECONDS = 60;

export = function register(RED: NodeAPI): void {
  function ZoomPresence(this: Node, config: PresenceNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const account = RED.nodes.getNode(config.account) as ZoomAccountNode | null;
    const status = new StatusHelper(RED, node, NAMESPACE);
    const whenLimited: WhenLimited = config.whenLimited === "drop" || config.whenLimited === "error" ? config.whenLimited : "latest";
    const encoding: BodyEncoding = config.encoding === "multipart" ? "multipart" : "json";
    const minIntervalMs = secondsSetting(config.minInterval, DEFAULT_MIN_INTERVAL_SECONDS) * 1000;
    const confirm = config.confirm === true || config.confirm === "true";
    // Aborts the reads of toggles and confirmations when the node closes.
    const reads = new AbortController();
    /** The status of the newest update submitted per user and not yet settled, which a toggle starts from. */
    const submitted = new Map<string, { status: string }>();

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => {
      RED.util.evaluateNodeProperty(config.userId, config.userIdType || "str", node, msg, (error: Error | null, nodeUserId: unknown) => {
        if (error) {
          fail(msg, new InputError("userId", error.message, { key: "errors.user-id", params: { value: config.userId } }), done);
          return;
        }
        submit(msg, nodeUserId, send, done);
      });
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      reads.abort();
      const discarded = presenceScheduler.cancelOwner(node);
      if (discarded > 0) {
        node.log(translate(RED, `${NAMESPACE}.warn.discarded`, { count: discarded }, `Discarded ${discarded} waiting update(s) on close`));
      }
      status.clear();
      done();
    });

    function submit(msg: NodeMessageInFlow, nodeUserId: unknown, send: Send, done: Done): void {
      const sources: UpdateSources = {
        payload: msg.payload,
        msgUserId: (msg as { userId?: unknown }).userId,
        msgDuration: (msg as { duration?: unknown }).duration,
        nodeUserId,
        nodeDuration: config.duration,
      };
      let update: PresenceUpdate;
      try {
        if (!account) {
          throw new InputError("account", "Missing Zoom account configuration", { key: "errors.no-account" });
        }
        // A toggle is parsed as Do Not Disturb first, which validates the user and the duration.
        update = parseUpdate(isToggle(msg.payload) ? { ...sources, payload: resolveToggle(msg.payload, DO_NOT_DISTURB) } : sources);
      } catch (error) {
        fail(msg, error, done);
        return;
      }

      let connection: AccountConnection;
      try {
        connection = account.connection();
      } catch (error) {
        fail(msg, error, done, update.userId);
        return;
      }

      if (!isToggle(msg.payload)) {
        schedule(msg, update, connection, send, done);
        return;
      }
      currentStatus(connection, update.userId).then(
        (current) => {
          let toggled: PresenceUpdate;
          try {
            toggled = parseUpdate({ ...sources, payload: resolveToggle(msg.payload, toggleTarget(current)) });
          } catch (error) {
            fail(msg, error, done, update.userId);
            return;
          }
          schedule(msg, toggled, connection, send, done);
        },
        (error: unknown) => {
          if (error instanceof BudgetRequestAbortedError) {
            done();
            return;
          }
          fail(msg, error, done, update.userId);
        },
      );
    }

    /**
     * Returns the status a toggle starts from: the newest update of this node still under way, else
     * the last status known in the process (from zoom-presence-in or an earlier update), else a read.
     */
    async function currentStatus(connection: AccountConnection, userId: string): Promise<string> {
      const key = userKey(connection.accountKey, userId);
      const pending = submitted.get(key);
      if (pending) {
        return pending.status;
      }
      const known = lastKnownStatuses.get(connection.accountKey, userId);
      if (known) {
        return known.status;
      }
      const reading = await readPresence(presenceScheduler, connection, userId, { signal: reads.signal });
      const status = parseObservedStatus(reading.status) ?? reading.status;
      lastKnownStatuses.record(connection.accountKey, [userId], status, "read");
      return status;
    }

    function schedule(msg: NodeMessageInFlow, update: PresenceUpdate, connection: AccountConnection, send: Send, done: Done): void {
      const key = userKey(connection.accountKey, update.userId);
      const entry = { status: update.status };
      submitted.set(key, entry);

      presenceScheduler.submit<SetPresenceResult>({
        owner: node,
        userKey: key,
        accountKey: connection.accountKey,
        accountRateLimit: connection.accountRateLimit,
        minIntervalMs,
        whenLimited,
        maxAttempts: connection.maxAttempts,
        attempt: (signal, budget) => connection.client.setPresence(update, encoding, signal, { beforeRetry: budget.nextRequest }),
        held: (opensAt) => status.queued(update.status, opensAt),
        settle: (outcome, job) => {
          if (submitted.get(key) === entry) {
            submitted.delete(key);
          }
          if (outcome.type === "sent") {
            lastKnownStatuses.record(connection.accountKey, [update.userId], update.status, "set");
          }
          settle(msg, update, outcome, job, send, done);
          if (outcome.type === "sent" && confirm) {
            confirmStatus(connection, update);
          }
        },
      });
    }

    /** Reads the status back after an update and warns when Zoom reports another one. */
    function confirmStatus(connection: AccountConnection, update: PresenceUpdate): void {
      // NOTE: the read follows Zoom's 204 at once; whether Zoom can report the old status for a moment
      // after accepting an update is not documented.
      readPresence(presenceScheduler, connection, update.userId, { signal: reads.signal }).then(
        (reading) => {
          const actual = parseObservedStatus(reading.status) ?? reading.status;
          lastKnownStatuses.record(connection.accountKey, [update.userId], actual, "read");
          if (actual !== update.status) {
            const params = { actual: reading.status, userId: update.userId, status: update.status };
            node.warn(
              translate(RED, `${NAMESPACE}.warn.not-confirmed`, params, `Zoom still reports ${reading.status} for user ${update.userId} after setting ${update.status} (the user may be signed in only on the web client)`),
            );
          }
        },
        (error: unknown) => {
          if (error instanceof BudgetRequestAbortedError) {
            return;
          }
          const params = { userId: update.userId, error: errorText(RED, NAMESPACE, error) };
          node.warn(translate(RED, `${NAMESPACE}.warn.confirm-failed`, params, `Could not read back the status of user ${params.userId}: ${params.error}`));
        },
      );
    }

    function settle(msg: NodeMessageInFlow, update: PresenceUpdate, outcome: Outcome<SetPresenceResult>, job: JobState, send: Send, done: Done): void {
      switch (outcome.type) {
        case "sent": {
          const zoom: Record<string, unknown> = { userId: update.userId, status: update.status };
          if (update.duration !== undefined) {
            zoom.duration = update.duration;
          }
          Object.assign(zoom, { statusCode: outcome.result.statusCode, queuedMs: Date.now() - job.arrivedAt, superseded: job.superseded });
          msg.payload = update.status;
          (msg as { zoom?: unknown }).zoom = zoom;
          status.set(update.status, update.duration);
          send(msg);
          done();
          return;
        }
        case "superseded":
          // Another node's update may have replaced this one: drop the "queued" status unless this
          // node still has an update waiting.
          if (submitted.size === 0) {
            status.restore();
          }
          done();
          return;
        case "discarded":
          done();
          return;
        case "dropped": {
          const seconds = outcome.opensInMs === undefined ? "?" : Math.ceil(outcome.opensInMs / 1000);
          const params = { status: update.status, userId: update.userId, seconds };
          node.warn(translate(RED, `${NAMESPACE}.warn.dropped`, params, `Dropped update ${update.status} for user ${update.userId}: the window is closed for ${seconds} s`));
          done();
          return;
        }
        case "rejected": {
          const seconds = outcome.opensInMs === undefined ? "?" : Math.ceil(outcome.opensInMs / 1000);
          const error = new RateLimitedError(
            `Rate limited: an update for user ${update.userId} is already waiting or the window is closed; next update possible in ${seconds} s`,
            { key: "errors.rate-limited", params: { userId: update.userId, seconds } },
            outcome.opensInMs ?? 0,
          );
          fail(msg, error, done, update.userId);
          return;
        }
        case "failed":
          fail(msg, outcome.error, done, update.userId, outcome.attempts);
          return;
      }
    }

    /** Ends a message with an error that Catch nodes receive, with `msg.zoom.error` set. */
    function fail(msg: NodeMessageInFlow, error: unknown, done: Done, userId?: string, attempts?: number): void {
      let text = errorText(RED, NAMESPACE, error);
      if (attempts !== undefined && attempts > 1) {
        text = translate(RED, `${NAMESPACE}.errors.attempts`, { attempts, error: text }, `${attempts} attempts failed; the last: ${text}`);
      }

      const zoom: Record<string, unknown> = { error: error instanceof PresenceError ? error.kind : "zoom_error" };
      if (userId !== undefined) {
        zoom.userId = userId;
      }
      if (error instanceof InputError) {
        zoom.field = error.field;
      }
      const details = error as { statusCode?: unknown; code?: unknown; zoomMessage?: unknown; trackingId?: unknown };
      for (const [name, value] of [["statusCode", details.statusCode], ["code", details.code], ["message", details.zoomMessage], ["trackingId", details.trackingId]] as const) {
        if (value !== undefined) {
          zoom[name] = value;
        }
      }
      if (attempts !== undefined) {
        zoom.attempts = attempts;
      }

      (msg as { zoom?: unknown }).zoom = zoom;
      status.error(error);
      done(new Error(text));
    }
  }

  RED.nodes.registerType("zoom-presence", ZoomPresence as never);
};

/** Reads a whole number of seconds saved by the editor as a number or a numeric string. */
function secondsSetting(value: unknown, fallback: number): number {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof number === "number" && Number.isFinite(number) && number >= 0 ? number : fallback;
}
