import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HaveFeed } from "../swarm/have-feed.js";
import { HttpError, sendJson } from "./http-reply.js";

/**
 * `GET /v1/files/{sha1}/have`: which chunks this peer can serve. A complete file answers in one line; a
 * download in progress answers its bitfield and position, and `?since=<seq>` waits (long-poll, up to
 * HOLD_MS) for chunks verified after that position, so that a follower learns of each within a round trip.
 * `?since=<seq>&stream=1` answers the same objects as an event stream (`text/event-stream`, one `data:` line
 * each; a comment line after each pause without one) on one open reply for up to STREAM_MS: a follower learns of every chunk without a request per chunk,
 * which is most of the requests in a swarm (docs/protocol.md).
 */

/** How long a follower's request is held when nothing new has arrived; well inside the socket's idle limit. */
export const HOLD_MS = 10_000;
/** Chunks per answer: a follower far behind takes a few requests rather than one huge answer. */
const MAX_ADDED = 4096;
/** How long one event stream lasts; its follower then asks again from where it got to. */
export const STREAM_MS = 60_000;

/** What `/have` shows: the whole file, or a feed (a download in progress, or a super-seeding sharer's view for this client). */
export type HaveTarget = { complete: true; chunks: number } | { complete: false; feed: HaveFeed; holdMs?: number };

export async function sendHave(req: IncomingMessage, res: ServerResponse, target: HaveTarget, again: () => HaveTarget | undefined): Promise<void> {
  const { since, stream } = queryOf(req.url ?? "");
  if (stream && since !== null) return streamHave(req, res, target, since, again);
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

/**
 * The event stream: every answer a long-poll from `since` would give, in turn, as `data:` events on one
 * reply; a comment line whenever HOLD_MS pass without one (so that idle limits on the way do not end it).
 * A super-seeding view is asked for again at each such pause, as a new long-poll would (its shown chunks
 * expire). It ends after the file's `complete` event, when the download here ends, or after STREAM_MS.
 */
async function streamHave(req: IncomingMessage, res: ServerResponse, first: HaveTarget, since: number, again: () => HaveTarget | undefined): Promise<void> {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  // The 200 goes out now, not with the first event (which may be 10 s away).
  res.flushHeaders();
  const gone = new AbortController();
  res.once("close", () => gone.abort());
  // A follower that does not read is not written to past what its socket takes: each write waits its turn.
  const write = async (text: string): Promise<void> => {
    if (!res.write(text)) await once(res, "drain", { signal: gone.signal }).catch(() => undefined);
  };
  const until = Date.now() + STREAM_MS;
  let target: HaveTarget | undefined = first;
  let feed: HaveFeed | null = null;
  let from = since;
  while (!gone.signal.aborted && Date.now() < until) {
    if (target === undefined || target.complete) {
      if (target !== undefined) await write(`data: ${JSON.stringify({ complete: true, chunks: target.chunks })}\n\n`);
      break;
    }
    // Another feed than before (a view given again, say) counts from its own start; so does a position this
    // feed never reached (the follower knew another run of it).
    if (feed !== null && target.feed !== feed) from = 0;
    feed = target.feed;
    if (from > feed.have.seq) from = 0;
    await feed.waitBeyond(from, Math.min(target.holdMs ?? HOLD_MS, until - Date.now()), gone.signal);
    if (gone.signal.aborted) return;
    if (feed.closed) {
      // The download here ended (finished and shared, or stopped), or super-seeding did.
      target = again();
      continue;
    }
    if (feed.have.seq > from) {
      const { seq, added } = feed.have.since(from, MAX_ADDED);
      from = seq;
      await write(`data: ${JSON.stringify({ complete: false, chunks: feed.have.chunkCount, seq, added })}\n\n`);
      continue;
    }
    await write(": idle\n\n");
    if (target.holdMs !== undefined) target = again();
  }
  res.end();
}

function queryOf(url: string): { since: number | null; stream: boolean } {
  const query = url.includes("?") ? new URLSearchParams(url.slice(url.indexOf("?") + 1)) : null;
  const raw = query?.get("since") ?? null;
  const stream = query?.get("stream") === "1";
  if (raw === null) return { since: null, stream };
  if (!/^\d{1,10}$/.test(raw)) throw new HttpError(400, "invalid_since", "since must be a non-negative integer (a seq from an earlier answer)");
  return { since: Number(raw), stream };
}
