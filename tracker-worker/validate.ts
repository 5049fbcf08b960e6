import {
  DEFAULT_PEER_SAMPLE,
  FILE_NAME_MAX,
  KEY_MAX,
  KEY_MIN,
  MAX_PEER_SAMPLE,
  PEER_ID_MAX,
} from "../common/constants.js";
import { isSha256Hex, normalizeSha1 } from "../common/ids.js";
import type { AnnounceEvent, AnnounceRequest, FileMeta } from "../common/wire.js";
import { badRequest, errors } from "./errors.js";

/** Turns untrusted input into typed values or a TrackerError with a code naming the field. */

const EVENTS: readonly AnnounceEvent[] = ["started", "completed", "stopped"];
// Control characters have no business in an id, a key or a name, and make logs lie.
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Chunk sizes a manifest may declare: 16 KiB to 64 MiB. */
const CHUNK_SIZE_MIN = 16 * 1024;
const CHUNK_SIZE_MAX = 64 * 1024 * 1024;

export function parseFileId(raw: string): string {
  const sha1 = normalizeSha1(raw);
  if (sha1 === null) throw errors.invalidHash(raw);
  return sha1;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function text(body: Record<string, unknown>, field: string, min: number, max: number): string {
  const value = body[field];
  if (value === undefined) throw badRequest(`missing_${field}`, `${field} is required`);
  if (typeof value !== "string") throw badRequest(`invalid_${field}`, `${field} must be a string`);
  if (value.length < min || value.length > max || CONTROL.test(value)) {
    throw badRequest(`invalid_${field}`, `${field} must be ${min}-${max} characters without control characters`);
  }
  return value;
}

export function integer(body: Record<string, unknown>, field: string, min: number, max: number): number {
  const value = body[field];
  if (value === undefined) throw badRequest(`missing_${field}`, `${field} is required`);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badRequest(`invalid_${field}`, `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function parseFileMeta(value: unknown): FileMeta {
  if (!isRecord(value)) throw badRequest("invalid_file", "file must be an object");
  const name = text(value, "name", 1, FILE_NAME_MAX);
  const size = integer(value, "size", 0, Number.MAX_SAFE_INTEGER);
  const chunkSize = integer(value, "chunkSize", CHUNK_SIZE_MIN, CHUNK_SIZE_MAX);
  const manifestId = value["manifestId"];
  if (!isSha256Hex(manifestId)) throw badRequest("invalid_manifestId", "file.manifestId must be 64 hex characters");
  return { name, size, chunkSize, manifestId: manifestId.toLowerCase() };
}

export function parseAnnounce(body: unknown): AnnounceRequest {
  if (!isRecord(body)) throw badRequest("invalid_body", "announce body must be a JSON object");
  const peerId = text(body, "peerId", 1, PEER_ID_MAX);
  const port = integer(body, "port", 1, 65535);
  const key = text(body, "key", KEY_MIN, KEY_MAX);
  const left = integer(body, "left", 0, Number.MAX_SAFE_INTEGER);
  const request: AnnounceRequest = { peerId, port, key, left };
  const event = body["event"];
  if (event !== undefined) {
    if (typeof event !== "string" || !(EVENTS as readonly string[]).includes(event)) {
      throw badRequest("invalid_event", `event must be one of ${EVENTS.join(", ")}, or absent`);
    }
    request.event = event as AnnounceEvent;
  }
  if (body["file"] !== undefined) request.file = parseFileMeta(body["file"]);
  if (body["ip"] !== undefined) {
    if (typeof body["ip"] !== "string") throw badRequest("invalid_ip", "ip must be a string");
    request.ip = body["ip"];
  }
  const mapped = body["mapped"];
  if (mapped !== undefined) {
    if (typeof mapped !== "boolean") throw badRequest("invalid_mapped", "mapped must be true, false, or absent");
    request.mapped = mapped;
  }
  return request;
}

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PEER_SAMPLE;
  if (!/^\d{1,4}$/.test(raw)) throw badRequest("invalid_limit", `limit must be an integer from 0 to ${MAX_PEER_SAMPLE}`);
  return Math.min(Number(raw), MAX_PEER_SAMPLE);
}
