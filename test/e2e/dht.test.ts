import DHT from "bittorrent-dht";
import fc from "fast-check";
import { createSocket, type Socket } from "node:dgram";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlJson } from "../../peer/daemon/control-client.js";
import { encode, type Encodable } from "../../peer/discovery/dht/bencode.js";
import { PEER_PORT, runCli, startDaemon, type Daemon } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * The DHT with real daemons, the CLI and real files, on 127.0.70.x: a local DHT of three bittorrent-dht nodes
 * started here (no packet aims beyond this machine: dht-node.test.ts checks that). The test config turns the
 * DHT off; these daemons and downloads turn it on, with these nodes as their only bootstrap nodes.
 */

const MiB = 1024 * 1024;
const NODE_PORT = 46881;
const dhtOn = { P2P_DHT: "on" };

let dir: { path: string; remove: () => Promise<void> };
let tracker: TestTracker | undefined;
let trackerUrl: string;
const nodes: DHT[] = [];
const daemons: Daemon[] = [];
let bootstrapArgs: string[];
let sharer: Daemon;
let sha1: string;

interface SourceStatus {
  name: string;
  ok: boolean | null;
  detail: string;
  peersGiven: number;
}

const sources = async (daemon: Daemon): Promise<SourceStatus[]> => (await controlJson<{ sources: SourceStatus[] }>(daemon.dataDir, "GET", "/v1/status")).sources;
const dhtStatus = async (daemon: Daemon): Promise<SourceStatus | undefined> => (await sources(daemon)).find((source) => source.name === "dht");

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function daemonAt(host: string, name: string, env: Record<string, string> = dhtOn): Promise<Daemon> {
  const daemon = await startDaemon(host, join(dir.path, name), trackerUrl, PEER_PORT, env === dhtOn ? bootstrapArgs : [], env);
  daemons.push(daemon);
  return daemon;
}

interface Report {
  peers: Array<{ host: string; source: string; sources: string[] }>;
}

/** A download by a `p2p download` without a daemon, on `host`, that knows only the dead tracker and the DHT. */
async function standaloneDownload(host: string, name: string): Promise<Report> {
  const output = join(dir.path, `${name}.bin`);
  const result = await runCli(["--tracker", trackerUrl, "--data-dir", join(dir.path, name), "download", sha1, "-o", output, "--no-seed", "--bind", host, ...bootstrapArgs, "--json"], { env: dhtOn });
  expect(result.code, result.stderr).toBe(0);
  expect(await sha1File(output)).toBe(sha1);
  return JSON.parse(result.stdout) as Report;
}

beforeAll(async () => {
  dir = await tempDir("dht");
  for (const host of ["127.0.70.1", "127.0.70.2", "127.0.70.3"]) {
    const node = new DHT({ bootstrap: false });
    nodes.push(node);
    await new Promise<void>((resolve) => node.listen(NODE_PORT, host, resolve));
  }
  for (const node of nodes) for (const other of nodes) if (other !== node) node.addNode({ host: other.address().address, port: NODE_PORT });
  bootstrapArgs = nodes.flatMap((node) => ["--dht-bootstrap", `${node.address().address}:${NODE_PORT}`]);
  tracker = await startTestTracker();
  trackerUrl = tracker.url;

  sharer = await daemonAt("127.0.70.10", "sharer");
  const source = join(dir.path, "shared.bin");
  sha1 = await randomFile(source, 3 * MiB + 17);
  const shared = await runCli(["--data-dir", sharer.dataDir, "share", source, "--json"]);
  expect(shared.code, shared.stderr).toBe(0);
  await until("the DHT announce", async () => (await dhtStatus(sharer))?.detail.includes("1 of 1 files announced") === true);
  // Every tracker is gone from here on: the DHT is all a downloader has.
  await tracker.dispose();
  tracker = undefined;
}, 90_000);

afterAll(async () => {
  await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
  await Promise.all(nodes.map((node) => new Promise<void>((resolve) => node.destroy(() => resolve()))));
  await tracker?.dispose();
  await dir?.remove();
});

describe("the DHT", () => {
  it("every tracker killed after the share: a download with only the SHA-1 finds the sharer through the DHT and gets the file byte-identical", async () => {
    const status = await dhtStatus(sharer);
    expect(status).toMatchObject({ ok: true, detail: expect.stringMatching(/^\d+ nodes, 1 of 1 files announced/) as unknown });
    const report = await standaloneDownload("127.0.70.20", "standalone");
    expect(report.peers).toEqual([expect.objectContaining({ host: "127.0.70.10", source: "dht", sources: ["dht"] })]);
  });

  it("a downloader's daemon finds it through the DHT too, and counts the peers the DHT gave", async () => {
    const downloader = await daemonAt("127.0.70.21", "downloader");
    const output = join(dir.path, "by-daemon.bin");
    const result = await runCli(["--data-dir", downloader.dataDir, "download", sha1, "-o", output, "--no-seed", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
    expect((JSON.parse(result.stdout) as Report).peers).toEqual([expect.objectContaining({ host: "127.0.70.10", source: "dht", path: "direct" })]);
    expect(await dhtStatus(downloader)).toMatchObject({ ok: true, peersGiven: 1 });
  });

  it("garbage to the DHT port (random bytes, truncated and oversized bencode, KRPC with fields of the wrong type): dropped, never a crash; downloads still work", async () => {
    const socket: Socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.70.30", resolve));
    const send = (packet: Buffer): Promise<void> => new Promise((resolve) => socket.send(packet, PEER_PORT, sharer.host, () => resolve()));
    try {
      const id = Buffer.alloc(20, 5);
      const crafted: Buffer[] = [
        // What bittorrent-dht alone throws on inside its socket handler (a number's toString("hex")).
        encode({ t: Buffer.from("aa"), y: "q", q: "get_peers", a: { id, info_hash: 5 } }),
        encode({ t: Buffer.from("aa"), y: "q", q: "announce_peer", a: { id, info_hash: id, token: 5, port: 1 } }),
        encode({ t: Buffer.from("aa"), y: "q", q: "get", a: { id, target: 5 } }),
        encode({ t: Buffer.from("a"), y: "r", r: { id } }),
        encode({ t: Buffer.from("aa"), y: "q", q: "get_peers", a: { id, info_hash: id } }).subarray(0, 30),
        Buffer.concat([Buffer.from("d1:ad2:id20:"), id, Buffer.from("e1:q4:ping1:t2:aa1:y1:q"), Buffer.alloc(1800, 0x61), Buffer.from("e")]),
        Buffer.alloc(60_000, "l"),
        Buffer.alloc(0),
      ];
      const anything: fc.Arbitrary<Encodable> = fc.oneof(fc.integer(), fc.uint8Array({ maxLength: 30 }).map((x) => Buffer.from(x)), fc.constant(id), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({}));
      const fields = fc.dictionary(fc.constantFrom("id", "target", "info_hash", "token", "port", "implied_port", "v", "k", "sig", "seq", "cas", "salt", "ro", "nodes", "values"), anything, { maxKeys: 6 });
      const shaped = fc.record({ t: fc.constantFrom<Encodable>(Buffer.from("aa"), Buffer.from("zz"), 5), y: fc.constantFrom<Encodable>("q", "r", "e"), q: fc.constantFrom<Encodable>("ping", "find_node", "get_peers", "announce_peer", "get", "put"), a: fields, r: fields, e: anything }).map((message) => encode(message));
      const generated = fc.sample(fc.oneof(shaped, fc.uint8Array({ maxLength: 1500 }).map((x) => Buffer.from(x))), 3000);
      for (const [i, packet] of [...crafted, ...generated].entries()) {
        await send(packet);
        // Paced a little: a burst larger than the socket's buffer would only be dropped by the kernel.
        if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const ping = encode({ t: Buffer.from("pp"), y: "q", q: "ping", a: { id } });
      const answered = new Promise<boolean>((resolve) => {
        socket.once("message", () => resolve(true));
        setTimeout(() => resolve(false), 2000);
      });
      await send(ping);
      expect(await answered).toBe(true);
    } finally {
      socket.close();
    }
    expect(sharer.child.exitCode).toBeNull();
    const status = await dhtStatus(sharer);
    expect(status?.detail).toMatch(/\d+ bad packets dropped/);
    expect(status?.detail).not.toContain("library failed");
    console.log(`DHT garbage: ${status?.detail ?? ""}`);
    const report = await standaloneDownload("127.0.70.22", "after-garbage");
    // The sharer, through the DHT (and the downloader of the test before, through the sharer's peer exchange).
    expect(report.peers).toContainEqual(expect.objectContaining({ host: "127.0.70.10", source: "dht" }));
  });

  it("a download the DHT cannot help is bounded by --wait: a silent bootstrap node holds no round up more than 3 s", async () => {
    const started = Date.now();
    // Nothing answers at 127.0.70.99: the DHT never joins. The tracker knows nobody.
    const result = await runCli(["--tracker", trackerUrl, "--data-dir", join(dir.path, "silent"), "download", "b".repeat(40), "--no-seed", "--bind", "127.0.70.30", "--dht-bootstrap", `127.0.70.99:${NODE_PORT}`, "--wait", "1"], { env: dhtOn });
    const elapsed = Date.now() - started;
    expect(result.code, result.stderr).toBe(4);
    expect(result.stderr).toContain("dht: not joined: no DHT node answered within 3 s");
    expect(result.stderr).not.toContain("DHT on UDP");
    expect(elapsed).toBeLessThan(4800);
  });

  it("is off where the test config turns it off: no dht source in a daemon's status", async () => {
    const daemon = await daemonAt("127.0.70.40", "dht-off", {});
    expect((await sources(daemon)).map((source) => source.name)).not.toContain("dht");
  });
});
