import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Swarm, SwarmAnnounce } from "../../tracker-worker/swarm.js";

// The config in vitest.config.mts leaves DIAL_BACK on and DIAL_BACK_PRIVATE off, as deployed.
const namespace = env.SWARM as unknown as DurableObjectNamespace<Swarm>;

function announce(peerId: string, over: Partial<SwarmAnnounce> = {}): SwarmAnnounce {
  return { peerId, keyHash: `hash-${peerId}`, ip: "80.100.100.9", port: 5001, complete: true, stopped: false, limit: 50, ...over };
}

describe("dial-back", () => {
  it("dials nothing for an address that is not the connection's own, nor for a private one, and says it does not know", async () => {
    const stub = namespace.get(namespace.idFromName("dial-claims"));
    // A claimed address (recorded under TRUST_CLIENT_IP) that is not where the announce came from.
    const claimed = await stub.announce(announce("a", { dialIp: "80.100.100.10" }));
    expect(claimed).toMatchObject({ ok: true, value: { you: { ip: "80.100.100.9", port: 5001, reachable: null } } });
    // No connection address at all.
    expect(await stub.announce(announce("b", { ip: "80.100.100.11" }))).toMatchObject({ ok: true, value: { you: { reachable: null } } });
    // Private, loopback and reserved targets on a tracker that does not allow them.
    for (const ip of ["10.1.2.3", "127.0.0.1", "192.168.1.5", "198.18.0.1"]) {
      expect(await stub.announce(announce(`p-${ip}`, { ip, dialIp: ip }))).toMatchObject({ ok: true, value: { you: { ip, reachable: null } } });
    }
    expect(await stub.dialsStarted()).toBe(0);
    const listed = await stub.peers(50);
    expect(listed.ok && listed.value.peers.every((peer) => peer.reachable === undefined)).toBe(true);
  });

  it("never dials a client's claimed ip through the Worker: the body's ip is not the connection's", async () => {
    const sha1 = "c".repeat(40);
    const response = await SELF.fetch(`https://tracker.test/v1/files/${sha1}/peers`, {
      method: "POST",
      headers: { "content-type": "application/json", "CF-Connecting-IP": "10.9.9.9" },
      body: JSON.stringify({ peerId: "claimer", port: 22, key: "k".repeat(32), left: 0, ip: "8.8.8.8" }),
    });
    expect(response.status).toBe(200);
    const body = await response.json<{ you: { ip: string; reachable: boolean | null } }>();
    // TRUST_CLIENT_IP is off: the connection's address is recorded, and being private it is not dialled either.
    expect(body.you).toEqual({ ip: "10.9.9.9", port: 22, reachable: null });
    expect(await namespace.get(namespace.idFromName(sha1)).dialsStarted()).toBe(0);
  });
});
