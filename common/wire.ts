/** Message shapes of the tracker API (docs/protocol.md). Shared by the Worker and the peer's tracker client. */

export type AnnounceEvent = "started" | "completed" | "stopped";

/** What a peer says about the file when it announces; recorded from the first complete peer. */
export interface FileMeta {
  name: string;
  size: number;
  chunkSize: number;
  /** SHA-256 hex of the file's canonical manifest. */
  manifestId: string;
}

export interface AnnounceRequest {
  peerId: string;
  port: number;
  key: string;
  event?: AnnounceEvent;
  left: number;
  file?: FileMeta;
  /** A claimed address; honoured only where the tracker is configured to trust clients. */
  ip?: string;
  /** `port` is a mapping the peer made on its router (NAT-PMP, PCP or UPnP), not a port of its own host. */
  mapped?: boolean;
}

export interface PeerEntry {
  peerId: string;
  ip: string;
  port: number;
  complete: boolean;
  /**
   * Whether the tracker's dial-back reached this peer's address and port (docs/protocol.md §2.5); absent when
   * not checked (yet), or from a tracker that does not check.
   */
  reachable?: boolean;
  /** Present (true) when the peer announced its port as a mapping it made on its router; absent otherwise. */
  mapped?: true;
}

export interface PeersReply {
  /** Seconds until the peer should announce again. */
  interval: number;
  peers: PeerEntry[];
}

/** The announcing peer as the tracker recorded it; in announce replies only (absent from older trackers). */
export interface AnnouncedAs {
  ip: string;
  port: number;
  /** The dial-back's verdict: null while not (yet) checked, e.g. the check is still running or was not allowed. */
  reachable: boolean | null;
}

export interface AnnounceReply extends PeersReply {
  you?: AnnouncedAs;
}

export interface FileStatsReply {
  sha1: string;
  file: FileMeta | null;
  complete: number;
  incomplete: number;
}

export interface HealthReply {
  ok: true;
  storage: "ok";
}

export interface ErrorReply {
  error: { code: string; message: string };
}
