import type { NetworkInterfaceInfo } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import type { DiscoveryContext } from "../../peer/discovery/discovery.js";
import type { LanInterface } from "../../peer/discovery/lan-interfaces.js";
import { decodeLanMessage, encodeAnnounces, encodeQuery, type LanMessage } from "../../peer/discovery/lan-message.js";
import type { LanSockets } from "../../peer/discovery/lan-sockets.js";
import { LanDiscovery, type LanOptions } from "../../peer/discovery/lan.js";

/** LAN discovery's protocol over sockets that only record what is sent: no datagram leaves this process. */

const F = "f".repeat(40);
const G = "e".repeat(40);
const PEER_ID = "0123456789abcdef";

class FakeSockets {
  readonly sent: LanMessage[] = [];
  readonly joined = new Map<string, LanInterface>();
  closed = false;
  interfaces(): LanInterface[] {
    return [...this.joined.values()];
  }
  has(address: string): boolean {
    return this.joined.has(address);
  }
  join(lan: LanInterface): Promise<void> {
    this.joined.set(lan.address, lan);
    return Promise.resolve();
  }
  leave(address: string): Promise<void> {
    this.joined.delete(address);
    return Promise.resolve();
  }
  send(datagram: Buffer): void {
    const message = decodeLanMessage(datagram);
    if (message.kind !== "ignored") this.sent.push(message);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const eth0: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  eth0: [{ address: "192.168.1.20", netmask: "255.255.255.0", family: "IPv4", mac: "", internal: false, cidr: null }],
};

let open: LanDiscovery[] = [];
afterEach(async () => {
  await Promise.all(open.map((lan) => lan.close()));
  open = [];
});

async function start(publicPort: number | null, options: Partial<LanOptions> = {}): Promise<{ lan: LanDiscovery; sockets: FakeSockets }> {
  const sockets = new FakeSockets();
  const context: DiscoveryContext = { host: "0.0.0.0", publicPort, dataDir: "/nowhere", log: () => undefined };
  const settings: LanOptions = { group: "239.255.80.50", port: 5011, announceEveryMs: 60_000, findWaitMs: 300, interfaces: () => eth0, linkCheckMs: 30_000, ...options };
  const lan = new LanDiscovery(context, settings, sockets as unknown as LanSockets);
  open.push(lan);
  await lan.start();
  return { lan, sockets };
}

const wait = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

describe("LAN discovery", () => {
  it("announces a published file at once, batched, and answers queries for it", async () => {
    const { lan, sockets } = await start(5001);
    lan.publish(F);
    lan.publish(G.toUpperCase());
    await wait(150);
    expect(sockets.sent).toMatchObject([{ kind: "announce", port: 5001, files: [F, G] }]);
    lan.receive(encodeQuery(PEER_ID, G), "192.168.1.30");
    // Just announced: not again within a second, however often it is asked.
    expect(sockets.sent).toHaveLength(1);
    await wait(1000);
    for (let i = 0; i < 5; i++) lan.receive(encodeQuery(PEER_ID, G), "192.168.1.30");
    expect(sockets.sent.slice(1)).toMatchObject([{ kind: "announce", files: [G] }]);
    // Unpublished or never published: no answer.
    lan.unpublish(G);
    lan.receive(encodeQuery(PEER_ID, "a".repeat(40)), "192.168.1.30");
    await wait(1000);
    lan.receive(encodeQuery(PEER_ID, G), "192.168.1.30");
    expect(sockets.sent).toHaveLength(2);
    expect(lan.status()).toMatchObject({ name: "lan", ok: true });
    expect(lan.status().detail).toBe("239.255.80.50:5011 on eth0 (192.168.1.20); 1 files announced; 0 peers heard with 0 files");
  }, 10_000);

  it("finds peers heard before at once, and asks the group", async () => {
    const { lan, sockets } = await start(null);
    lan.receive(encodeAnnounces(PEER_ID, 6000, [F])[0]!, "192.168.1.31");
    const started = Date.now();
    expect(await lan.source.find(F, new AbortController().signal)).toEqual([{ host: "192.168.1.31", port: 6000, complete: false }]);
    expect(Date.now() - started).toBeLessThan(100);
    expect(sockets.sent).toMatchObject([{ kind: "query", want: F }]);
    // A standalone download publishes nothing.
    lan.publish(G);
    lan.receive(encodeQuery(PEER_ID, G), "192.168.1.31");
    await wait(150);
    expect(sockets.sent).toHaveLength(1);
    expect(lan.status().detail).toMatch(/look-ups only; 1 peers heard with 1 files/);
  });

  it("waits briefly for answers to its query, ending early on one or on the signal", async () => {
    const { lan } = await start(null, { findWaitMs: 5000 });
    const answered = lan.source.find(F, new AbortController().signal);
    setTimeout(() => lan.receive(encodeAnnounces(PEER_ID, 6000, [F, G])[0]!, "192.168.1.32"), 50);
    let started = Date.now();
    expect(await answered).toEqual([{ host: "192.168.1.32", port: 6000, complete: false }]);
    expect(Date.now() - started).toBeLessThan(1000);

    const stop = new AbortController();
    started = Date.now();
    const nobody = lan.source.find("c".repeat(40), stop.signal);
    setTimeout(() => stop.abort(), 50);
    expect(await nobody).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1000);

    started = Date.now();
    const closing = lan.source.find("d".repeat(40), new AbortController().signal);
    await lan.close();
    expect(await closing).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("ignores its own datagrams, senders outside the local network, and garbage, counting the rest", async () => {
    const { lan, sockets } = await start(5001, { findWaitMs: 50 });
    const own = sockets.sent.length;
    lan.publish(F);
    await wait(150);
    const mine = sockets.sent.at(-1)!;
    expect(sockets.sent.length).toBe(own + 1);
    // Our own announce, looped back: not a peer.
    lan.receive(encodeAnnounces(mine.id, 5001, [F])[0]!, "192.168.1.20");
    lan.receive(encodeAnnounces(PEER_ID, 6000, [F])[0]!, "10.0.0.9");
    lan.receive(encodeAnnounces(PEER_ID, 6000, [F])[0]!, "127.0.0.1");
    lan.receive(Buffer.from("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\n\r\n"), "192.168.1.40");
    lan.receive(Buffer.alloc(9000, 0x7b), "192.168.1.40");
    expect(await lan.source.find(F, new AbortController().signal)).toEqual([]);
    expect(lan.status().detail).toMatch(/; 4 datagrams ignored$/);
  });

  it("says when there is no interface to speak on, and joins one that appears", async () => {
    let interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = {};
    const { lan, sockets } = await start(5001, { interfaces: () => interfaces, linkCheckMs: 50 });
    expect(lan.status()).toEqual({ name: "lan", ok: false, detail: "239.255.80.50:5011: no IPv4 network interface to multicast on yet" });
    expect(await lan.source.find(F, new AbortController().signal)).toEqual([]);
    lan.publish(F);
    interfaces = eth0;
    await wait(200);
    expect(lan.status().ok).toBe(true);
    // Joining an interface announces everything published on it.
    expect(sockets.sent.filter((m) => m.kind === "announce").length).toBeGreaterThan(0);
    interfaces = {};
    await wait(200);
    expect(lan.status().ok).toBe(false);
    await lan.close();
    await lan.close();
    expect(sockets.closed).toBe(true);
    expect(lan.status()).toMatchObject({ ok: false, detail: "239.255.80.50:5011: closed" });
  });
});
