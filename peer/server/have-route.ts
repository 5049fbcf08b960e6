import type { IncomingMessage, ServerResponse } from "node:http";
import type { HaveFeed } from "../swarm/have-feed.js";
import { HttpError, sendJson } from "./http-reply.js";

/**
 * `GET /v1/files/{sha1}/have`: which chunks this peer can serve. A complete file answers in one line; a
 * download in progress answers its bitfield and position, and `?since=<seq>` waits (long-poll, up to
 * HOLD_MS) for chunks verified after that position, so that a follower learns of each within a round trip.
 */

/** How long a follower's request is held when nothing new has arrived; well inside the socket's idle limit. */
export const HOLD_MS = 10_000;
/** Chunks per answer: a follower far behind takes a few requests rather than one huge answer. */
const MAX_ADDED = 4096;

/** What `/have` shows: the whole file, or a feed (a download in progress, or a super-seeding sharer's view for this client). */
export type HaveTarget = { complete: true; chunks: number } | { complete: false; feed: HaveFeed; holdMs?: number };

export async function sendHave(req: IncomingMessage, res: ServerResponse, target: HaveTarget, again: () => HaveTarget | undefined): Promise<void> {
  const since = sinceOf(req.url ?? "");
  if (target.complete) {
    sendJson(res, 200, { complete: true, chunks: target.chunks }, { "Cache-Control": "no-store" });
    return;
  }
  const { feed } = target;
  if (since === null) {
    const { have } = feed;
    sendJson(res, 200, { complete: false, chunks: have.chunkCount, seq: have.seq, bitfield: have.bitfield().toString("base64") }, { "Cache-Control": "no-store" });
    return;
  }
  // A position this feed never reached (the follower knew another run of it) starts again from 0, at once.
  const from = since > feed.have.seq ? 0 : since;
  const gone = new AbortController();
  res.once("close", () => gone.abort());
  await feed.waitBeyond(from, target.holdMs ?? HOLD_MS, gone.signal);
  if (gone.signal.aborted) return;
  if (feed.closed) {
    // The download ended meanwhile (finished and shared, or stopped), or super-seeding did.
    const now = again();
    if (now === undefined || !now.complete) throw new HttpError(404, "not_shared", "the download here has ended");
    sendJson(res, 200, { complete: true, chunks: now.chunks }, { "Cache-Control": "no-store" });
    return;
  }
  const { seq, added } = feed.have.since(from, MAX_ADDED);
  sendJson(res, 200, { complete: false, chunks: feed.have.chunkCount, seq, added }, { "Cache-Control": "no-store" });
}

function sinceOf(url: string): number | null {
  const query = url.includes("?") ? new URLSearchParams(url.slice(url.indexOf("?") + 1)) : null;
  const raw = query?.get("since") ?? null;
  if (raw === null) return null;
  if (!/^\d{1,10}$/.test(raw)) throw new HttpError(400, "invalid_since", "since must be a non-negative integer (a seq from an earlier answer)");
  return Number(raw);
}
