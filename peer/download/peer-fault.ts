/** How a request to a peer failed: the network (or a refusal), too slow, a broken protocol, or our own abort. */
export class PeerFault extends Error {
  constructor(
    readonly kind: "network" | "timeout" | "protocol" | "aborted",
    message: string,
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
