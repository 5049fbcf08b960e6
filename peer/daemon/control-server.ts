import { chmod, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { normalizeSha1 } from "../../common/ids.js";
import { Errors, P2PError } from "../errors.js";
import { peerListFromJson, type PeerEndpoint } from "../sources/peer-address.js";
import { parseShareLink, type ShareLink } from "../links/share-link.js";
import { fileAsked } from "../links/file-asked.js";
import { isAbsolute } from "node:path";
import { HttpError, sendError, sendJson } from "../server/http-reply.js";

/**
 * The control API the CLI uses, on a Unix socket in the data dir (mode 0600 inside a 0700 folder): only this
 * user on this machine can reach it; it never listens on the network. Routes are in docs/protocol.md.
 */

export interface ControlHandlers {
  status(): unknown;
  listShares(): Promise<unknown>;
  addShare(path: string): Promise<unknown>;
  removeShare(sha1: string): Promise<unknown>;
  /** Streams progress lines, then the result. */
  download(body: DownloadBody, emit: (event: unknown) => void, signal: AbortSignal): Promise<unknown>;
  /** The daemon's downloads: running, paused and stopped ones, with progress and their peers. */
  listDownloads(): Promise<unknown>;
  /** Starts a download the daemon owns (not ended by the connection); answers once it has begun or failed. */
  startDownload(body: DownloadBody): Promise<unknown>;
  pauseDownload(sha1: string): Promise<unknown>;
  resumeDownload(sha1: string): Promise<unknown>;
  /** Stops a download and removes its partial file and record. */
  cancelDownload(sha1: string): Promise<unknown>;
  /** The transfer limits (net/transfer-limits.ts), and a change of them. */
  limits(): unknown;
  setLimits(body: Record<string, unknown>): unknown;
}

export interface DownloadBody {
  sha1: string;
  output?: string;
  force: boolean;
  seed: boolean;
  /** Peers the user named (`--peer`). */
  peers?: PeerEndpoint[];
  /** The share link the download was asked by (its trackers, peers and manifest id are used). */
  link?: ShareLink;
  /** How long the start waits for a first peer (`--wait`), in milliseconds. */
  waitMs?: number;
}

/** The longest `wait` a download request may ask for: an hour. */
const MAX_WAIT_SECONDS = 3600;

/** A request's `link` and `sha1`: the link, when given, is parsed here (one parser for the CLI and the daemon). */
function linkOf(raw: unknown, sha1: string): ShareLink | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "string") throw Errors.invalidLink("link must be a string");
  const link = parseShareLink(raw);
  if (link.sha1 !== sha1) throw Errors.invalidLink(`the link names ${link.sha1}, not ${sha1}`);
  return link;
}

function waitOf(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "number" || !Number.isFinite(raw) || raw < 0 || raw > MAX_WAIT_SECONDS) throw Errors.usage(`wait must be a number of seconds, 0-${MAX_WAIT_SECONDS}`);
  return Math.round(raw * 1000);
}

const MAX_BODY = 64 * 1024;

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const part of req) {
    text += (part as Buffer).toString("utf8");
    if (text.length > MAX_BODY) throw new HttpError(413, "body_too_large", "request body too large");
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Falls through to the error below.
  }
  throw new HttpError(400, "invalid_json", "request body must be a JSON object");
}

function sha1Of(raw: unknown): string {
  const sha1 = normalizeSha1(raw);
  if (sha1 === null) throw Errors.invalidHash(`${JSON.stringify(raw)} is not a SHA-1 (40 hex characters)`);
  return sha1;
}

/**
 * A download request's body. `file` (what a user typed: a SHA-1 or a share link, as `p2p download` takes it)
 * may stand for `sha1` and `link`.
 */
function downloadRequest(body: Record<string, unknown>): DownloadBody {
  const peers = peerListFromJson(body["peers"]);
  const asked = typeof body["file"] === "string" && body["sha1"] === undefined ? fileAsked(body["file"]) : undefined;
  const sha1 = asked?.sha1 ?? sha1Of(body["sha1"]);
  const link = asked === undefined ? linkOf(body["link"], sha1) : asked.link;
  const waitMs = waitOf(body["wait"]);
  return {
    sha1,
    ...(peers === undefined ? {} : { peers }),
    ...(link === undefined ? {} : { link }),
    ...(waitMs === undefined ? {} : { waitMs }),
    force: body["force"] === true,
    seed: body["seed"] !== false,
    ...(typeof body["output"] === "string" ? { output: body["output"] } : {}),
  };
}

/**
 * `GET /v1/status?gc=1`: a full garbage collection first, when the daemon runs with `--expose-gc` (the leak
 * tests do), so that `memory.heapUsedBytes` is what is alive, not what the next collection would free.
 * Without the flag it does nothing.
 */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === "function") gc();
}

const DOWNLOAD_ACTION = /^\/v1\/downloads\/([^/]+)(?:\/(pause|resume))?$/;

/**
 * Every control route, whichever transport brought the request: the Unix socket here, or the dashboard's
 * loopback port (peer/ui/ui-server.ts) behind its own checks.
 */
export async function controlRoute(req: IncomingMessage, res: ServerResponse, handlers: ControlHandlers): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  const method = req.method ?? "GET";
  if (path === "/v1/status" && method === "GET") {
    if (/[?&]gc=1(&|$)/.test(req.url ?? "")) collectGarbage();
    return sendJson(res, 200, handlers.status());
  }
  if (path === "/v1/limits" && method === "GET") return sendJson(res, 200, handlers.limits());
  if (path === "/v1/limits" && method === "PUT") return sendJson(res, 200, handlers.setLimits(await readBody(req)));
  if (path === "/v1/shares" && method === "GET") return sendJson(res, 200, await handlers.listShares());
  if (path === "/v1/shares" && method === "POST") {
    const body = await readBody(req);
    if (typeof body["path"] !== "string") throw Errors.usage("path is required");
    return sendJson(res, 200, await handlers.addShare(body["path"]));
  }
  const shareMatch = /^\/v1\/shares\/([^/]+)$/.exec(path ?? "");
  if (shareMatch !== null && method === "DELETE") return sendJson(res, 200, await handlers.removeShare(sha1Of(shareMatch[1])));
  if (path === "/v1/downloads" && method === "GET") return sendJson(res, 200, await handlers.listDownloads());
  const action = DOWNLOAD_ACTION.exec(path ?? "");
  if (action !== null && method === (action[2] === undefined ? "DELETE" : "POST")) {
    const sha1 = sha1Of(action[1]);
    if (action[2] === "pause") return sendJson(res, 200, await handlers.pauseDownload(sha1));
    if (action[2] === "resume") return sendJson(res, 200, await handlers.resumeDownload(sha1));
    return sendJson(res, 200, await handlers.cancelDownload(sha1));
  }
  if (path === "/v1/downloads" && method === "POST") {
    const body = await readBody(req);
    const request = downloadRequest(body);
    if (body["detach"] === true) {
      // Owned by the daemon: the output must not depend on where the daemon was started.
      if (request.output !== undefined && !isAbsolute(request.output)) throw Errors.usage(`output must be an absolute path, not ${JSON.stringify(request.output)}`, "name a folder on the daemon's machine, such as /home/me/Downloads");
      return sendJson(res, 200, await handlers.startDownload(request));
    }
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    const emit = (event: unknown): void => {
      if (!res.writableEnded) res.write(`${JSON.stringify(event)}\n`);
    };
    try {
      emit({ type: "result", result: await handlers.download(request, emit, abort.signal) });
    } catch (error) {
      const failure = error instanceof P2PError ? error.toJSON() : { code: "INTERNAL", kind: "internal", message: String(error) };
      emit({ type: "error", error: failure });
    }
    res.end();
    return;
  }
  throw new HttpError(404, "not_found", `no control route ${method} ${path}`);
}

export async function startControlServer(socketPath: string, handlers: ControlHandlers): Promise<Server> {
  // A socket file left by a daemon that was killed: nothing answers it (the caller checked), so it goes.
  await unlink(socketPath).catch(() => undefined);
  const server = createServer((req, res) => {
    controlRoute(req, res, handlers).catch((error: unknown) => sendError(res, error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return server;
}
