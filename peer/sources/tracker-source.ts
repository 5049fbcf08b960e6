import type { TrackerClient } from "../tracker-client/tracker-client.js";
import { mayPointAt } from "./address-scope.js";
import type { FoundPeer } from "./candidate-table.js";
import type { PeerSource } from "./peer-finder.js";

/** One tracker as a source of peers (each `--tracker` is one, all asked at once). */
export class TrackerPeerSource implements PeerSource {
  readonly final = true;
  readonly name: string;

  /**
   * `scoped`: a tracker a share link named (a stranger's, perhaps), whose peers must reach at least as far
   * as the tracker itself (address-scope.ts): one on the internet cannot point this machine at its own
   * loopback or local network. The user's own trackers are trusted as given.
   */
  constructor(
    readonly client: TrackerClient,
    private readonly limit = 50,
    private readonly scoped = false,
  ) {
    this.name = `tracker:${client.baseUrl}`;
  }

  async find(sha1: string, signal: AbortSignal): Promise<FoundPeer[]> {
    const reply = await this.client.peers(sha1, this.limit, signal);
    const from = new URL(this.client.baseUrl).hostname.replace(/^\[(.*)\]$/, "$1");
    return reply.peers
      .filter((peer) => !this.scoped || mayPointAt(from, peer.ip))
      .map((peer) => ({
        host: peer.ip,
        port: peer.port,
        complete: peer.complete,
        ...(typeof peer.peerId === "string" && peer.peerId.length <= 64 ? { peerId: peer.peerId } : {}),
        reach: {
          rendezvous: this.client.baseUrl,
          ...(typeof peer.reachable === "boolean" ? { reachable: peer.reachable } : {}),
          ...(peer.mapped === true ? { mapped: true } : {}),
        },
      }));
  }
}

/**
 * The manifest id a complete peer recorded for the file, from the first tracker that answers with one (the
 * rest are then left); null once every tracker has answered without one or failed.
 */
export async function recordedManifestId(clients: readonly TrackerClient[], sha1: string, signal?: AbortSignal): Promise<string | null> {
  const found = new AbortController();
  const lookup = signal === undefined ? found.signal : AbortSignal.any([found.signal, signal]);
  try {
    return await Promise.any(
      clients.map(async (client) => {
        const id = (await client.file(sha1, lookup)).file?.manifestId;
        if (typeof id !== "string") throw new Error("no manifest id recorded");
        return id;
      }),
    );
  } catch {
    return null;
  } finally {
    found.abort();
  }
}
