import { Errors, P2PError } from "../errors.js";
import { parseManifest, type Manifest } from "../manifest/manifest.js";
import { pause, throwIfCancelled } from "./cancel.js";
import { PeerFault, type FetchLimits } from "./peer-http.js";
import type { PeerPool } from "./peer-pool.js";

/** The most manifest JSON we accept from a peer: ~480,000 chunks, a file of about 470 GiB. */
const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

export interface ManifestSearch {
  /** How long peers that fail for want of time or a connection are asked again (with the tracker) before giving up. */
  budgetMs: number;
  signal?: AbortSignal;
}

/** A failure that says nothing about the manifest: the peer was busy, slow or unreachable this time. */
function transient(error: unknown): boolean {
  return error instanceof PeerFault && (error.kind === "network" || error.kind === "timeout");
}

/**
 * Gets the manifest from the first peer whose copy checks out (the first answer's peers, then the others'):
 * right shape, the SHA-1 we asked for, and the id the tracker recorded (when it has one). Peers that send
 * anything else are skipped as sources of the manifest, not banned: the same file shared under another name
 * has another manifest id, and its chunks are as good as anyone's (each is checked against the manifest
 * when it arrives). When some peer failed only for want of time or a connection (a loaded peer stalls), the
 * sources are asked again and every peer tried again, backing off, within `search.budgetMs`: one stall of
 * the only peer is not the end of a download.
 */
export async function fetchManifest(
  sha1: string,
  recordedId: string | null,
  pool: PeerPool,
  firstCandidates: string[],
  limits: FetchLimits,
  search: ManifestSearch,
): Promise<Manifest> {
  const deadline = Date.now() + search.budgetMs;
  let candidates = firstCandidates;
  let delay = 250;
  for (;;) {
    const round = await askEveryPeer(sha1, recordedId, pool, candidates, limits, search.signal);
    if (round.manifest !== null) return round.manifest;
    if (round.tried === 0) {
      throw Errors.noPeers(`no source lists a peer for ${sha1} that this machine can download from`, "try again when a peer that has the file is online");
    }
    const said = round.problems.slice(0, 3).join("; ");
    if (!round.anyTransient) throw Errors.manifestMismatch(`no peer sent a valid manifest for ${sha1}: ${said}`);
    if (Date.now() + delay >= deadline) {
      throw Errors.noPeers(`no peer sent the manifest of ${sha1} within ${Math.round(search.budgetMs / 1000)} s: ${said}`, "try again when a peer that has the file answers");
    }
    await pause(delay * (0.75 + Math.random() * 0.5), search.signal);
    throwIfCancelled(search.signal);
    delay = Math.min(delay * 2, 5000);
    // The sources again: new peers join the pool, and every peer known is asked once more.
    try {
      candidates = await pool.discover(0, search.signal);
    } catch (error) {
      // Every source failing this time is one more reason to wait, not the end: the known peers are asked again.
      if (!(error instanceof P2PError) || error.code === "CANCELLED") throw error;
      candidates = [];
    }
  }
}

interface Round {
  manifest: Manifest | null;
  tried: number;
  problems: string[];
  anyTransient: boolean;
}

/** A peer that has not answered the manifest by now gets the next one asked beside it (at most MAX_ASKED at once). */
const STAGGER_MS = 1_000;
const MAX_ASKED = 3;

/**
 * One pass over the peers: `candidates` first (complete ones first), then any another source named
 * meanwhile; once those run out, the sources still answering are waited for: a tracker listing only stale
 * peers must not fail a download that another tracker's peers can serve. A peer slow to answer (one reached
 * through the tracker takes a few seconds to find its way, a loaded one stalls) does not hold the others up:
 * after STAGGER_MS the next is asked beside it, and the first manifest that checks out is taken.
 */
async function askEveryPeer(sha1: string, recordedId: string | null, pool: PeerPool, candidates: string[], limits: FetchLimits, signal: AbortSignal | undefined): Promise<Round> {
  const problems: string[] = [];
  const tried = new Set<string>();
  let anyTransient = false;
  let found: Manifest | null = null;
  const asking = new Set<Promise<void>>();
  const next = (): string | undefined => [...candidates, ...pool.connections.keys()].find((key) => !tried.has(key));
  const ask = async (key: string): Promise<void> => {
    try {
      const body = await pool.get(key).small(`/v1/files/${sha1}/manifest`, limits, MAX_MANIFEST_BYTES);
      found ??= parseManifest(JSON.parse(body.toString("utf8")) as unknown, sha1, recordedId);
    } catch (error) {
      anyTransient ||= transient(error);
      problems.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  while (found === null) {
    throwIfCancelled(signal);
    let key = next();
    if (key === undefined && asking.size === 0) {
      await pool.sourcesAnswered();
      key = next();
      if (key === undefined) break;
    }
    if (key !== undefined && asking.size < MAX_ASKED) {
      tried.add(key);
      const asked: Promise<void> = ask(key).finally(() => asking.delete(asked));
      asking.add(asked);
    }
    // Until one of those answers, or it is time to ask one more beside them.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([...asking, new Promise<void>((done) => (timer = setTimeout(done, STAGGER_MS)))]);
    clearTimeout(timer);
  }
  return { manifest: found, tried: tried.size, problems, anyTransient };
}
