// Zoom's event delivery as the emulator reproduces it: `user.presence_status_updated` event objects,
// webhook requests signed with an app's secret token, and the WebSockets event subscription endpoint.
import { createHmac } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";

import { request } from "undici";
import { WebSocketServer, type WebSocket } from "ws";

/** An event object as Zoom sends it in a webhook body or a WebSocket message's content. */
export interface ZoomEvent {
  event: string;
  event_ts: number;
  payload: Record<string, unknown>;
}

export interface PresenceEventInit {
  accountId: string;
  userId: string;
  email: string;
  /** The status as the event spells it, such as In_Meeting. */
  presenceStatus: string;
  /** When the status changed, in epoch ms. date_time has whole seconds, as in Zoom's events. */
  changedAt: number;
  /** event_ts in epoch ms. Default changedAt. */
  eventTs?: number;
}

/** Formats a time like Zoom's events and API: ISO 8601 in UTC without milliseconds. */
export function zoomTimestamp(time: number): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function buildPresenceEvent(init: PresenceEventInit): ZoomEvent {
  return {
    event: "user.presence_status_updated",
    event_ts: init.eventTs ?? init.changedAt,
    payload: {
      account_id: init.accountId,
      object: {
        date_time: zoomTimestamp(init.changedAt),
        email: init.email,
        id: init.userId,
        presence_status: init.presenceStatus,
      },
    },
  };
}

/** Builds the challenge Zoom sends when an app's webhook URL is saved, and every 72 hours after. */
export function buildUrlValidationEvent(plainToken: string, eventTs: number = Date.now()): ZoomEvent {
  return { event: "endpoint.url_validation", event_ts: eventTs, payload: { plainToken } };
}

/** `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the secret token. */
export function signWebhookBody(secretToken: string, timestamp: number | string, body: string): string {
  return `v0=${createHmac("sha256", secretToken).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

export interface WebhookSendOptions {
  secretToken: string;
  /** Signs with a different secret, as a forged request would be. */
  badSignature?: boolean;
  /** x-zm-request-timestamp in seconds since the epoch. Default now; older values make stale requests. */
  timestamp?: number;
  /** The exact body to sign and send. Default: the compact JSON of the event, as Zoom sends it. */
  body?: string;
  /** Changes the body after it was signed, as a tampered request. */
  bodyTransform?: (signedBody: string) => string;
  /** Headers to leave out of the request. */
  omitHeaders?: Array<"x-zm-signature" | "x-zm-request-timestamp">;
  /** Default application/json. */
  contentType?: string;
}

export interface WebhookResponse {
  statusCode: number;
  /** The response body as text. */
  body: string;
  /** The response body parsed as JSON, when it is JSON. */
  json?: unknown;
  /** The body that was sent. */
  sentBody: string;
}

/** POSTs an event to a webhook URL with Zoom's signature headers, as Zoom's event delivery does. */
export async function sendWebhook(url: string, event: unknown, options: WebhookSendOptions): Promise<WebhookResponse> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signedBody = options.body ?? JSON.stringify(event);
  const secret = options.badSignature ? `${options.secretToken}-forged` : options.secretToken;
  const sentBody = options.bodyTransform ? options.bodyTransform(signedBody) : signedBody;

  const headers: Record<string, string> = {
    "content-type": options.contentType ?? "application/json",
    "user-agent": "Zoom Marketplace/1.0a",
    "x-zm-signature": signWebhookBody(secret, timestamp, signedBody),
    "x-zm-request-timestamp": String(timestamp),
  };
  for (const name of options.omitHeaders ?? []) {
    delete headers[name];
  }

  const response = await request(url, { method: "POST", headers, body: sentBody });
  const body = await response.body.text();
  let json: unknown;
  try {
    json = body === "" ? undefined : JSON.parse(body);
  } catch {
    // A body that is not JSON is returned as text only.
    json = undefined;
  }
  return { statusCode: response.statusCode, body, json, sentBody };
}

export type TokenCheck = { ok: true } | { ok: false; status: number; message: string };

export interface EventSocketOptions {
  /** The subscription ID that connections must name. */
  subscriptionId: string;
  /** Checks the access_token query parameter like the API checks a bearer token. */
  authenticate(token: string | null): TokenCheck;
}

/** One accepted WebSocket connection, for tests. */
export interface EventSocketRecord {
  subscriptionId: string | null;
  accessToken: string | null;
  /** HTTP status of a refused upgrade, or 101 when the connection was accepted. */
  status: number;
  /** Close code sent by the emulator, when it closed the connection itself. */
  closeCode?: number;
}

/** Zoom's close code for an unknown subscription is not documented; 1008 (policy violation) is used. */
export const WRONG_SUBSCRIPTION_CLOSE_CODE = 1008;

/**
 * The WebSockets event endpoint `GET /ws?subscriptionId=…&access_token=…`. It responds to
 * `{"module":"heartbeat"}` with `{"module":"heartbeat","success":true}` and pushes events as
 * `{"module":"message","success":true,"content":"<event JSON>"}`.
 */
export class EventSocketServer {
  readonly connections: EventSocketRecord[] = [];
  private readonly server = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<WebSocket>();
  private heartbeatCount = 0;
  /** When false, heartbeats are counted but get no response, as on a connection that died silently. */
  answerHeartbeats = true;

  constructor(private readonly options: EventSocketOptions) {}

  /** Number of heartbeats received from all connections. */
  get heartbeats(): number {
    return this.heartbeatCount;
  }

  get openCount(): number {
    return this.clients.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const record: EventSocketRecord = {
      subscriptionId: url.searchParams.get("subscriptionId"),
      accessToken: url.searchParams.get("access_token"),
      status: 101,
    };
    this.connections.push(record);

    const check = this.options.authenticate(record.accessToken);
    if (!check.ok) {
      record.status = check.status;
      const body = JSON.stringify({ code: 124, message: check.message });
      socket.end(
        `HTTP/1.1 ${check.status} Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }

    this.server.handleUpgrade(req, socket, head, (client) => {
      this.clients.add(client);
      client.on("close", () => this.clients.delete(client));
      if (record.subscriptionId !== this.options.subscriptionId) {
        record.closeCode = WRONG_SUBSCRIPTION_CLOSE_CODE;
        client.close(WRONG_SUBSCRIPTION_CLOSE_CODE, "Invalid subscriptionId");
        return;
      }
      client.on("message", (data) => this.answer(client, data.toString()));
    });
  }

  /** Sends an event to every open connection and returns how many received it. */
  push(event: ZoomEvent): number {
    const message = JSON.stringify({ module: "message", success: true, content: JSON.stringify(event) });
    let sent = 0;
    for (const client of this.clients) {
      if (client.readyState === client.OPEN) {
        client.send(message);
        sent++;
      }
    }
    return sent;
  }

  /** Drops every connection without a close handshake, as a network failure would. */
  drop(): void {
    for (const client of this.clients) {
      client.terminate();
    }
    this.clients.clear();
  }

  close(): void {
    this.drop();
    this.server.close();
  }

  private answer(client: WebSocket, text: string): void {
    let message: { module?: unknown };
    try {
      message = JSON.parse(text) as { module?: unknown };
    } catch {
      // NOTE: Zoom's response to a message that is not JSON is not documented, so it is ignored here.
      return;
    }
    if (message.module === "heartbeat") {
      this.heartbeatCount++;
      if (!this.answerHeartbeats) {
        return;
      }
      client.send(JSON.stringify({ module: "heartbeat", success: true }));
    }
  }
}
