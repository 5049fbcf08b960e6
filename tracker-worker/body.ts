import { errors } from "./errors.js";

/** How much of an oversized body is read and thrown away so that the connection stays usable. */
const DRAIN_MAX = 1024 * 1024;

/**
 * Reads a JSON request body of at most `limit` bytes. An oversized body is refused with 413 after being
 * drained (up to DRAIN_MAX): answering before the body is read leaves wrangler dev's proxy with a broken
 * connection, which fails the *next* request with a 503.
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get("Content-Type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    await drain(request, 0);
    throw errors.unsupportedMediaType();
  }
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > limit) {
    await drain(request, 0);
    throw errors.bodyTooLarge(limit);
  }
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

async function drain(request: Request, alreadyRead: number): Promise<void> {
  if (request.body === null) return;
  const reader = request.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  await drainReader(reader, alreadyRead);
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
