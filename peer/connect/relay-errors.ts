import { P2PError } from "../errors.js";

/**
 * What can go wrong between a peer and a relay, as one typed error with stable codes (the codes are spelled
 * here only). A refusal carries the relay's status, its reason code and, for load, when to ask again, so that
 * the caller can tell "try another relay later" from "this token is spent".
 */

export type RelayErrorCode =
  /** The TCP connection to the relay could not be made (or was lost before its answer). */
  | "RELAY_UNREACHABLE"
  /** No answer in time: the relay is slow, or the other peer never came (the relay waits at most 10 s). */
  | "RELAY_TIMEOUT"
  /** The relay answered, but not 101: a bad or spent token, a role already taken, a full relay. */
  | "RELAY_REFUSED"
  /** The answer was not one a relay gives (not HTTP, a head too large, a 101 for another protocol). */
  | "RELAY_PROTOCOL"
  /** The caller gave up (its AbortSignal). */
  | "RELAY_ABORTED";

export class RelayError extends P2PError {
  declare readonly code: RelayErrorCode;

  constructor(
    code: RelayErrorCode,
    message: string,
    /** The relay's HTTP status, for RELAY_REFUSED. */
    readonly status?: number,
    /** The relay's reason code (`relay_full`, `token_used`...), for RELAY_REFUSED. */
    readonly reason?: string,
    /** Seconds to wait before asking this relay again (its Retry-After), when it said. */
    readonly retryAfterSec?: number,
  ) {
    super(code, code === "RELAY_ABORTED" ? "interrupted" : "network", message);
    this.name = "RelayError";
  }
}
