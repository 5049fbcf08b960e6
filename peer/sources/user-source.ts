import type { FoundPeer } from "./candidate-table.js";
import type { PeerSource } from "./peer-finder.js";
import type { PeerEndpoint } from "./peer-address.js";

/** The user's source, when the user named any peers. */
export function userSources(peers: readonly PeerEndpoint[] | undefined): PeerSource[] {
  return peers === undefined || peers.length === 0 ? [] : [new UserPeerSource(peers)];
}

/** The peers a user named (`p2p download --peer IP:port`): a source beside the trackers, always answering. */
export class UserPeerSource implements PeerSource {
  readonly name = "user";

  constructor(private readonly peers: readonly PeerEndpoint[]) {}

  find(): Promise<FoundPeer[]> {
    // Whether it has the whole file is not known until it is asked: not complete, as trackers say of a stranger.
    return Promise.resolve(this.peers.map(({ host, port }) => ({ host, port, complete: false })));
  }
}
