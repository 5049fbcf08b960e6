import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAN_GROUP, LAN_PORT } from "../../peer/discovery/lan-message.js";
import { randomFile, tempDir } from "../helpers/files.js";
import { Lan, ROUTER } from "../helpers/lan.js";
import { netnsUnavailable, type Machine, type MachineProcess } from "../helpers/netns.js";

/**
 * LAN discovery on an emulated office network: three hosts on one bridge (network namespaces), no tracker
 * reachable (the --tracker URL is the router's, which serves none: refused at once, rather than a 3 s ARP
 * time-out for an address nobody has, which the download would wait out for the tracker's manifest id) and
 * the DHT off. A's daemon shares a file;
 * B's daemon downloads it by its SHA-1 alone, the peer found on the LAN, garbage multicast from C
 * notwithstanding; a standalone download on C finds the sharers by asking the group; with
 * --no-lan-discovery nobody is found; a second daemon on A's machine is found by the first.
 */

const skip = netnsUnavailable();
const TRACKER = `http://${ROUTER}:8787`;
const LAN_ON = { P2P_LAN_DISCOVERY: "on" };
const SIZE = 3 * 1024 * 1024 + 4321;

interface DownloadJson {
  peers: { host: string; port: number; source: string; sources: string[]; bytes: number }[];
}

interface StatusJson {
  daemon: { sources: { name: string; ok: boolean | null; detail: string }[] };
}

describe.skipIf(skip !== null)(`LAN discovery between namespaces${skip === null ? "" : ` (skipped: ${skip})`}`, () => {
  let lan: Lan | undefined;
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  const running: MachineProcess[] = [];
  let a: Machine;
  let b: Machine;
  let c: Machine;
  let file = "";
  let sha1 = "";

  const p2p = (host: Machine, args: string[], env: NodeJS.ProcessEnv = LAN_ON): MachineProcess => {
    const proc = lan!.p2p(host, ["--tracker", TRACKER, ...args], env);
    running.push(proc);
    return proc;
  };
  const once = async (host: Machine, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const proc = p2p(host, args, env);
    const code = await proc.exited;
    return { code, stdout: proc.stdout(), stderr: proc.log() };
  };
  const lanStatus = async (host: Machine, dataDir: string): Promise<{ ok: boolean | null; detail: string }> => {
    const status = await once(host, ["--data-dir", dataDir, "status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const source = (JSON.parse(status.stdout) as StatusJson).daemon.sources.find((s) => s.name === "lan");
    expect(source, status.stdout).toBeDefined();
    return source!;
  };

  beforeAll(async () => {
    dir = await tempDir("lan");
    file = join(dir.path, "office.bin");
    sha1 = await randomFile(file, SIZE);
    lan = new Lan("lan", 3);
    [a, b, c] = lan.hosts as [Machine, Machine, Machine];
  });

  afterAll(async () => {
    for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM");
    await Promise.race([Promise.all(running.map((p) => p.exited)), new Promise((done) => setTimeout(done, 10_000))]);
    lan?.dispose();
    await dir?.remove();
  });

  it("B's daemon downloads what A's daemon shares, found on the LAN alone, garbage on the LAN notwithstanding", async () => {
    const aData = join(dir!.path, "a");
    const bData = join(dir!.path, "b");
    const daemonA = p2p(a, ["--data-dir", aData, "daemon", "--no-dht"]);
    const daemonB = p2p(b, ["--data-dir", bData, "daemon", "--no-dht"]);
    await Promise.all([daemonA.ready(/daemon ready/, 30_000), daemonB.ready(/daemon ready/, 30_000)]);

    const share = await once(a, ["--data-dir", aData, "share", file, "--json"]);
    expect(share.code, share.stderr).toBe(0);
    expect(JSON.parse(share.stdout)).toMatchObject({ sha1, announced: false });

    // Before B looks, garbage from C: random bytes, huge datagrams, bad JSON, wrong versions and types,
    // absurd ports, a thousand SHA-1s, mutations of a real announce; a lie (A's file at a port of C that
    // nobody serves); and a well-formed announce from an address outside the LAN's subnet.
    const outside = lan!.run(c, ["ip", "addr", "add", "10.99.0.3/24", "dev", "eth0"]);
    running.push(outside);
    expect(await outside.exited, outside.log()).toBe(0);
    const garbage = lan!.run(c, [process.execPath, "-e", GARBAGE, LAN_GROUP, String(LAN_PORT), sha1]);
    running.push(garbage);
    expect(await garbage.exited, garbage.log()).toBe(0);
    expect(garbage.stdout()).toMatch(/^sent \d{4,}/);
    for (const daemon of [daemonA, daemonB]) expect(daemon.child.exitCode, daemon.log()).toBeNull();

    const output = join(dir!.path, "b-copy.bin");
    const got = await once(b, ["--data-dir", bData, "download", sha1, "-o", output, "--json"]);
    expect(got.code, got.stderr).toBe(0);
    const peers = (JSON.parse(got.stdout) as DownloadJson).peers;
    expect(peers.filter((peer) => peer.bytes > 0).map((peer) => [peer.host, peer.port, peer.source])).toEqual([[a.address, 5001, "lan"]]);
    expect(peers.map((peer) => peer.host)).not.toContain("10.99.0.3");
    expect(Buffer.compare(await readFile(output), await readFile(file)), "byte-identical").toBe(0);
    for (const [host, dataDir] of [[a, aData], [b, bData]] as const) {
      const status = await lanStatus(host, dataDir);
      expect(status.ok).toBe(true);
      expect(status.detail).toMatch(new RegExp(`on eth0 \\(${host.address.replaceAll(".", "\\.")}\\); 1 files announced; [1-9]\\d* peers heard.*; \\d{3,} datagrams ignored`));
    }

    // A standalone download (no daemon: it serves nothing, so it only asks) on C finds the sharers by a query.
    const cOutput = join(dir!.path, "c-copy.bin");
    const standalone = await once(c, ["--data-dir", join(dir!.path, "c"), "download", sha1, "-o", cOutput, "--no-seed", "--json"]);
    expect(standalone.code, standalone.stderr).toBe(0);
    // The first sharer to answer came from the LAN; the other may have come by its peer exchange first.
    const cServed = (JSON.parse(standalone.stdout) as DownloadJson).peers.filter((p) => p.bytes > 0);
    expect(cServed.some((peer) => peer.source === "lan"), standalone.stdout).toBe(true);
    expect(cServed.every((peer) => [a.address, b.address].includes(peer.host)), standalone.stdout).toBe(true);
    expect(Buffer.compare(await readFile(cOutput), await readFile(file))).toBe(0);

    // And without LAN discovery nobody is found: a clear error after --wait, nothing written.
    const started = Date.now();
    const without = await once(b, ["--data-dir", join(dir!.path, "b-alone"), "download", sha1, "-o", join(dir!.path, "nothing.bin"), "--no-lan-discovery", "--wait", "2", "--json"]);
    expect(without.code, without.stderr).toBe(4);
    expect(JSON.parse(without.stdout)).toMatchObject({ ok: false, error: { code: "TRACKER_UNREACHABLE" } });
    expect(Date.now() - started).toBeLessThan(20_000);

    // Two daemons on one machine (another data dir, another port) find each other: multicast loops back.
    const a2Data = join(dir!.path, "a2");
    const daemonA2 = p2p(a, ["--data-dir", a2Data, "daemon", "--no-dht", "--port", "5002"]);
    await daemonA2.ready(/daemon ready/, 30_000);
    const own = join(dir!.path, "second-daemon.bin");
    const ownSha1 = await randomFile(own, 100_000);
    const shareOwn = await once(a, ["--data-dir", a2Data, "share", own]);
    expect(shareOwn.code, shareOwn.stderr).toBe(0);
    const ownCopy = join(dir!.path, "a-own.bin");
    const gotOwn = await once(a, ["--data-dir", aData, "download", ownSha1, "-o", ownCopy, "--json"]);
    expect(gotOwn.code, gotOwn.stderr).toBe(0);
    expect((JSON.parse(gotOwn.stdout) as DownloadJson).peers.filter((p) => p.bytes > 0).map((p) => [p.host, p.port, p.source])).toEqual([[a.address, 5002, "lan"]]);
    expect(Buffer.compare(await readFile(ownCopy), await readFile(own))).toBe(0);

    for (const daemon of [daemonA, daemonA2, daemonB]) daemon.child.kill("SIGTERM");
    for (const daemon of [daemonA, daemonA2, daemonB]) expect(await daemon.exited, daemon.log()).toBe(0);
  });
});

/** The garbage sender, run with node -e on host C: argv group, port, the shared file's SHA-1. */
const GARBAGE = String.raw`
const dgram = require("node:dgram");
const { randomBytes } = require("node:crypto");
const [group, portText, sha1] = process.argv.slice(1);
const port = Number(portText);
const id = "0123456789abcdef";
const real = Buffer.from(JSON.stringify({ v: 1, id, port: 5001, files: [sha1] }));
const list = [];
for (let i = 0; i < 1500; i++) list.push(randomBytes(Math.floor(Math.random() * 1400)));
for (let i = 0; i < 1500; i++) {
  const copy = Buffer.from(real);
  for (let flips = 1 + Math.floor(Math.random() * 4); flips > 0; flips--) copy[Math.floor(Math.random() * copy.length)] = Math.floor(Math.random() * 256);
  list.push(copy);
}
for (const bad of [
  "", "{", "null", "[]", "{\"v\":1}", "{\"v\":2,\"id\":\"" + id + "\",\"want\":\"" + sha1 + "\"}",
  JSON.stringify({ v: 1, id, port: 0, files: [sha1] }), JSON.stringify({ v: 1, id, port: 65536, files: [sha1] }),
  JSON.stringify({ v: 1, id, port: -1, files: [sha1] }), JSON.stringify({ v: 1, id, port: 1e308, files: [sha1] }),
  JSON.stringify({ v: 1, id, port: "5001", files: [sha1] }), JSON.stringify({ v: 1, id, port: 5001, files: sha1 }),
  JSON.stringify({ v: 1, id, port: 5001, files: [{}] }), JSON.stringify({ v: 1, id: 7, want: sha1 }),
  JSON.stringify({ v: 1, id, want: [sha1] }), JSON.stringify({ v: 1, id, port: 5001, files: [sha1], want: sha1 }),
]) list.push(Buffer.from(bad));
list.push(Buffer.from(JSON.stringify({ v: 1, id, port: 5001, files: Array.from({ length: 1000 }, (_, i) => i.toString(16).padStart(40, "0")) })));
list.push(randomBytes(60000));
// A lie about A's file: a port on C that nobody serves. Downloads try it, fail, and go on.
list.unshift(Buffer.from(JSON.stringify({ v: 1, id, port: 9, files: [sha1] })));
const socket = dgram.createSocket("udp4");
const outsider = dgram.createSocket("udp4");
let sent = 0;
socket.bind(0, "198.19.70.3", () => {
  socket.setMulticastInterface("198.19.70.3");
  socket.setMulticastTTL(1);
  outsider.bind(0, "10.99.0.3", async () => {
    outsider.setMulticastInterface("198.19.70.3");
    // First, while the daemons' receive buffers are empty: a well-formed announce from outside the subnet,
    // and unicast to A's port (the daemons listen on the group address only).
    await new Promise((done) => outsider.send(Buffer.from(JSON.stringify({ v: 1, id: "fedcba9876543210", port: 5001, files: [sha1] })), port, group, () => done()));
    await new Promise((done) => socket.send(real, port, "198.19.70.1", () => done()));
    await new Promise((done) => setTimeout(done, 50));
    for (const datagram of list) {
      await new Promise((done) => socket.send(datagram, port, group, () => done()));
      sent++;
      if (sent % 100 === 0) await new Promise((done) => setTimeout(done, 5));
    }
    process.stdout.write("sent " + sent + "\n");
    socket.close();
    outsider.close();
  });
});
`;
