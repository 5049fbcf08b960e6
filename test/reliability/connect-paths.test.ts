import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { homeRouterUnavailable, Internet, nft, nftOut, TRACKER_IP, type Router } from "../helpers/home-router.js";
import type { Machine, MachineProcess } from "../helpers/netns.js";
import { record } from "../helpers/report.js";

/**
 * Issue 12 on an emulated internet (test/helpers/home-router.ts): peers behind home routers that do not map
 * ports, one pair behind routers that give every connection a random port, a downloader, a relay and a
 * stranger on the public segment, the tracker there too. Each case checks the bytes, the path `--json`
 * reports, and prints the time to the first byte.
 */

const skip = homeRouterUnavailable();
const SIZE = 5 * 1024 * 1024 + 77;

interface PeerReport {
  host: string;
  port: number;
  path: string;
  bytes: number;
  firstByteMs: number | null;
}

interface ConnectStatus {
  rendezvous: { tracker: string; state: string; orders: Record<string, number> }[];
  relay: { pairs: number; pairsTotal: number; bytes: number; refused: number; offered: { reachable: boolean | null }[] } | null;
}

describe.skipIf(skip !== null)(`every pair connects${skip === null ? "" : ` (skipped: ${skip})`}`, () => {
  let net: Internet;
  let dir = "";
  let file = "";
  let sha1 = "";
  let tracker = "";
  /** Keeps ports (plain masquerade), no port mapping. */
  let r1: Router;
  let r2: Router;
  let r3: Router;
  /** Random ports. */
  let r4: Router;
  let r5: Router;
  let downloader: Machine;
  let relay: Machine;
  let stranger: Machine;
  const running: MachineProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "p2p-paths-"));
    file = join(dir, "lecture.bin");
    const data = randomBytes(SIZE);
    await writeFile(file, data);
    sha1 = createHash("sha1").update(data).digest("hex");
    net = new Internet("paths");
    r1 = await net.addRouter(1, { upnp: false, natpmp: false });
    r2 = await net.addRouter(2, { upnp: false, natpmp: false });
    r3 = await net.addRouter(3, { upnp: false, natpmp: false });
    r4 = await net.addRouter(4, { upnp: false, natpmp: false, randomPorts: true });
    r5 = await net.addRouter(5, { upnp: false, natpmp: false, randomPorts: true });
    downloader = net.addPublicHost(1);
    relay = net.addPublicHost(2);
    stranger = net.addPublicHost(3);
    const started = await net.startTracker({ ANNOUNCE_INTERVAL_SECONDS: "30", ANNOUNCE_GRACE_SECONDS: "30", RATE_LIMIT_PER_MINUTE: "0" });
    running.push(started.process);
    tracker = started.url;
  }, 120_000);

  afterAll(async () => {
    for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM");
    await Promise.race([Promise.all(running.map((p) => p.exited)), new Promise((done) => setTimeout(done, 10_000))]);
    net?.dispose();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  /** The daemons of the case running: stopped after it however it ended, as the next case needs their ports. */
  const caseDaemons: MachineProcess[] = [];
  afterEach(async () => {
    await stop(caseDaemons.splice(0));
  });

  /** Stops daemons a case started, whether it passed or not: the next case needs their ports. */
  const stop = async (procs: MachineProcess[]): Promise<(number | null)[]> => {
    for (const proc of procs) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM");
    return Promise.all(procs.map((proc) => proc.exited));
  };

  const until = async (what: string, check: () => Promise<boolean> | boolean, limitMs: number): Promise<void> => {
    const deadline = Date.now() + limitMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within ${limitMs} ms: ${what}`);
      await new Promise((done) => setTimeout(done, 250));
    }
  };

  const node = async (machine: Machine, script: string): Promise<string> => {
    const proc = net.run(machine, [process.execPath, "-e", script]);
    running.push(proc);
    expect(await proc.exited, proc.log()).toBe(0);
    return proc.stdout();
  };

  const connectStatus = async (host: Machine, data: string): Promise<ConnectStatus> => {
    const proc = net.p2p(host, ["--data-dir", data, "status", "--json"]);
    running.push(proc);
    expect(await proc.exited, proc.log()).toBe(0);
    return (JSON.parse(proc.stdout()) as { daemon: { connect: ConnectStatus } }).daemon.connect;
  };

  /** A daemon on `host` (no port mapping: these routers offer none), ready. */
  const daemon = async (host: Machine, name: string, extra: string[] = []): Promise<{ data: string; proc: MachineProcess }> => {
    const data = join(dir, `data-${name}`);
    const proc = net.p2p(host, ["--tracker", tracker, "--data-dir", data, "daemon", "--no-port-mapping", ...extra]);
    running.push(proc);
    caseDaemons.push(proc);
    await proc.ready(/daemon ready/, 15_000);
    return { data, proc };
  };

  /** Shares the file from a daemon behind a router that maps nothing: it opens its rendezvous socket. */
  const sharerBehind = async (router: Router, name: string): Promise<{ data: string; proc: MachineProcess }> => {
    const sharer = await daemon(router.hosts[0]!, name);
    const share = net.p2p(router.hosts[0]!, ["--tracker", tracker, "--data-dir", sharer.data, "share", file]);
    running.push(share);
    expect(await share.exited, share.log()).toBe(0);
    // The dial-back fails (the router drops it), so the daemon holds a socket to the tracker's rendezvous object.
    await until("the sharer holds its rendezvous socket", async () => (await connectStatus(router.hosts[0]!, sharer.data)).rendezvous.some((r) => r.state === "open"), 20_000);
    return sharer;
  };

  /** Downloads through the daemon in `data` on `host`; returns the one peer's report and checks the bytes. */
  const downloadVia = async (host: Machine, data: string, name: string): Promise<{ peer: PeerReport; seconds: number }> => {
    const output = join(dir, `got-${name}.bin`);
    const started = Date.now();
    const proc = net.p2p(host, ["--tracker", tracker, "--data-dir", data, "download", sha1, "-o", output, "--no-seed", "--json"]);
    running.push(proc);
    expect(await proc.exited, proc.log()).toBe(0);
    expect(createHash("sha1").update(await readFile(output)).digest("hex")).toBe(sha1);
    const reply = JSON.parse(proc.stdout()) as { peers: PeerReport[] };
    const used = reply.peers.filter((peer) => peer.bytes > 0);
    expect(used, proc.stdout()).toHaveLength(1);
    return { peer: used[0]!, seconds: (Date.now() - started) / 1000 };
  };

  it("a sharer behind a router without port mapping, a public downloader: reversed", async () => {
    const sharer = await sharerBehind(r1, "rev-sharer");
    const getter = await daemon(downloader, "rev-getter");
    const { peer, seconds } = await downloadVia(downloader, getter.data, "reversed");
    expect(peer.path).toBe("reversed");
    expect(peer.host).toBe(r1.wan);
    expect((await connectStatus(r1.hosts[0]!, sharer.data)).rendezvous[0]?.orders["reverse"]).toBeGreaterThan(0);
    record({ area: "connecting", tried: "sharer behind a router without port mapping, downloader public", outcome: `reversed, byte-identical; first byte after ${peer.firstByteMs} ms`, lost: "nothing", seconds });
    expect(await stop([sharer.proc, getter.proc])).toEqual([0, 0]);
  });

  it("both behind routers without mapping that keep ports: punched", async () => {
    const sharer = await sharerBehind(r2, "punch-sharer");
    const getter = await daemon(r3.hosts[0]!, "punch-getter");
    const { peer, seconds } = await downloadVia(r3.hosts[0]!, getter.data, "punched");
    expect(peer.path).toBe("punched");
    expect(peer.host).toBe(r2.wan);
    record({ area: "connecting", tried: "sharer and downloader each behind a router without mapping that keeps ports", outcome: `punched (TCP simultaneous open), byte-identical; first byte after ${peer.firstByteMs} ms`, lost: "nothing", seconds });
    expect(await stop([sharer.proc, getter.proc])).toEqual([0, 0]);
  });

  it("both behind routers that randomise ports: relayed by a public peer run with --relay, which dials nobody", async () => {
    // Count every connection the relay's host opens: to anything but the tracker there must be none.
    nft(relay.ns, `table inet count {\n chain output {\n  type filter hook output priority 0; policy accept;\n  ip daddr != ${TRACKER_IP} tcp flags & (syn | ack) == syn counter\n }\n}\n`);
    const relayed = await daemon(relay, "relay", ["--relay"]);
    // Handed out only once the tracker's dial-back reached it.
    await until("the relay is offered and found reachable", async () => (await connectStatus(relay, relayed.data)).relay?.offered[0]?.reachable === true, 15_000);
    const sharer = await sharerBehind(r4, "relay-sharer");
    const getter = await daemon(r5.hosts[0]!, "relay-getter");
    const { peer, seconds } = await downloadVia(r5.hosts[0]!, getter.data, "relayed");
    expect(peer.path).toBe("relayed");
    const status = await connectStatus(relay, relayed.data);
    expect(status.relay?.pairsTotal).toBeGreaterThan(0);
    expect(status.relay?.bytes).toBeGreaterThanOrEqual(SIZE);
    expect(Number(/packets (\d+)/.exec(nftOut(relay.ns, ["list", "chain", "inet", "count", "output"]))?.[1] ?? "-1")).toBe(0);
    record({ area: "connecting", tried: "sharer and downloader each behind a router that randomises ports; a relay on the public segment", outcome: `relayed (no punch got through the random ports first), byte-identical; first byte after ${peer.firstByteMs} ms; the relay opened no connection`, lost: "nothing", seconds });
    expect(await stop([sharer.proc, getter.proc, relayed.proc])).toEqual([0, 0, 0]);
  });

  it("a stranger cannot pose as a reversed peer, hold another's rendezvous socket, or use a relay", async () => {
    const getter = await daemon(downloader, "stranger-target");
    const relayed = await daemon(relay, "stranger-relay", ["--relay"]);
    const ask = (host: string, port: number, head: string): string =>
      `const s = require("net").connect(${port}, ${JSON.stringify(host)}, () => s.write(${JSON.stringify(head)})); let got = ""; s.on("data", (d) => (got += d)); const first = () => got.split("\\r\\n")[0] || "closed"; s.on("error", () => undefined); s.on("close", () => { process.stdout.write(first()); process.exit(0); }); setTimeout(() => { process.stdout.write(got === "" ? "no answer" : first()); process.exit(0); }, 12000);`;
    // A handshake with a nonce the downloader never asked for: refused, and nothing is served on that socket.
    const nonce = randomBytes(16).toString("hex");
    const posed = await node(stranger, ask(downloader.address, 5001, `GET /v1/reverse HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: p2p-reverse/1\r\nP2P-Nonce: ${nonce}\r\nP2P-Peer: p2p-${"0".repeat(32)}\r\n\r\n`));
    expect(posed).toMatch(/^HTTP\/1\.1 403/);
    // The rendezvous socket of someone else's id, without its key.
    const socketTry = await node(
      stranger,
      ask(TRACKER_IP, 8787, `GET /v1/peers/p2p-${"1".repeat(32)}/socket HTTP/1.1\r\nHost: ${TRACKER_IP}:8787\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${"k".repeat(48)}\r\n\r\n`),
    );
    expect(socketTry).toMatch(/^HTTP\/1\.1 403/);
    // A relay token of the right form that no tracker minted for this relay: refused at once (so two strangers
    // cannot agree on one and use the relay as a pipe); a request outside the peer API: refused.
    const token = randomBytes(24).toString("hex");
    const lonely = await node(stranger, ask(relay.address, 5001, `GET /v1/relay HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: p2p-relay/1\r\nP2P-Relay-Token: ${token}\r\nP2P-Relay-Role: connect\r\n\r\n`));
    // `ask` keeps the status line only; the relay's one 403 is `bad_token` (peer/connect/relay-server.ts).
    expect(lonely).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    const connect = await node(stranger, ask(relay.address, 5001, `CONNECT 80.100.100.31:5001 HTTP/1.1\r\nHost: 80.100.100.31:5001\r\n\r\n`));
    expect(connect).not.toMatch(/^HTTP\/1\.1 2/);
    record({ area: "connecting", tried: "a stranger: a handshake with a guessed nonce; another's rendezvous socket; a relay token nobody gave; CONNECT through a relay", outcome: `refused each (${posed}; ${socketTry}; ${lonely || "closed"}; ${connect || "closed"})`, lost: "nothing", seconds: 0 });
    expect(await stop([getter.proc, relayed.proc])).toEqual([0, 0]);
  });
});
