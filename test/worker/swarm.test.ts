import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Swarm, SwarmAnnounce } from "../../tracker-worker/swarm.js";

// The config in vitest.config.mts: interval 2 s, grace 1 s, 3 entries per address.
const namespace = env.SWARM as unknown as DurableObjectNamespace<Swarm>;

function stubFor(name: string): DurableObjectStub<Swarm> {
  return namespace.get(namespace.idFromName(name));
}

function announce(peerId: string, over: Partial<SwarmAnnounce> = {}): SwarmAnnounce {
  return { peerId, keyHash: `hash-${peerId}`, ip: "10.0.0.1", port: 5001, complete: true, stopped: false, limit: 50, ...over };
}

function rows(state: DurableObjectState): number {
  const tables = state.storage.sql
    .exec<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'entries'")
    .one().n;
  return tables === 0 ? 0 : state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM entries").one().n;
}

describe("Swarm Durable Object", () => {
  it("stores announced peers in SQLite and lists the others", async () => {
    const stub = stubFor("store");
    await stub.announce(announce("a"));
    const reply = await stub.announce(announce("b", { ip: "10.0.0.2" }));
    expect(reply).toMatchObject({ ok: true, value: { interval: 2, peers: [{ peerId: "a", ip: "10.0.0.1" }] } });
    await runInDurableObject(stub, (_instance, state) => {
      expect(rows(state)).toBe(2);
      expect(state.storage.sql.exec<{ peer_id: string }>("SELECT peer_id FROM entries ORDER BY peer_id").toArray().map((r) => r.peer_id)).toEqual(["a", "b"]);
    });
  });

  it("keeps a peer's IPv4 and IPv6 announces as two entries, both listed, both removed by stopped", async () => {
    const stub = stubFor("families");
    await stub.announce(announce("a", { ip: "198.19.71.1" }));
    await stub.announce(announce("a", { ip: "2001:db8:70::1" }));
    const listed = await stub.peers(50);
    expect(listed.ok && listed.value.peers.map((p) => `${p.peerId} ${p.ip}`).sort()).toEqual(["a 198.19.71.1", "a 2001:db8:70::1"]);
    expect(await stub.stats("f".repeat(40))).toMatchObject({ ok: true, value: { complete: 1, incomplete: 0 } });
    await runInDurableObject(stub, (_instance, state) => expect(rows(state)).toBe(2));
    await stub.announce(announce("a", { ip: "198.19.71.1", stopped: true }));
    expect(await stub.peers(50)).toEqual({ ok: false, code: "unknown_file" });
  });

  it("lets only the owning key update or remove an entry", async () => {
    const stub = stubFor("keys");
    await stub.announce(announce("a", { port: 1111 }));
    expect(await stub.announce(announce("a", { keyHash: "thief", port: 2222 }))).toEqual({ ok: false, code: "key_mismatch" });
    expect(await stub.announce(announce("a", { keyHash: "thief", stopped: true }))).toEqual({ ok: false, code: "key_mismatch" });
    await runInDurableObject(stub, (_instance, state) => {
      expect(state.storage.sql.exec<{ port: number }>("SELECT port FROM entries WHERE peer_id = 'a'").one().port).toBe(1111);
    });
    await stub.announce(announce("a", { stopped: true }));
    expect(await stub.peers(50)).toEqual({ ok: false, code: "unknown_file" });
  });

  it("expires silent peers by alarm and deletes the storage of an empty swarm", async () => {
    const stub = stubFor("expiry");
    await stub.announce(announce("a", { file: { name: "f", size: 1, chunkSize: 1048576, manifestId: "ab".repeat(32) } }));
    expect((await stub.stats("f".repeat(40))).ok).toBe(true);
    await runInDurableObject(stub, async (_instance, state) => {
      expect(await state.storage.getAlarm()).not.toBeNull();
    });
    await new Promise((done) => setTimeout(done, 3100));
    // Gone from replies as soon as its time is up; no read sweeps, so only the alarm can empty storage.
    expect(await stub.peers(50)).toEqual({ ok: false, code: "unknown_file" });
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, async (_instance, state) => {
      const tables = state.storage.sql
        .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'")
        .toArray();
      expect(tables).toEqual([]);
      expect(await state.storage.getAlarm()).toBeNull();
    });
    expect(await stub.stats("f".repeat(40))).toEqual({ ok: false, code: "unknown_file" });
  });

  it("an early alarm keeps live peers and schedules the next sweep", async () => {
    const stub = stubFor("early-alarm");
    await stub.announce(announce("a"));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, async (_instance, state) => {
      expect(rows(state)).toBe(1);
      expect(await state.storage.getAlarm()).not.toBeNull();
    });
  });

  it("keeps a peer that re-announces and drops only the silent one", async () => {
    const stub = stubFor("mixed");
    await stub.announce(announce("silent"));
    await stub.announce(announce("chatty", { ip: "10.0.0.9" }));
    for (let i = 0; i < 4; i++) {
      await new Promise((done) => setTimeout(done, 1000));
      await stub.announce(announce("chatty", { ip: "10.0.0.9" }));
    }
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, (_instance, state) => {
      expect(state.storage.sql.exec<{ peer_id: string }>("SELECT peer_id FROM entries").toArray().map((r) => r.peer_id)).toEqual(["chatty"]);
    });
    const reply = await stub.peers(50);
    expect(reply.ok && reply.value.peers.map((p) => p.peerId)).toEqual(["chatty"]);
  });

  it("records file metadata from the first complete peer only", async () => {
    const stub = stubFor("meta");
    const first = { name: "first.bin", size: 10, chunkSize: 1048576, manifestId: "11".repeat(32) };
    const later = { name: "other.bin", size: 99, chunkSize: 1048576, manifestId: "22".repeat(32) };
    await stub.announce(announce("leech", { complete: false, file: later }));
    await stub.announce(announce("seed", { file: first, ip: "10.0.0.2" }));
    await stub.announce(announce("seed2", { file: later, ip: "10.0.0.3" }));
    expect(await stub.stats("a".repeat(40))).toEqual({
      ok: true,
      value: { sha1: "a".repeat(40), file: first, complete: 2, incomplete: 1 },
    });
  });

  it("writes a bare refresh only once the stored expiry lags by half the grace, and any change at once", async () => {
    const stub = stubFor("coalesce");
    const stored = (): Promise<{ port: number; expires_at: number }> =>
      runInDurableObject(stub, (_instance, state) =>
        state.storage.sql.exec<{ port: number; expires_at: number }>("SELECT port, expires_at FROM entries").one(),
      );
    await stub.announce(announce("a"));
    const first = await stored();
    await stub.announce(announce("a"));
    expect(await stored()).toEqual(first);
    await stub.announce(announce("a", { port: 6000 }));
    const moved = await stored();
    expect(moved.port).toBe(6000);
    await new Promise((done) => setTimeout(done, 600));
    await stub.announce(announce("a", { port: 6000 }));
    expect((await stored()).expires_at).toBeGreaterThanOrEqual(moved.expires_at + 500);
  });

  it("caps entries per address", async () => {
    const stub = stubFor("per-address");
    for (const id of ["1", "2", "3"]) expect((await stub.announce(announce(id))).ok).toBe(true);
    expect(await stub.announce(announce("4"))).toEqual({ ok: false, code: "address_limit" });
  });

  it("reloads its peers from SQLite in a new instance", async () => {
    const stub = stubFor("reload");
    await stub.announce(announce("a"));
    const listed = await runInDurableObject(stub, (instance: Swarm, state) => {
      // A second object over the same storage, as after an eviction or a restart: it starts from SQLite only.
      const Ctor = instance.constructor as new (state: DurableObjectState, env: Env) => Swarm;
      const fresh = new Ctor(state, env);
      const reply = fresh.peers(50);
      return reply.ok ? reply.value.peers.map((p) => p.peerId) : [];
    });
    expect(listed).toEqual(["a"]);
  });
});
