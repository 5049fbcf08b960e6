import { Errors } from "../errors.js";
import { parseManifest, type Manifest } from "../manifest/manifest.js";
import { PeerFault, type FetchLimits } from "./peer-http.js";
import type { PeerPool } from "./peer-pool.js";

/** The most manifest JSON we accept from a peer: ~480,000 chunks, a file of about 470 GiB. */
const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

/**
 * Gets the manifest from the first peer whose copy checks out: right shape, the SHA-1 we asked for, and the
 * id the tracker recorded (when it has one). Peers that cannot answer are skipped; peers that answer with
 * another manifest are skipped and marked as liars in the pool.
 */
export async function fetchManifest(
  sha1: string,
  recordedId: string | null,
  pool: PeerPool,
  candidates: string[],
  limits: FetchLimits,
): Promise<Manifest> {
  const problems: string[] = [];
  for (const key of candidates) {
    try {
      const body = await pool.get(key).small(`/v1/files/${sha1}/manifest`, limits, MAX_MANIFEST_BYTES);
      return parseManifest(JSON.parse(body.toString("utf8")) as unknown, sha1, recordedId);
    } catch (error) {
      if (!(error instanceof PeerFault)) pool.liars.add(key);
      problems.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (candidates.length === 0) {
    throw Errors.noPeers(`the tracker lists no peer for ${sha1} that this machine can download from`, "try again when a peer that has the file is online");
  }
  throw Errors.manifestMismatch(`no peer sent a valid manifest for ${sha1}: ${problems.slice(0, 3).join("; ")}`);
}
