import { env, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { checkRelayToken, relayTokenKey } from "../../common/relay-token.js";
import { RELAY_TOKEN_PATTERN } from "../../common/rendezvous-wire.js";
import { pickRelay, type ListedRelay } from "../../tracker-worker/relay-pick.js";
import type { RelayRegistry } from "../../tracker-worker/relay-registry.js";
import { errorCode, identity, isOrder, openSocket, post } from "./rendezvous-helpers.js";

// The config in vitest.config.mts leaves DIAL_BACK on and DIAL_BACK_PRIVATE off, as deployed.
const namespace = env.RELAYS as unknown as DurableObjectNamespace<RelayRegistry>;
const registry = (): DurableObjectStub<RelayRegistry> => namespace.get(namespace.idFromName("relays"));

/**
 * Offers a relay through a second RelayRegistry over the same storage, built with other settings (as the
 * Swarm's reload test does): the Worker's own object keeps the deployed ones, and reads what this one wrote.
 */
async function offerWith(vars: Partial<Env>, relay: { peerId: string; key: string }, ip: string, port: number): Promise<{ reachable: boolean | null; dials: number }> {
  const tokenKey = await relayTokenKey(relay.key);
  return runInDurableObject(registry(), async (instance: RelayRegistry, state) => {
    const Ctor = instance.constructor as new (state: DurableObjectState, env: Env) => RelayRegistry;
    const other = new Ctor(state, { ...env, ...vars });
    const result = await other.offer({ peerId: relay.peerId, ip, port, tokenKey, stopped: false });
    if (!result.ok) throw new Error(result.code);
    return { reachable: result.value.reachable, dials: other.dialsStarted() };
  });
}

async function askRelay(peerId: string, asker: string): Promise<Response> {
  return post(`/v1/peers/${peerId}/relay`, {}, asker);
}

beforeEach(async () => {
  await runInDurableObject(registry(), (_instance, state) => {
    state.storage.sql.exec("DELETE FROM relays");
  });
});

describe("POST /v1/relays", () => {
  it("refuses a key that does not derive the peer id", async () => {
    const relay = await identity("relay-owner");
    const thief = await identity("relay-thief");
    const response = await post("/v1/relays", { peerId: relay.peerId, key: thief.key, port: 5001 }, "10.40.0.1");
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("key_mismatch");
  });

  it("dial-back on, private target not allowed: reachable null, nothing dialled, never handed out", async () => {
    const relay = await identity("relay-private");
    const response = await post("/v1/relays", { peerId: relay.peerId, key: relay.key, port: 5001 }, "10.40.0.2");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ interval: 2, reachable: null });
    expect(await registry().dialsStarted()).toBe(0);
    const peer = await identity("relay-private-target");
    const socket = await openSocket(peer.peerId, peer.key, "10.40.1.2");
    const asked = await askRelay(peer.peerId, "10.40.2.2");
    expect(asked.status).toBe(503);
    expect(await errorCode(asked)).toBe("no_relay");
    socket.ws.close(1000);
  });

  it("dial-back off: listed unchecked, at the offering connection's address; stopped removes it", async () => {
    const relay = await identity("relay-unchecked");
    expect(await offerWith({ DIAL_BACK: "false" }, relay, "10.40.0.3", 5003)).toEqual({ reachable: null, dials: 0 });
    const peer = await identity("relay-unchecked-target");
    const socket = await openSocket(peer.peerId, peer.key, "10.40.1.3");
    const asked = await askRelay(peer.peerId, "10.40.2.3");
    expect(asked.status).toBe(200);
    const reply = await asked.json<{ ip: string; port: number; token: string }>();
    expect(reply).toMatchObject({ ip: "10.40.0.3", port: 5003 });
    expect(reply.token).toMatch(RELAY_TOKEN_PATTERN);
    // The peer is told the same relay and the same token.
    const order = await socket.next();
    expect(order).toMatchObject({ type: "relay", ip: "10.40.0.3", port: 5003, token: reply.token });
    expect(isOrder(order)).toBe(true);
    const stopped = await post("/v1/relays", { peerId: relay.peerId, key: relay.key, port: 5003, event: "stopped" }, "10.40.0.3");
    expect(stopped.status).toBe(200);
    expect((await askRelay(peer.peerId, "10.40.2.3")).status).toBe(503);
    socket.ws.close(1000);
  });

  it("dial-back on with private targets allowed: a relay that answers is listed, a closed port is not", async (context) => {
    const target = inject("dialTarget");
    if (target === null) return context.skip("no non-loopback address on this machine");
    const open = await identity("relay-dialled-open");
    const closed = await identity("relay-dialled-closed");
    const vars = { DIAL_BACK: "true", DIAL_BACK_PRIVATE: "true" };
    expect(await offerWith(vars, open, target.ip, target.port)).toEqual({ reachable: true, dials: 1 });
    expect(await offerWith(vars, closed, target.ip, target.closedPort)).toEqual({ reachable: false, dials: 1 });
    const peer = await identity("relay-dialled-target");
    const socket = await openSocket(peer.peerId, peer.key, "10.40.1.4");
    for (let i = 0; i < 5; i++) {
      const reply = await (await askRelay(peer.peerId, "10.40.2.4")).json<{ ip: string; port: number }>();
      expect(reply).toMatchObject({ ip: target.ip, port: target.port });
      await socket.next();
    }
    socket.ws.close(1000);
  });

  it("hands out a relay of the asker's family, never at the asker's or the peer's address", async () => {
    const v4 = await identity("relay-v4");
    const v6 = await identity("relay-v6");
    const askerOwn = await identity("relay-asker-own");
    const peerOwn = await identity("relay-peer-own");
    const off = { DIAL_BACK: "false" };
    await offerWith(off, v4, "10.41.0.1", 5001);
    await offerWith(off, v6, "2001:db8:41::1", 5001);
    await offerWith(off, askerOwn, "10.41.9.9", 5001);
    await offerWith(off, peerOwn, "10.41.8.8", 5001);
    const peer = await identity("relay-family-target");
    const socket = await openSocket(peer.peerId, peer.key, "10.41.8.8");
    // Six asks: what one asker may send one peer in 10 s.
    for (let i = 0; i < 6; i++) {
      const reply = await (await askRelay(peer.peerId, "10.41.9.9")).json<{ ip: string }>();
      expect(reply.ip).toBe("10.41.0.1");
      await socket.next();
    }
    socket.ws.close(1000);
    // An IPv6 asker of an IPv6 peer gets the IPv6 relay.
    const peer6 = await identity("relay-family-target6");
    const socket6 = await openSocket(peer6.peerId, peer6.key, "2001:db8:41::8");
    const reply6 = await (await askRelay(peer6.peerId, "2001:db8:41::9")).json<{ ip: string }>();
    expect(reply6.ip).toBe("2001:db8:41::1");
    socket6.ws.close(1000);
  });

  it("mints each token with the picked relay's token key: it checks with that key, not with another, and the raw key is never stored", async () => {
    const relay = await identity("relay-minting");
    const other = await identity("relay-minting-other");
    // Offered through the route, which derives the token key; listed by hand (a private address is never dialled here).
    const offered = await post("/v1/relays", { peerId: relay.peerId, key: relay.key, port: 5007 }, "10.40.0.7");
    expect(offered.status).toBe(200);
    const rows = await runInDurableObject(registry(), (_instance, state) => {
      state.storage.sql.exec("UPDATE relays SET listed = 1");
      return state.storage.sql.exec("SELECT * FROM relays").toArray();
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.["token_key"]).toBe(await relayTokenKey(relay.key));
    expect(Object.values(rows[0] ?? {})).not.toContain(relay.key);
    const peer = await identity("relay-minting-target");
    const socket = await openSocket(peer.peerId, peer.key, "10.40.1.7");
    const asked = await askRelay(peer.peerId, "10.40.2.7");
    expect(asked.status).toBe(200);
    const reply = await asked.json<{ ip: string; port: number; token: string }>();
    expect(reply).toMatchObject({ ip: "10.40.0.7", port: 5007 });
    expect(await checkRelayToken(await relayTokenKey(relay.key), reply.token, Date.now())).toBe(true);
    expect(await checkRelayToken(await relayTokenKey(other.key), reply.token, Date.now())).toBe(false);
    expect(await socket.next()).toMatchObject({ type: "relay", token: reply.token });
    // Each ask gets a token of its own.
    const again = await (await askRelay(peer.peerId, "10.40.2.7")).json<{ token: string }>();
    expect(again.token).not.toBe(reply.token);
    expect(await checkRelayToken(await relayTokenKey(relay.key), again.token, Date.now())).toBe(true);
    socket.ws.close(1000);
  });

  it("never hands out an entry from before token keys (it has none) until the relay offers itself again", async () => {
    const relay = await identity("relay-old-entry");
    const peer = await identity("relay-old-entry-target");
    await runInDurableObject(registry(), (instance: RelayRegistry, state) => {
      // The table as the previous version made it: no token_key, no ip_group.
      state.storage.sql.exec("DROP TABLE relays");
      state.storage.sql.exec(
        "CREATE TABLE relays (peer_id TEXT NOT NULL, family INTEGER NOT NULL, ip TEXT NOT NULL, port INTEGER NOT NULL, listed INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (peer_id, family))",
      );
      state.storage.sql.exec("INSERT INTO relays VALUES (?, 4, '10.43.0.1', 5001, 1, ?)", relay.peerId, Date.now() + 60_000);
      const Ctor = instance.constructor as new (state: DurableObjectState, env: Env) => RelayRegistry;
      const upgraded = new Ctor(state, env);
      expect(upgraded.pick(4, 4, [])).toBeNull();
    });
    const socket = await openSocket(peer.peerId, peer.key, "10.43.1.1");
    expect((await askRelay(peer.peerId, "10.43.2.1")).status).toBe(503);
    await offerWith({ DIAL_BACK: "false" }, relay, "10.43.0.1", 5001);
    const reply = await (await askRelay(peer.peerId, "10.43.2.1")).json<{ ip: string; token: string }>();
    expect(reply.ip).toBe("10.43.0.1");
    expect(await checkRelayToken(await relayTokenKey(relay.key), reply.token, Date.now())).toBe(true);
    socket.ws.close(1000);
  });

  it("caps relays per IPv6 /64, not per address", async () => {
    const off = { DIAL_BACK: "false" };
    for (let i = 0; i < 4; i++) await offerWith(off, await identity(`relay-crowd6-${i}`), `2001:db8:42:1::${i + 1}`, 5001);
    const fifth = await identity("relay-crowd6-4");
    const same64 = await post("/v1/relays", { peerId: fifth.peerId, key: fifth.key, port: 5001 }, "2001:db8:42:1:ffff::5");
    expect(same64.status).toBe(429);
    expect(await errorCode(same64)).toBe("address_limit");
    const next64 = await post("/v1/relays", { peerId: fifth.peerId, key: fifth.key, port: 5001 }, "2001:db8:42:2::5");
    expect(next64.status).toBe(200);
  });

  it("caps relays per address", async () => {
    const off = { DIAL_BACK: "false" };
    for (let i = 0; i < 4; i++) await offerWith(off, await identity(`relay-crowd-${i}`), "10.42.0.1", 5001 + i);
    const fifth = await identity("relay-crowd-4");
    const response = await post("/v1/relays", { peerId: fifth.peerId, key: fifth.key, port: 6000 }, "10.42.0.1");
    expect(response.status).toBe(429);
    expect(await errorCode(response)).toBe("address_limit");
  });
});

describe("pickRelay", () => {
  const relays: ListedRelay[] = [
    { peerId: "a", family: 4, ip: "198.51.100.1", port: 1, tokenKey: "aa" },
    { peerId: "a", family: 6, ip: "2001:db8::a", port: 1, tokenKey: "aa" },
    { peerId: "b", family: 4, ip: "198.51.100.2", port: 2, tokenKey: "bb" },
    { peerId: "c", family: 6, ip: "2001:db8::c", port: 3, tokenKey: "cc" },
  ];

  it("needs an entry in each side's family, and gives each side its own", () => {
    expect(pickRelay(relays, 4, 6, [])).toEqual({ forAsker: { ip: "198.51.100.1", port: 1 }, forTarget: { ip: "2001:db8::a", port: 1 }, tokenKey: "aa" });
    expect(pickRelay(relays, 6, 6, ["2001:db8::a"], () => 0)).toEqual({ forAsker: { ip: "2001:db8::c", port: 3 }, forTarget: { ip: "2001:db8::c", port: 3 }, tokenKey: "cc" });
  });

  it("skips a relay any of whose addresses is excluded, and picks uniformly among the rest", () => {
    expect(pickRelay(relays, 4, 6, ["198.51.100.1"])).toBeNull();
    const seen = new Set<string>();
    for (const r of [0, 0.49, 0.5, 0.99]) seen.add(pickRelay(relays, 4, 4, [], () => r)?.forAsker.ip ?? "none");
    expect([...seen].sort()).toEqual(["198.51.100.1", "198.51.100.2"]);
  });
});
