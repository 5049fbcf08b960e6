import { errors } from "./errors.js";

/**
 * Reads a JSON request body of at most `limit` bytes. A declared length over the limit is refused before
 * anything is read; an undeclared one (chunked) is cut off as soon as it passes the limit.
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get("Content-Type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw errors.unsupportedMediaType();
  const declared = request.headers.get("Content-Length");
  if (declared !== null && Number(declared) > limit) throw errors.bodyTooLarge(limit);
  if (request.body === null) throw errors.invalidJson();
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
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
