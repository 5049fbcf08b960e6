import { errors } from "./errors.js";

/** How much of a body that turns out oversized while being read is still read, to its end, before refusing. */
const DRAIN_MAX = 1024 * 1024;

/**
 * Reads a JSON request body of at most `limit` bytes.
 *
 * Under `wrangler dev`, a body must be refused either untouched or read to its end: once its reading has
 * begun, cancelling it (or leaving it part-read) wedges wrangler's proxy worker, and the next request, from
 * any client on any connection, waits unanswered until yet another request comes (measured with wrangler
 * 4.86: a 2 MB body refused after 1 MiB of it was read held the next request for as long as its client
 * waited; the same body refused untouched, up to 50 MB, held nothing). So a body refused by its type or
 * its declared length is not touched. A body without a declared length can only be found oversized by
 * reading it: it is read to its end when that end comes within DRAIN_MAX, and cancelled past that, which
 * costs nothing on Cloudflare; the local tracker's front never sends wrangler dev such a body (it sends
 * only whole bodies, with their length, of at most 64 KiB).
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get("Content-Type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw errors.unsupportedMediaType();
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > limit) throw errors.bodyTooLarge(limit);
  if (request.body === null) throw errors.invalidJson();
  const reader = request.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await drainReader(reader, size);
      throw errors.bodyTooLarge(limit);
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)) as unknown;
  } catch {
    throw errors.invalidJson();
  }
}

async function drainReader(reader: ReadableStreamDefaultReader<Uint8Array>, alreadyRead: number): Promise<void> {
  let read = alreadyRead;
  try {
    while (read <= DRAIN_MAX) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to drain.
  }
}
