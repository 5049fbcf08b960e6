import { request } from "node:http";
import { join } from "node:path";
import { Errors, P2PError, type ErrorKind } from "../errors.js";

/** The CLI's side of the control API: finds the data dir's daemon by its socket and calls it. */

export function socketPath(dataDir: string): string {
  return join(dataDir, "daemon.sock");
}

interface RawReply {
  status: number;
  body: string;
}

function call(dataDir: string, method: string, path: string, body?: unknown, onLine?: (line: string) => void, timeoutMs = 0, signal?: AbortSignal): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { socketPath: socketPath(dataDir), method, path, headers: payload === undefined ? {} : { "content-type": "application/json" }, ...(signal === undefined ? {} : { signal }) },
      (res) => {
        let text = "";
        let pending = "";
        res.on("data", (part: Buffer) => {
          if (onLine === undefined) {
            text += part.toString("utf8");
            return;
          }
          pending += part.toString("utf8");
          let at: number;
          while ((at = pending.indexOf("\n")) >= 0) {
            onLine(pending.slice(0, at));
            pending = pending.slice(at + 1);
          }
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Whether a daemon answers on this data dir's socket. */
export async function daemonRunning(dataDir: string): Promise<boolean> {
  try {
    const reply = await call(dataDir, "GET", "/v1/status", undefined, undefined, 2000);
    return reply.status === 200;
  } catch {
    return false;
  }
}

function toError(reply: RawReply): P2PError {
  try {
    const parsed = JSON.parse(reply.body) as { error: { code: string; kind?: ErrorKind; message: string; hint?: string } };
    return new P2PError(parsed.error.code, parsed.error.kind ?? "internal", parsed.error.message, parsed.error.hint);
  } catch {
    return new P2PError("DAEMON_ERROR", "internal", `the daemon answered HTTP ${reply.status}`);
  }
}

export async function controlJson<T>(dataDir: string, method: string, path: string, body?: unknown): Promise<T> {
  let reply: RawReply;
  try {
    reply = await call(dataDir, method, path, body);
  } catch (error) {
    throw Errors.daemonUnreachable(`cannot reach the daemon of ${dataDir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (reply.status !== 200) throw toError(reply);
  return JSON.parse(reply.body) as T;
}

/**
 * Runs a download in the daemon, passing each progress event on; resolves with the result. Aborting
 * `signal` closes the control connection, which cancels the daemon's download.
 */
export async function controlDownload<T>(dataDir: string, body: unknown, onProgress: (event: unknown) => void, signal?: AbortSignal): Promise<T> {
  let result: T | undefined;
  let failure: P2PError | undefined;
  const reply = await call(dataDir, "POST", "/v1/downloads", body, (line) => {
    if (line.trim() === "") return;
    const event = JSON.parse(line) as { type: string; result?: T; error?: { code: string; kind: ErrorKind; message: string; hint?: string } };
    if (event.type === "result") result = event.result;
    else if (event.error !== undefined) failure = P2PError.fromJSON(event.error);
    else onProgress(event);
  }, 0, signal).catch((error: unknown) => {
    throw Errors.daemonUnreachable(`lost the daemon of ${dataDir}: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (reply.status !== 200) throw toError(reply);
  if (failure !== undefined) throw failure;
  if (result === undefined) throw Errors.daemonUnreachable("the daemon ended the download without a result");
  return result;
}
