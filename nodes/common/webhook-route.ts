/**
 * A POST route on Node-RED's `httpNode` for Zoom webhook requests. It passes the handler the raw body
 * when the route can still read it, and otherwise the body that Node-RED's HTTP stack parsed. When
 * httpNodeRoot and httpAdminRoot are the same path, the editor's JSON parser runs first and leaves a
 * parsed object in `req.body`.
 */
import type { Application, Request, Response } from "express";

/** Webhook bodies larger than this get a 413 response. Zoom's presence events are well under 2 KiB. */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;

export interface ReceivedBody {
  /** The bytes as sent, when no middleware consumed them (or one kept them in `req.rawBody`). */
  raw?: Buffer;
  /** The body parsed by a middleware before the route, when there was one. */
  parsed?: unknown;
}

export type WebhookHandler = (request: Request, body: ReceivedBody) => { statusCode: number; body?: unknown };

/** Paths with a route, so two nodes cannot listen on one path. */
const routes = new Map<string, WebhookRoute>();

export class PathInUseError extends Error {
  constructor(readonly path: string) {
    super(`The webhook path ${path} is already used by another node`);
    this.name = "PathInUseError";
  }
}

/** Normalises a path from the editor: one leading slash, no trailing slash. */
export function normalisePath(path: string): string {
  const trimmed = path.trim().replace(/^\/+/, "").replace(/\/+$/, "");
  if (!PLAIN_PATH.test(trimmed)) {
    throw new InvalidPathError(path);
  }
  return `/${trimmed}`;
}

/**
 * Letters, digits and `. _ ~ - /` only: Express reads `:name`, `*`, `(` and `?` in a route as
 * patterns, which would let one node answer for paths it was not given.
 */
const PLAIN_PATH = /^[A-Za-z0-9._~\/-]+$/;

export class InvalidPathError extends Error {
  constructor(readonly path: string) {
    super(`Invalid webhook path "${path}": use letters, digits and . _ ~ - / only`);
    this.name = "InvalidPathError";
  }
}

export class WebhookRoute {
  private readonly callback: (request: Request, response: Response) => void;

  private constructor(
    private readonly app: Application,
    readonly path: string,
    handler: WebhookHandler,
    onError: (error: unknown) => void,
  ) {
    this.callback = (request, response) => {
      readBody(request).then(
        (body) => {
          const answer = handler(request, body);
          if (answer.body === undefined) {
            response.status(answer.statusCode).end();
          } else {
            response.status(answer.statusCode).json(answer.body);
          }
        },
        (error: unknown) => {
          if (error instanceof BodyTooLargeError) {
            response.status(413).end();
            return;
          }
          onError(error);
          if (!response.headersSent) {
            response.status(400).end();
          }
        },
      );
    };
  }

  /** Adds the route. Throws PathInUseError when another node's route has the same path. */
  static add(app: Application, path: string, handler: WebhookHandler, onError: (error: unknown) => void): WebhookRoute {
    if (routes.has(path)) {
      throw new PathInUseError(path);
    }
    const route = new WebhookRoute(app, path, handler, onError);
    app.post(path, route.callback);
    routes.set(path, route);
    return route;
  }

  /** Removes this route (and only this one) from the application's router. */
  remove(): void {
    if (routes.get(this.path) === this) {
      routes.delete(this.path);
    }
    // Express 4 keeps the router in `_router`, Express 5 in `router`.
    const router = (this.app as unknown as { _router?: RouterLike; router?: RouterLike })._router ?? (this.app as unknown as { router?: RouterLike }).router;
    const stack = router?.stack;
    if (!stack) {
      return;
    }
    for (let index = stack.length - 1; index >= 0; index--) {
      const route = stack[index].route;
      if (route?.path === this.path && route.stack.some((layer) => layer.handle === this.callback)) {
        stack.splice(index, 1);
      }
    }
  }
}

interface RouterLike {
  stack: Array<{ route?: { path: string; stack: Array<{ handle: unknown }> } }>;
}

class BodyTooLargeError extends Error {}

async function readBody(request: Request): Promise<ReceivedBody> {
  const consumed = (request as { _body?: boolean })._body === true || request.readableEnded;
  if (consumed) {
    const kept = (request as { rawBody?: unknown }).rawBody;
    const body: unknown = request.body;
    if (Buffer.isBuffer(kept) || typeof kept === "string") {
      return { raw: Buffer.from(kept), parsed: isParsed(body) ? body : undefined };
    }
    if (Buffer.isBuffer(body) || typeof body === "string") {
      return { raw: Buffer.from(body) };
    }
    return { parsed: body };
  }

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_WEBHOOK_BODY_BYTES) {
      throw new BodyTooLargeError();
    }
    chunks.push(buffer);
  }
  return { raw: Buffer.concat(chunks, size) };
}

function isParsed(body: unknown): boolean {
  return body !== undefined && !Buffer.isBuffer(body) && typeof body !== "string";
}
