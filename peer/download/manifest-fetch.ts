import { Errors } from "../errors.js";
import { parseManifest, type Manifest } from "../manifest/manifest.js";
import type { FetchLimits } from "./peer-http.js";
import type { PeerPool } from "./peer-pool.js";

/** The most manifest JSON we accept from a peer: ~480,000 chunks, a file of about 470 GiB. */
const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

/**
 * Gets the manifest from the first peer whose copy checks out (the first answer's peers, then the others'): right shape, the SHA-1 we asked for, and the
 * id the tracker recorded (when it has one). Peers that send anything else are skipped as sources of the
 * manifest, not banned: the same file shared under another name has another manifest id, and its chunks are
 * as good as anyone's (each is checked against the manifest when it arrives).
 */
export async function fetchManifest(
  sha1: string,
  recordedId: string | null,
  pool: PeerPool,
  candidates: string[],
  limits: FetchLimits,
): Promise<Manifest> {
  const problems: string[] = [];
  const tried = new Set<string>();
  // The first answer's peers first (complete ones first), then any another source named meanwhile; once
  // those run out, the sources still answering are waited for: a tracker listing only stale peers must not
  // fail a download that another tracker's peers can serve.
  const next = (): string | undefined => [...candidates, ...pool.connections.keys()].find((key) => !tried.has(key));
  for (;;) {
    let key = next();
    if (key === undefined) {
      await pool.sourcesAnswered();
      key = next();
    }
    if (key === undefined) break;
    tried.add(key);
    try {
      const body = await pool.get(key).small(`/v1/files/${sha1}/manifest`, limits, MAX_MANIFEST_BYTES);
      return parseManifest(JSON.parse(body.toString("utf8")) as unknown, sha1, recordedId);
    } catch (error) {
      problems.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (tried.size === 0) {
    throw Errors.noPeers(`no tracker lists a peer for ${sha1} that this machine can download from`, "try again when a peer that has the file is online");
  }
  throw Errors.manifestMismatch(`no peer sent a valid manifest for ${sha1}: ${problems.slice(0, 3).join("; ")}`);
}
