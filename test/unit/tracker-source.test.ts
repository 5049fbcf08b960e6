import { describe, expect, it } from "vitest";
import { TrackerPeerSource } from "../../peer/sources/tracker-source.js";
import type { TrackerClient } from "../../peer/tracker-client/tracker-client.js";

/** A tracker that lists what it is told to (the boundary, stubbed: the scope rule is what is tested). */
function trackerAt(baseUrl: string, ips: string[]): TrackerClient {
  const peers = ips.map((ip, i) => ({ peerId: `p${i}`, ip, port: 5001, complete: true }));
  return { baseUrl, peers: () => Promise.resolve({ interval: 60, peers }) } as unknown as TrackerClient;
}

describe("a tracker as a peer source", () => {
  const listed = ["127.0.0.1", "192.168.1.1", "203.0.113.9"];

  it("a tracker a share link named cannot point this machine at addresses narrower than its own", async () => {
    const fromLink = new TrackerPeerSource(trackerAt("http://198.51.100.7:8787", listed), 50, true);
    expect((await fromLink.find("a".repeat(40), new AbortController().signal)).map((p) => p.host)).toEqual(["203.0.113.9"]);
    const named = new TrackerPeerSource(trackerAt("https://tracker.example.org", listed), 50, true);
    expect((await named.find("a".repeat(40), new AbortController().signal)).map((p) => p.host)).toEqual(["203.0.113.9"]);
    const local = new TrackerPeerSource(trackerAt("http://192.168.1.9:8787", listed), 50, true);
    expect((await local.find("a".repeat(40), new AbortController().signal)).map((p) => p.host)).toEqual(["192.168.1.1", "203.0.113.9"]);
  });

  it("the user's own trackers are taken as given", async () => {
    const own = new TrackerPeerSource(trackerAt("http://198.51.100.7:8787", listed));
    expect((await own.find("a".repeat(40), new AbortController().signal)).map((p) => p.host)).toEqual(listed);
  });
});
