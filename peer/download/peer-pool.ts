import { hostPort } from "../../common/ip.js";
import type { PeerEntry } from "../../common/wire.js";
import { Errors, P2PError } from "../errors.js";
import type { TrackerClient } from "../tracker-client/tracker-client.js";
import { pause, throwIfCancelled, unlessCancelled } from "./cancel.js";
import { PeerConnection } from "./peer-http.js";

/**
 * The peers of one download: one connection pool per peer, filled from the tracker. When the download runs
 * out of usable peers it asks the tracker again, backing off with jitter, before it gives up.
 */
export class PeerPool {
  readonly connections = new Map<string, PeerConnection>();

  constructor(
    private readonly sha1: string,
    private readonly tracker: TrackerClient,
    private readonly exclude: ReadonlySet<string>,
    private readonly localAddress: string | undefined,
  ) {}

  /** Adds the peers of a tracker reply; returns the keys of those not excluded, complete ones first. */
  add(entries: PeerEntry[]): string[] {
    const keys: string[] = [];
    const sorted = [...entries].sort((a, b) => Number(b.complete) - Number(a.complete));
    for (const entry of sorted) {
      const key = hostPort(entry.ip, entry.port);
      if (this.exclude.has(key)) continue;
      if (!this.connections.has(key)) this.connections.set(key, new PeerConnection({ ip: entry.ip, port: entry.port }, this.localAddress));
      keys.push(key);
    }
    return keys;
  }

  get(key: string): PeerConnection {
    const connection = this.connections.get(key);
    if (connection === undefined) throw new Error(`unknown peer ${key}`);
    return connection;
  }

  /**
   * Asks the tracker for peers until `accept` takes at least one of them or `budgetMs` runs out.
   * Tracker failures count as "no peers yet": a tracker that restarts mid-download is waited for.
   */
  async refill(accept: (keys: string[]) => number, budgetMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + budgetMs;
    let delay = 250;
    let lastError: P2PError | null = null;
    for (;;) {
      throwIfCancelled(signal);
      try {
        const reply = await unlessCancelled(this.tracker.peers(this.sha1, 50), signal);
        if (accept(this.add(reply.peers)) > 0) return;
        lastError = null;
      } catch (error) {
        throwIfCancelled(signal);
        if (!(error instanceof P2PError)) throw error;
        lastError = error;
      }
      if (Date.now() + delay > deadline) break;
      await pause(delay * (0.75 + Math.random() * 0.5), signal);
      delay = Math.min(delay * 2, 5000);
    }
    throw this.noPeersError(lastError);
  }

  noPeersError(trackerError: P2PError | null): P2PError {
    const why = trackerError !== null ? ` (the tracker: ${trackerError.message})` : "";
    return Errors.noPeers(
      `no peer is left that can send the rest of ${this.sha1}${why}`,
      "the verified part is kept: run the same command again when a peer that has the file is online",
    );
  }

  close(): void {
    for (const connection of this.connections.values()) connection.close();
  }
}
