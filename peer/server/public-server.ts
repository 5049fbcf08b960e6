import type { FileHandle } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CHUNK_SIZE } from "../../common/constants.js";
import { normalizeSha1 } from "../../common/ids.js";
import { canonicalBytes, chunkLength } from "../manifest/manifest.js";
import type { Share } from "../state/share-registry.js";
import { HttpError, sendError } from "./http-reply.js";
import { readFully } from "../storage/read-fully.js";
import { parseRange } from "./range.js";
import { limitConnections } from "./connection-limits.js";
import { OpenFiles, type Lease } from "./open-files.js";
import { sendHave, type HaveTarget } from "./have-route.js";
import type { PartialFile } from "../swarm/partial-file.js";
import type { UploadSlots } from "../swarm/upload-slots.js";
import type { SuperSeed } from "../swarm/super-seed.js";
import { normalizeIp } from "../../common/ip.js";
import { endPaced, paced } from "../net/paced-send.js";
import type { RateLimiter } from "../net/rate-limiter.js";
import { noteDownloader, sendPeers, type ExchangeHooks } from "./exchange-route.js";

/**
 * The public port (5001 by default): manifests, chunks and whole files of what this peer shares, to anyone,
 * and the chunks already verified of what it is downloading (partial seeding), with `/have` to tell which.
 * Files are found by id only; nothing from the URL ever reaches the file system. File data goes only to
 * clients holding an upload slot (swarm/upload-slots.ts); others get a quick 503 with Retry-After.
 */

export interface PublicServerOptions {
  lookup: (sha1: string) => Share | undefined;
  /** A download in progress, served from its partial file. */
  partial?: (sha1: string) => PartialFile | undefined;
  /** Who may be sent file data now; without it, everyone. */
  slots?: UploadSlots;
  /** The super-seeding state of a whole file shared here, while it has one. */
  superSeed?: (share: Share) => SuperSeed | undefined;
  /** Told the size of every piece of file data sent, and to whom (its address), for the daemon's upload count. */
  onSent?: (bytes: number, client: string, sha1: string) => void;
  /** Called when a shared file is found changed, so that the daemon stops announcing it. */
  onChanged?: (share: Share) => void;
  maxConnections?: number;
  /** The daemon's upload limit, applied to every byte of file data sent (net/paced-send.ts). */
  limiter?: RateLimiter;
  /** Peer exchange: who took chunks from us, and the `/peers` reply (exchange-route.ts). */
  exchange?: ExchangeHooks;
  /**
   * An HTTP Upgrade request (a reversed socket's handshake, connect/pending-handshakes.ts): returns whether it
   * took the socket. Any upgrade it does not take gets a 400 and is closed.
   */
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
}

const ROUTE = /^\/v1\/files\/([^/]+)(?:\/(manifest|have|peers|chunks\/([^/]+)))?$/;

export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** Connections one address may hold at once: plenty for a downloader's window, not enough to starve others. */
const PER_ADDRESS = 32;

export function createPublicServer(options: PublicServerOptions): Server {
  // Slow or idle clients cannot hold the daemon: 10 s to send a request's headers (checked every second),
  // idle sockets closed, at most PER_ADDRESS connections per address and maxConnections in all.
  const files = new OpenFiles();
  const server = createServer({ connectionsCheckingInterval: 1000, headersTimeout: 10_000, requestTimeout: 15_000 }, (req, res) => {
    handle(req, res, options, files).catch((error: unknown) => sendError(res, error));
  });
  server.on("close", () => files.closeAll());
  server.keepAliveTimeout = 5_000;
  server.setTimeout(30_000, (socket) => socket.destroy());
  limitConnections(server, PER_ADDRESS, options.maxConnections ?? 512);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (options.onUpgrade?.(req, socket, head) === true) return;
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", () => socket.destroy());
  });
  return server;
}

/**
 * Serves a socket this daemon did not accept (a reversed or punched one, after the handshake) like one it
 * did: the same routes, slots, per-address and total caps (connection-limits.ts), slow-client timeouts, and
 * the socket's own remote address for upload slots. The handshake left it paused with any early bytes put
 * back; it reads again once the server's listeners are on it.
 */
export function servePeerSocket(server: Server, socket: Socket): void {
  server.emit("connection", socket);
  if (!socket.destroyed) socket.resume();
}

async function handle(req: IncomingMessage, res: ServerResponse, options: PublicServerOptions, files: OpenFiles): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed`);
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const match = ROUTE.exec(path);
  if (match === null) throw new HttpError(404, "not_found", "no such route");
  const sha1 = normalizeSha1(match[1]);
  if (sha1 === null) throw new HttpError(400, "invalid_hash", "a file id is 40 hex characters");
  const share = options.lookup(sha1);
  const partial = share === undefined ? options.partial?.(sha1) : undefined;
  const manifest = share?.manifest ?? (partial?.closed === false ? partial.manifest : undefined);
  if (manifest === undefined) throw notShared(sha1);
  const head = req.method === "HEAD";
  const client = normalizeIp(req.socket.remoteAddress ?? "") ?? "unknown";
  const sent = (bytes: number): void => {
    options.slots?.served(client, bytes);
    options.onSent?.(bytes, client, sha1);
  };

  if (match[2] === "manifest") {
    const body = canonicalBytes(manifest);
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length, "Cache-Control": "no-store" });
    res.end(head ? undefined : body);
    return;
  }
  const seeding = share === undefined ? undefined : options.superSeed?.(share);
  seeding?.saw(client, Date.now());
  if (match[2] === "have") {
    const target = (s: Share | undefined, p: PartialFile | undefined): HaveTarget | undefined => {
      if (p !== undefined) return p.closed ? undefined : { complete: false, feed: p.feed };
      if (s === undefined) return undefined;
      const view = options.superSeed?.(s)?.view(client, Date.now()) ?? null;
      // A super-seeding view also changes as time passes (a chunk shown to someone who never asked for it
      // goes to another): its follower asks again every few seconds rather than every ten.
      return view === null ? { complete: true, chunks: s.manifest.chunks.length } : { complete: false, feed: view, holdMs: SUPER_SEED_HOLD_MS };
    };
    await sendHave(req, res, target(share, partial) ?? { complete: true, chunks: manifest.chunks.length }, () => target(options.lookup(sha1), undefined));
    return;
  }
  if (match[2] === "peers") return sendPeers(req, res, sha1, options.exchange);
  const index = match[3] === undefined ? null : /^\d{1,10}$/.test(match[3]) ? Number(match[3]) : -1;
  if (index !== null && (index < 0 || index >= manifest.chunks.length)) {
    throw new HttpError(416, "chunk_out_of_range", `chunk index must be 0-${manifest.chunks.length - 1}`);
  }
  if (partial !== undefined) {
    if (index === null) throw new HttpError(404, "file_incomplete", `${sha1} is still being downloaded here: ask for its chunks`);
    if (!partial.has(index)) throw new HttpError(404, "chunk_missing", `chunk ${index} of ${sha1} is not here yet`);
  }
  admit(options.slots, client, res, () => seeding?.refused(client));
  if (index !== null && options.exchange !== undefined) noteDownloader(req, res, sha1, options.exchange);
  if (partial !== undefined && index !== null) {
    const length = chunkLength(manifest, index);
    const read = (buffer: Buffer): Promise<number> =>
      partial.read(index, buffer, length).then(
        () => length,
        () => {
          // The download ended as this request came (its partial file closed): the finished share answers next.
          throw new HttpError(503, "download_ending", "the download here is ending; ask again", { "Retry-After": "1" });
        },
      );
    await sendChunk(read, res, length, head, sent, options.limiter);
    return;
  }
  if (share === undefined) throw notShared(sha1);

  let lease: Lease;
  try {
    lease = await files.acquire(share);
  } catch (error) {
    options.onChanged?.(share);
    throw new HttpError(410, "file_changed", error instanceof Error ? error.message : "the shared file changed");
  }
  const handleOpen = lease.handle;
  try {
    if (index !== null) {
      const length = chunkLength(manifest, index);
      const start = index * manifest.chunkSize;
      seeding?.requested(client, index);
      const sentChunk = (bytes: number): void => {
        sent(bytes);
        seeding?.sent(client, index, Date.now());
      };
      await sendChunk((buffer) => readFully(handleOpen, buffer, 0, length, start), res, length, head, sentChunk, options.limiter);
      return;
    }
    const size = share.size;
    const range = parseRange(req.headers.range, size);
    const common = {
      "Accept-Ranges": "bytes",
      "Content-Type": "application/octet-stream",
      "Content-Disposition": contentDisposition(manifest.name),
      ETag: `"${sha1}"`,
    };
    if (range === "unsatisfiable") {
      res.writeHead(416, { ...common, "Content-Range": `bytes */${size}`, "Content-Length": 0 });
      res.end();
      return;
    }
    if (range === null) {
      res.writeHead(200, { ...common, "Content-Length": size });
      await send(handleOpen, res, 0, size - 1, head, sent, options.limiter);
      return;
    }
    res.writeHead(206, { ...common, "Content-Length": range.end - range.start + 1, "Content-Range": `bytes ${range.start}-${range.end}/${size}` });
    await send(handleOpen, res, range.start, range.end, head, sent, options.limiter);
  } finally {
    lease.release();
  }
}

/** Chunk buffers given back by finished answers, reused so that serving chunks makes no garbage. */
const spare: Buffer[] = [];
const MAX_SPARE = 8;

/** How long a follow of a super-seeding view is held: a view changes as its shown chunks expire unasked. */
const SUPER_SEED_HOLD_MS = 3000;

function notShared(sha1: string): HttpError {
  return new HttpError(404, "not_shared", `${sha1} is not shared here`);
}

/**
 * File data only for a client with an upload slot: the others are told when to ask again, at once. The slot
 * counts this reply as in flight until the response closes.
 */
function admit(slots: UploadSlots | undefined, client: string, res: ServerResponse, onRefused: () => void): void {
  const admission = slots?.admit(client, Date.now());
  if (admission === undefined) return;
  if (admission.ok) {
    res.once("close", () => slots?.release(client, Date.now()));
    return;
  }
  onRefused();
  throw new HttpError(503, "no_upload_slot", `every upload slot is taken; ask again in ${admission.retryAfterSec} s`, { "Retry-After": String(admission.retryAfterSec) });
}

/**
 * A chunk: one read into a reused buffer, then one write; the buffer goes back once the socket has taken
 * every byte (or is gone). The read comes before the headers, so a file that turns out short is a 410.
 */
async function sendChunk(read: (buffer: Buffer) => Promise<number>, res: ServerResponse, length: number, head: boolean, onSent: (bytes: number) => void, limiter?: RateLimiter): Promise<void> {
  const headers = { "Content-Type": "application/octet-stream", "Content-Length": length };
  if (head || length === 0) {
    res.writeHead(200, headers);
    res.end();
    return;
  }
  const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(Math.max(length, CHUNK_SIZE));
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    if (spare.length < MAX_SPARE && buffer.length === CHUNK_SIZE) spare.push(buffer);
  };
  try {
    if ((await read(buffer)) < length) {
      throw new HttpError(410, "file_changed", "the shared file is shorter than when it was shared");
    }
  } catch (error) {
    release();
    throw error;
  }
  res.once("finish", () => {
    onSent(length);
    release();
  });
  res.once("close", release);
  res.writeHead(200, headers);
  // Without a limit, one write, as ever; with one, slices as it allows (the buffer goes back on finish or close).
  if (limiter?.limited === true) void endPaced(res, buffer.subarray(0, length), limiter);
  else res.end(buffer.subarray(0, length));
}

async function send(file: FileHandle, res: ServerResponse, start: number, end: number, head: boolean, onSent: (bytes: number) => void, limiter?: RateLimiter): Promise<void> {
  if (head || end < start) {
    res.end();
    return;
  }
  const stream = file.createReadStream({ start, end, highWaterMark: 1024 * 1024, autoClose: false });
  stream.on("data", (part) => onSent(part.length));
  try {
    // With a limiter, always paced: a limit set while a file is being sent applies to the rest of it.
    if (limiter === undefined) await pipeline(stream, res);
    else await pipeline(stream, paced(limiter), res);
  } catch {
    // The client went away mid-body; nothing to answer.
    res.destroy();
  }
}
