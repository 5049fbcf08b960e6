/**
 * How a request to a peer failed: the network (or a refusal), too slow, a broken protocol, an answer that
 * contradicts the manifest (`lie`: another length than the chunk's, or more bytes than promised), or our
 * own abort.
 */
export class PeerFault extends Error {
  constructor(
    readonly kind: "network" | "timeout" | "protocol" | "lie" | "aborted",
    message: string,
    /** The HTTP status of a refusal, and its Retry-After in seconds when it sent one. */
    readonly refusal?: { status: number; retryAfterSec: number | null },
  ) {
    super(message);
  }
}

export interface FetchLimits {
  /** Longest silence in the middle of an answer. */
  idleMs: number;
  /** Longest time for the whole answer. */
  deadlineMs: number;
}
