import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PeersReply } from "../../common/wire.js";
import type { Swarm } from "../../tracker-worker/swarm.js";

const namespace = env.SWARM as unknown as DurableObjectNamespace<Swarm>;

function announce(sha1: string, body: Record<string, unknown>, ip: string): Promise<Response> {
  return SELF.fetch(`https://tracker.test/v1/files/${sha1}/peers`, {
    method: "POST",
    headers: { "content-type": "application/json", "CF-Connecting-IP": ip },
    body: JSON.stringify({ port: 5001, key: `key-of-${String(body["peerId"])}-padding`, left: 0, ...body }),
  });
}

describe("announce: mapped", () => {
  it("lists mapped: true for a peer that said its port is a router mapping, and nothing for the others", async () => {
    const sha1 = "d1".repeat(20);
    expect((await announce(sha1, { peerId: "router-mapped", mapped: true }, "10.20.0.1")).status).toBe(200);
    expect((await announce(sha1, { peerId: "own-port", mapped: false }, "10.20.0.2")).status).toBe(200);
    expect((await announce(sha1, { peerId: "silent-about-it" }, "10.20.0.3")).status).toBe(200);
    const reply = await (await SELF.fetch(`https://tracker.test/v1/files/${sha1}/peers`, { headers: { "CF-Connecting-IP": "10.20.0.4" } })).json<PeersReply>();
    const byId = new Map(reply.peers.map((peer) => [peer.peerId, peer]));
    expect(byId.get("router-mapped")?.mapped).toBe(true);
    expect("mapped" in byId.get("own-port")!).toBe(false);
    expect("mapped" in byId.get("silent-about-it")!).toBe(false);
  });

  it("writes a change of mapped at once and drops it when the peer stops saying so", async () => {
    const sha1 = "d2".repeat(20);
    await announce(sha1, { peerId: "flip", mapped: true }, "10.20.1.1");
    await announce(sha1, { peerId: "flip" }, "10.20.1.1");
    const stored = await runInDurableObject(namespace.get(namespace.idFromName(sha1)), (_instance, state) =>
      state.storage.sql.exec<{ mapped: number }>("SELECT mapped FROM entries WHERE peer_id = 'flip'").one().mapped,
    );
    expect(stored).toBe(0);
  });

  it("refuses a mapped that is not a boolean", async () => {
    const response = await announce("d3".repeat(20), { peerId: "odd", mapped: "yes" }, "10.20.2.1");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_mapped" } });
  });

  it("keeps entries stored before the mapped column existed, as not mapped", async () => {
    const stub = namespace.get(namespace.idFromName("pre-mapped"));
    const listed = await runInDurableObject(stub, (instance: Swarm, state) => {
      // The schema as the tracker wrote it before this column: one old row.
      state.storage.sql.exec(`
        CREATE TABLE entries (peer_id TEXT NOT NULL, family INTEGER NOT NULL, key_hash TEXT NOT NULL, ip TEXT NOT NULL,
          port INTEGER NOT NULL, complete INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (peer_id, family));
        CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      `);
      state.storage.sql.exec("INSERT INTO entries VALUES ('old', 4, 'h', '10.20.3.1', 5001, 1, ?)", Date.now() + 60_000);
      const Ctor = instance.constructor as new (state: DurableObjectState, env: Env) => Swarm;
      const fresh = new Ctor(state, env);
      const columns = state.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('entries')").toArray().map((c) => c.name);
      const reply = fresh.peers(50);
      return { columns, peers: reply.ok ? reply.value.peers : [] };
    });
    expect(listed.columns).toContain("mapped");
    expect(listed.peers).toEqual([{ peerId: "old", ip: "10.20.3.1", port: 5001, complete: true }]);
  });
});
