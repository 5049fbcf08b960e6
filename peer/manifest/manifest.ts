import { createHash } from "node:crypto";
import { CHUNK_SIZE } from "../../common/constants.js";
import { isSha1Hex, isSha256Hex } from "../../common/ids.js";
import { Errors } from "../errors.js";

/**
 * A file's manifest: what a downloader needs to know and to check. Its id is the SHA-256 of its canonical
 * bytes (the JSON below, keys in this order, no spaces), which the tracker records from the first complete
 * peer; a downloader checks any manifest a peer sends against that id and against the SHA-1 it asked for.
 */
export interface Manifest {
  version: 1;
  name: string;
  size: number;
  chunkSize: number;
  /** SHA-1 of the whole file, lowercase hex: the file's id. */
  sha1: string;
  /** SHA-256 of each chunk, lowercase hex. */
  chunks: string[];
}

export function chunkCount(size: number, chunkSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / chunkSize);
}

/** The byte length of chunk `index`: chunkSize, except the last, which holds the rest. */
export function chunkLength(manifest: Pick<Manifest, "size" | "chunkSize">, index: number): number {
  return Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
}

export function canonicalBytes(manifest: Manifest): Buffer {
  const { version, name, size, chunkSize, sha1, chunks } = manifest;
  return Buffer.from(JSON.stringify({ version, name, size, chunkSize, sha1, chunks }), "utf8");
}

export function manifestId(manifest: Manifest): string {
  return createHash("sha256").update(canonicalBytes(manifest)).digest("hex");
}

/** Names are made safe (safe-name.ts) before use; this only bounds what we hold. */
const MAX_NAME = 65_536;
/** A manifest for a 16 TiB file of 1 MiB chunks is ~1.1 GB of JSON: refuse anything past 64 TiB of chunks. */
const MAX_CHUNKS = 64 * 1024 * 1024;

/** Checks an untrusted manifest's shape and its claims; throws MANIFEST_MISMATCH with what is wrong. */
export function parseManifest(value: unknown, expectedSha1: string, expectedId: string | null): Manifest {
  const bad = (why: string) => Errors.manifestMismatch(`manifest for ${expectedSha1} rejected: ${why}`);
  if (typeof value !== "object" || value === null) throw bad("not an object");
  const m = value as Record<string, unknown>;
  if (m["version"] !== 1) throw bad("unknown version");
  if (typeof m["name"] !== "string" || m["name"].length === 0 || m["name"].length > MAX_NAME) throw bad("bad name");
  if (!Number.isSafeInteger(m["size"]) || (m["size"] as number) < 0) throw bad("bad size");
  if (m["chunkSize"] !== CHUNK_SIZE) throw bad(`chunk size is not ${CHUNK_SIZE}`);
  if (!isSha1Hex(m["sha1"]) || m["sha1"] !== expectedSha1) throw bad("its SHA-1 is not the one asked for");
  const chunks = m["chunks"];
  const size = m["size"] as number;
  if (!Array.isArray(chunks) || chunks.length > MAX_CHUNKS || chunks.length !== chunkCount(size, CHUNK_SIZE)) {
    throw bad("chunk list does not match the size");
  }
  if (!chunks.every((c) => isSha256Hex(c) && c === c.toLowerCase())) throw bad("bad chunk hash");
  const manifest: Manifest = {
    version: 1,
    name: m["name"],
    size,
    chunkSize: CHUNK_SIZE,
    sha1: expectedSha1,
    chunks: chunks as string[],
  };
  if (expectedId !== null && manifestId(manifest) !== expectedId) throw bad("its id is not the one the tracker recorded");
  return manifest;
}
