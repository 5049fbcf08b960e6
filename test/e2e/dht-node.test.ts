import DHT from "bittorrent-dht";
import { createSocket, Socket, type RemoteInfo } from "node:dgram";
import dns from "node:dns";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { decode, encode, isDict } from "../../peer/discovery/dht/bencode.js";
import { dhtKey, startDht } from "../../peer/discovery/dht.js";
import type { Discovery } from "../../peer/discovery/discovery.js";
import { tempDir } from "../helpers/files.js";

/**
 * The DHT discovery in this process against a small DHT on 127.0.71.x: a real bittorrent-dht node, and a
 * lying node that answers every query with contacts and peers on the internet and the local network. Every
 * datagram any socket of this process sends is watched (Socket.prototype.send), and so is every name look-up.
 */

const LIAR = "127.0.71.1";
const REAL = "127.0.71.2";
const NODE_PORT = 46881;
const sha1 = "0123456789abcdef0123456789abcdef01234567";

let dir: { path: string; remove: () => Promise<void> };
let real: DHT;
let liar: { socket: Socket; queries: Array<{ q: string; ro: boolean; from: string }> };
const started: Discovery[] = [];

function compact(ip: string, port: number, id?: Buffer): Buffer {
  const address = Buffer.from(ip.split(".").map(Number));
  const tail = Buffer.alloc(2);
  tail.writeUInt16BE(port);
  return Buffer.concat([...(id === undefined ? [] : [id]), address, tail]);
}

/** Answers every query as if it knew everyone: contacts and peers beyond this machine among the local ones. */
async function startLiar(): Promise<typeof liar> {
  const socket = createSocket("udp4");
  const queries: typeof liar.queries = [];
  const id = Buffer.alloc(20, 0x11);
  socket.on("message", (packet: Buffer, from: RemoteInfo) => {
    const message = decode(packet);
    if (!isDict(message) || !Buffer.from("q").equals(message.get("y") as Buffer)) return;
    const args = message.get("a");
    queries.push({ q: (message.get("q") as Buffer).toString(), ro: isDict(args) && args.get("ro") === 1, from: from.address });
    const nodes = Buffer.concat([
      compact("203.0.113.7", 6881, Buffer.alloc(20, 1)),
      compact("192.168.1.5", 6881, Buffer.alloc(20, 2)),
      compact("10.9.9.9", 6881, Buffer.alloc(20, 3)),
      compact(REAL, NODE_PORT, real.nodeId),
    ]);
    const values = [compact("203.0.113.8", 45001), compact("192.168.1.6", 45001), compact("127.0.71.10", 45001)];
    const reply = encode({ t: message.get("t") as Buffer, y: "r", r: { id, token: Buffer.from("tok"), nodes, values } });
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(NODE_PORT, LIAR, resolve));
  return { socket, queries };
}

const destination = (args: unknown[]): string => String(typeof args[2] === "string" ? args[2] : args[4]);

beforeAll(async () => {
  dir = await tempDir("dht-node");
  real = new DHT({ bootstrap: false });
  await new Promise<void>((resolve) => real.listen(NODE_PORT, REAL, resolve));
  liar = await startLiar();
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((discovery) => discovery.close()));
  vi.restoreAllMocks();
});

afterAll(async () => {
  await new Promise<void>((resolve) => (real ? real.destroy(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (liar ? liar.socket.close(() => resolve()) : resolve()));
  await dir?.remove();
});

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the DHT discovery on a local DHT", () => {
  it("sends no datagram beyond this machine and looks up no name, whatever the nodes answer or dht.json holds; announces the public port", async () => {
    const sends = vi.spyOn(Socket.prototype, "send");
    const lookups = vi.spyOn(dns, "lookup");
    const dataDir = join(dir.path, "sharer");
    await mkdir(dataDir);
    // A routing table saved on the mainline DHT, then used with local bootstrap nodes.
    await writeFile(join(dataDir, "dht.json"), JSON.stringify({ nodeId: null, nodes: [{ host: "198.51.100.1", port: 6881 }, { host: "127.0.71.3", port: NODE_PORT }] }));
    const announced: Array<{ port: number; key: string }> = [];
    real.on("announce", (peer: { port: number }, infoHash: Buffer) => announced.push({ port: peer.port, key: infoHash.toString("hex") }));

    const discovery = await startDht({ port: 46010, bootstrap: [`${LIAR}:${NODE_PORT}`] }, { host: "127.0.71.10", publicPort: 45001, dataDir, log: () => undefined });
    started.push(discovery);
    discovery.publish(sha1);
    await until("the announce", () => discovery.status().detail.includes("1 of 1 files announced"));
    const found = await discovery.source.find(sha1, new AbortController().signal);

    // The liar's peers on the internet and the LAN are cut; so are its contacts there (the real node is used).
    expect(found).toEqual([{ host: "127.0.71.10", port: 45001, complete: false }]);
    await until("the real node's announce", () => announced.length > 0);
    // The HTTP port is announced, not the DHT's UDP port, under the namespaced key.
    expect(announced[0]).toEqual({ port: 45001, key: dhtKey(sha1).toString("hex") });
    // The home router mapped the public port to another: announced again at once, with the external port.
    discovery.setPort?.(51234);
    await until("the announce of the mapped port", () => announced.some((a) => a.port === 51234));
    expect(await discovery.source.find(sha1, new AbortController().signal)).toContainEqual({ host: "127.0.71.10", port: 51234, complete: false });
    await discovery.close();

    const targets = new Set(sends.mock.calls.map((args) => destination(args)));
    expect(targets.size).toBeGreaterThan(0);
    expect([...targets].filter((ip) => !ip.startsWith("127."))).toEqual([]);
    expect(targets.has(REAL)).toBe(true);
    // Node resolves even an address through dns.lookup (at once, asking nobody): no name may be among them.
    expect(lookups.mock.calls.map(([host]) => host).filter((host) => isIP(host) === 0)).toEqual([]);
    const saved = JSON.parse(await readFile(join(dataDir, "dht.json"), "utf8")) as { nodeId: string; nodes: Array<{ host: string }> };
    expect(saved.nodeId).toMatch(/^[0-9a-f]{40}$/);
    expect(saved.nodes.map((node) => node.host).filter((host) => !host.startsWith("127."))).toEqual([]);
  });

  it("without a public port, it is read-only (BEP 43): its queries say ro, it answers none", async () => {
    const before = liar.queries.length;
    const discovery = await startDht({ port: null, bootstrap: [`${LIAR}:${NODE_PORT}`] }, { host: "127.0.71.20", publicPort: null, dataDir: join(dir.path, "reader"), log: () => undefined });
    started.push(discovery);
    const found = await discovery.source.find(sha1, new AbortController().signal);
    expect(found).toContainEqual({ host: "127.0.71.10", port: 45001, complete: false });
    const mine = liar.queries.slice(before).filter((query) => query.from === "127.0.71.20");
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((query) => query.ro)).toBe(true);

    // A ping gets no answer from it; the same ping to a full node does.
    const ping = encode({ t: Buffer.from("pp"), y: "q", q: "ping", a: { id: Buffer.alloc(20, 9) } });
    const answered = async (host: string, port: number): Promise<boolean> => {
      const socket = createSocket("udp4");
      try {
        await new Promise<void>((resolve) => socket.bind(0, "127.0.71.30", resolve));
        const reply = new Promise<boolean>((resolve) => {
          socket.once("message", () => resolve(true));
          setTimeout(() => resolve(false), 700);
        });
        socket.send(ping, port, host);
        return await reply;
      } finally {
        socket.close();
      }
    };
    expect(await answered(REAL, NODE_PORT)).toBe(true);
    const full = await startDht({ port: 46011, bootstrap: [`${LIAR}:${NODE_PORT}`] }, { host: "127.0.71.21", publicPort: 45001, dataDir: join(dir.path, "full"), log: () => undefined });
    started.push(full);
    expect(await answered("127.0.71.21", 46011)).toBe(true);
    // A tracker found the daemon unreachable from outside: it goes read-only (BEP 43), and back when reached.
    full.setReachable?.(false);
    expect(await answered("127.0.71.21", 46011)).toBe(false);
    expect(full.status().detail).toContain("read-only: a tracker found this daemon unreachable");
    full.setReachable?.(null);
    expect(await answered("127.0.71.21", 46011)).toBe(false);
    full.setReachable?.(true);
    expect(await answered("127.0.71.21", 46011)).toBe(true);
    const reader = await startDht({ port: 46012, bootstrap: [`${LIAR}:${NODE_PORT}`] }, { host: "127.0.71.22", publicPort: null, dataDir: join(dir.path, "reader-2"), log: () => undefined });
    started.push(reader);
    expect(await answered("127.0.71.22", 46012)).toBe(false);
  });

  it("a look-up ends at once when its download ends, and close() is quick with look-ups on their way", async () => {
    // A bootstrap node that never answers: joining and looking up would take seconds.
    const discovery = await startDht({ port: null, bootstrap: ["127.0.71.99:46881"] }, { host: "127.0.71.23", publicPort: null, dataDir: join(dir.path, "silent"), log: () => undefined });
    started.push(discovery);
    const download = new AbortController();
    const first = discovery.source.find(sha1, download.signal);
    const second = discovery.source.find(sha1, new AbortController().signal).then(
      () => "found",
      (error: Error) => error.message,
    );
    setTimeout(() => download.abort(new Error("download over")), 100);
    await expect(first).rejects.toThrow("download over");
    const closing = Date.now();
    await discovery.close();
    await discovery.close();
    expect(Date.now() - closing).toBeLessThan(500);
    expect(await second).toBe("the DHT is closed");
  });
});
