import { hostPort } from "../../common/ip.js";
import { parsePeerAddress } from "../sources/peer-address.js";
import type { TrackerHealth } from "./announcer.js";

/**
 * How this daemon is seen from outside, by its trackers' last announce replies (their dial-backs): what a
 * share link gives as its address, and what a peer asked to reverse a connection should dial.
 */
export class SeenFromOutside {
  constructor(
    private readonly trackers: () => TrackerHealth[],
    /** The address it announces or listens on, when that is one address (`--announce-host`, `--host`). */
    private readonly named: string | undefined,
    private readonly publicPort: number,
  ) {}

  /**
   * The address a link gives for this daemon: the one a tracker reached it at from outside (its dial-back:
   * the router's address and mapped port, or a public one), else the one it announces (`--announce-host`),
   * or the one it listens on when that is a single address. On every address (0.0.0.0), unverified, it has
   * none it knows others reach: its trackers, the DHT and the LAN find it instead.
   */
  linkPeer(): { host: string; port: number } | undefined {
    const verified = this.trackers().find((health) => health.seenAs?.reachable === true)?.seenAs;
    if (verified !== undefined && parsePeerAddress(hostPort(verified.ip, verified.port)) !== null) return { host: verified.ip, port: verified.port };
    return this.named === undefined ? undefined : { host: this.named, port: this.publicPort };
  }

  /**
   * The port a peer asked to reverse should dial, as `tracker` records this daemon: null when that tracker
   * found it unreachable (a reversal could not arrive), the recorded port otherwise (not checked yet: tried).
   */
  reversalPort(tracker: string): number | null {
    const seen = this.trackers()
      .filter((health) => health.url === tracker)
      .map((health) => health.seenAs);
    const reached = seen.find((as) => as?.reachable === true);
    if (reached !== undefined) return reached.port;
    if (seen.length > 0 && seen.every((as) => as?.reachable === false)) return null;
    return seen.find((as) => as !== undefined)?.port ?? this.publicPort;
  }
}
