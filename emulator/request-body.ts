// Reading and parsing request bodies for the Zoom emulator: JSON, URL-encoded forms and
// multipart/form-data, each parsed by the media type the client declared.
import type { IncomingMessage } from "node:http";

import { Response, type FormData } from "undici";

/** A request body after parsing by its declared media type. */
export type ParsedBody =
  | { kind: "empty" }
  | { kind: "json"; value: unknown }
  | { kind: "urlencoded"; value: Record<string, string> }
  | { kind: "multipart"; value: Record<string, string> }
  | { kind: "invalid"; mediaType: string }
  | { kind: "unsupported"; mediaType: string };

/** Error thrown by readBody when the body exceeds its byte limit. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`Request body exceeds ${maxBytes} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * Reads the whole request body. A body larger than maxBytes is read to its end, so the
 * connection stays usable, and then rejected with BodyTooLargeError. Rejects with the
 * stream's error when the client aborts the request.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;

  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    length += buffer.length;
    if (length <= maxBytes) {
      chunks.push(buffer);
    }
  }

  if (length > maxBytes) {
    throw new BodyTooLargeError(maxBytes);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
}

/** Returns the media type of a Content-Type header in lower case, without parameters. */
export function mediaTypeOf(contentType: string | undefined): string {
  if (contentType === undefined) {
    return "";
  }
  const semicolon = contentType.indexOf(";");
  const type = semicolon === -1 ? contentType : contentType.slice(0, semicolon);
  return type.trim().toLowerCase();
}

/**
 * Parses a body by its Content-Type. A repeated form field keeps its last value, and a
 * multipart file part becomes its text content. A body that does not parse as its declared
 * type is "invalid", and a body of any other type is "unsupported".
 */
export async function parseBody(contentType: string | undefined, raw: Buffer): Promise<ParsedBody> {
  if (raw.length === 0) {
    return { kind: "empty" };
  }

  const mediaType = mediaTypeOf(contentType);
  if (mediaType === "application/json" || mediaType.endsWith("+json")) {
    try {
      return { kind: "json", value: JSON.parse(raw.toString("utf8")) };
    } catch {
      return { kind: "invalid", mediaType };
    }
  }

  if (mediaType === "application/x-www-form-urlencoded") {
    return { kind: "urlencoded", value: Object.fromEntries(new URLSearchParams(raw.toString("utf8"))) };
  }

  if (mediaType === "multipart/form-data") {
    const fields = await parseMultipart(contentType as string, raw);
    return fields === undefined ? { kind: "invalid", mediaType } : { kind: "multipart", value: fields };
  }

  return { kind: "unsupported", mediaType };
}

// undici's Response.formData() parses multipart/form-data, so the emulator accepts what a
// standards-conforming server would. Returns undefined when the body is not valid multipart
// for the boundary in contentType.
async function parseMultipart(contentType: string, raw: Buffer): Promise<Record<string, string> | undefined> {
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
  } catch {
    return undefined;
  }

  const fields: Record<string, string> = {};
  for (const [name, value] of form.entries()) {
    fields[name] = typeof value === "string" ? value : await value.text();
  }
  return fields;
}
