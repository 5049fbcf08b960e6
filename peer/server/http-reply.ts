import type { ServerResponse } from "node:http";
import { P2PError } from "../errors.js";

/** JSON replies and the one place where an error becomes an HTTP reply, for both of the daemon's servers. */

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, "Content-Type": "application/json", "Content-Length": bytes.length });
  res.end(bytes);
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra headers of the reply, such as Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof HttpError) {
    sendJson(res, error.status, { error: { code: error.code, message: error.message } }, error.headers);
  } else if (error instanceof P2PError) {
    sendJson(res, error.httpStatus, { error: error.toJSON() });
  } else {
    console.error("p2p daemon: internal error", error);
    sendJson(res, 500, { error: { code: "INTERNAL", message: "internal error" } });
  }
}
