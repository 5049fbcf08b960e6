import { MAX_FRAME_BYTES, SECRET_PATTERN, type RendezvousAnswer } from "../common/rendezvous-wire.js";

/**
 * What a peer may say on its Rendezvous socket, read from an untrusted frame: a `RendezvousAnswer`, or null
 * for anything else (binary, over MAX_FRAME_BYTES, not JSON, an unknown type, a field out of range). Never
 * throws: a bad frame is counted by the caller, not an error of the tracker.
 */

const REASON_MAX = 200;
// Control characters in a reason would make the tracker's own error replies and logs lie.
const CONTROL = /[\u0000-\u001f\u007f]/;

export function parseAnswer(frame: string | ArrayBuffer): RendezvousAnswer | null {
  if (typeof frame !== "string") return null;
  // A UTF-16 length over the limit is at least that many UTF-8 bytes; under it, count the bytes.
  if (frame.length > MAX_FRAME_BYTES || new TextEncoder().encode(frame).byteLength > MAX_FRAME_BYTES) return null;
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { type, id } = value as Record<string, unknown>;
  if (typeof id !== "string" || !SECRET_PATTERN.test(id)) return null;
  if (type === "punch-ready") {
    const port = (value as Record<string, unknown>)["port"];
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) return null;
    return { type, id, port };
  }
  if (type === "refused") {
    const reason = (value as Record<string, unknown>)["reason"];
    if (typeof reason !== "string" || reason.length > REASON_MAX || CONTROL.test(reason)) return null;
    return { type, id, reason };
  }
  return null;
}
