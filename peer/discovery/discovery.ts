import type { PeerSource } from "../sources/peer-finder.js";

/**
 * A way, beside the trackers, by which a daemon makes its files findable and finds the peers of others: the
 * DHT (dht.ts), the LAN (lan.ts). Each is a peer source for downloads (what it finds becomes candidates like
 * any tracker's answer, peer/sources/) and a publisher of this daemon's files. How a peer was found stays in
 * the candidate's source name; the scheduler never sees it.
 */
export interface Discovery {
  /** Its source name, as candidates remember it and `p2p status` shows it: `dht`, `lan`. */
  readonly name: string;
  /** Finds the peers of a file (for downloads, beside the trackers). */
  readonly source: PeerSource;
  /**
   * Makes a file findable at this daemon's public port, until unpublished; the discovery re-announces it as
   * its network needs. Never throws: a failure shows in status().
   */
  publish(sha1: string): void;
  unpublish(sha1: string): void;
  /**
   * The port others reach this daemon on changed (its home router mapped the public port, or the mapping
   * lapsed): a discovery that announces to others beyond the local network announces this one from now on.
   */
  setPort?(port: number): void;
  /** Whether others can reach this daemon, as a tracker verified from outside (null: not known). */
  setReachable?(reachable: boolean | null): void;
  status(): DiscoveryStatus;
  /** Stops every announce and closes its sockets; what it published simply expires. */
  close(): Promise<void>;
}

/** How one discovery is doing, for `p2p status`. */
export interface DiscoveryStatus {
  name: string;
  /** Whether it works now (joined the DHT; the multicast socket is up); null while it starts. */
  ok: boolean | null;
  /** One line on its state: nodes in the routing table, files published, the last error. */
  detail: string;
}

/** The settings of every discovery; what is absent is off. */
export interface DiscoverySettings {
  /** The DHT, or null with `--no-dht`. */
  dht: { port: number | null; bootstrap: string[] } | null;
  /** LAN discovery by multicast (`--no-lan-discovery`: false). */
  lan: boolean;
}

/** What a discovery needs of the daemon (or the download) it serves. */
export interface DiscoveryContext {
  /** The address the public port listens on (0.0.0.0, ::, or one address). */
  host: string;
  /** The public HTTP port, or null when nothing is served (a download without a daemon: look-ups only). */
  publicPort: number | null;
  /** The address to publish where it must differ from the socket's (tests, LAN set-ups). */
  announceHost?: string;
  dataDir: string;
  log: (line: string) => void;
}

export const NO_DISCOVERY: DiscoverySettings = { dht: null, lan: false };
