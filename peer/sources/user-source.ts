import type { FoundPeer } from "./candidate-table.js";
import type { PeerSource } from "./peer-finder.js";
import type { PeerEndpoint } from "./peer-address.js";

/** The user's source (`user`, or `link` for a share link's peers), when there are any peers. */
export function userSources(peers: readonly PeerEndpoint[] | undefined, name = "user"): PeerSource[] {
  return peers === undefined || peers.length === 0 ? [] : [new UserPeerSource(peers, name)];
}

/**
 * Peers the user gave (`p2p download --peer IP:port`, or the `x.pe` of a share link): a source beside the
 * trackers, always answering.
 */
export class UserPeerSource implements PeerSource {
  readonly final = true;
  constructor(
    private readonly peers: readonly PeerEndpoint[],
    readonly name = "user",
  ) {}

  find(): Promise<FoundPeer[]> {
    // Whether it has the whole file is not known until it is asked: not complete, as trackers say of a stranger.
    return Promise.resolve(this.peers.map(({ host, port }) => ({ host, port, complete: false })));
  }
}
