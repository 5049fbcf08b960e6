import { isPort } from "../common/ip.js";
import { frameObject, SECRET_PATTERN, type RendezvousAnswer } from "../common/rendezvous-wire.js";

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
  const value = frameObject(frame);
  if (value === null) return null;
  const { type, id } = value;
  if (typeof id !== "string" || !SECRET_PATTERN.test(id)) return null;
  if (type === "punch-ready") {
    const port = value["port"];
    if (!isPort(port)) return null;
    return { type, id, port };
  }
  if (type === "refused") {
    const reason = value["reason"];
    if (typeof reason !== "string" || reason.length > REASON_MAX || CONTROL.test(reason)) return null;
    return { type, id, reason };
  }
  return null;
}
