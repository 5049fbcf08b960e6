import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PEER_PORT, runCli, startDaemon, type Daemon } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { http } from "../helpers/http.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * Peer exchange and peers given by hand, on 127.0.61.x: a real tracker (workerd), real daemons, the CLI.
 * A sharer S and a downloader A form a swarm through the tracker; the tracker then stops, and newcomers that
 * know only A find S through A's `/peers`. Fake peers answer `/peers` with garbage, too much, or addresses
 * the newcomer must not use.
 */

const MiB = 1024 * 1024;
const SUBNET = "127.0.61";

interface PeerReport {
  host: string;
  port: number;
  source: string;
  sources: string[];
  bytes: number;
}

let tracker: TestTracker | undefined;
let dir: { path: string; remove: () => Promise<void> };
let sharer: Daemon;
let first: Daemon;
const others: Daemon[] = [];
const fakes: Array<{ server: Server; asked: () => number }> = [];
let file: string;
let sha1: string;

const peersOf = async (host: string, id = sha1) => http(`http://${host}:${PEER_PORT}/v1/files/${id}/peers`);

/** A peer that has nothing but answers `/peers` with `body`; counts how often it was asked. */
async function fakePeer(host: string, body: string): Promise<void> {
  let asked = 0;
  const server = createServer((req, res) => {
    if (req.url?.endsWith("/peers") === true) {
      asked += 1;
      res.writeHead(200, { "Content-Type": "application/json" }).end(body);
    } else {
      res.writeHead(404, { "Content-Type": "application/json" }).end('{"error":{"code":"not_shared","message":"no"}}');
    }
  });
  await new Promise<void>((resolve) => server.listen(PEER_PORT, host, resolve));
  fakes.push({ server, asked: () => asked });
}

beforeAll(async () => {
  dir = await tempDir("exchange");
  file = join(dir.path, "file.bin");
  sha1 = await randomFile(file, 24 * MiB);
  tracker = await startTestTracker();
  sharer = await startDaemon(`${SUBNET}.2`, join(dir.path, "sharer"), tracker.url);
  first = await startDaemon(`${SUBNET}.3`, join(dir.path, "first"), tracker.url);
  const shared = await runCli(["--tracker", tracker.url, "--data-dir", sharer.dataDir, "share", file]);
  expect(shared.code, shared.stderr).toBe(0);
  // A gets the file from S through the tracker, by its daemon: chunk requests that state A's public port.
  const got = await runCli(["--tracker", tracker.url, "--data-dir", first.dataDir, "download", sha1, "-o", join(dir.path, "first.bin")]);
  expect(got.code, got.stderr).toBe(0);
});

afterAll(async () => {
  await Promise.all(fakes.map(({ server }) => new Promise((resolve) => server.close(resolve))));
  await Promise.all([sharer, first, ...others].map((daemon) => daemon?.stop("SIGKILL")));
  await tracker?.dispose();
  await dir?.remove();
});

describe("peer exchange", () => {
  it("each daemon lists the other on /peers: the one it took chunks from, and the one that took chunks (by its P2P-Port)", async () => {
    const fromFirst = await peersOf(first.host);
    expect(fromFirst.status).toBe(200);
    expect(fromFirst.json()).toEqual({ peers: [{ ip: sharer.host, port: PEER_PORT }] });
    const fromSharer = await peersOf(sharer.host);
    expect(fromSharer.json()).toEqual({ peers: [{ ip: first.host, port: PEER_PORT }] });
    // The asker is left out of its own answer.
    const asSelf = await http(`http://${sharer.host}:${PEER_PORT}/v1/files/${sha1}/peers`, { localAddress: first.host, headers: { "P2P-Port": String(PEER_PORT) } });
    expect(asSelf.json()).toEqual({ peers: [] });
    const unshared = await peersOf(sharer.host, "0".repeat(40));
    expect(unshared.status).toBe(404);
    expect(unshared.json()).toMatchObject({ error: { code: "not_shared" } });
  });

  it("with the tracker stopped, a newcomer given only A (--peer) finds S through A and gets the file whole", async () => {
    await tracker!.dispose();
    tracker = undefined;
    // A sends slowly, so that the download is still running when A's answer names S.
    const slow = await runCli(["--data-dir", first.dataDir, "limits", "--upload", "1M"]);
    expect(slow.code, slow.stderr).toBe(0);
    const out = join(dir.path, "newcomer.bin");
    const result = await runCli([
      "--tracker", `http://${SUBNET}.1:9`, "--data-dir", join(dir.path, "newcomer"),
      "download", sha1, "-o", out, "--peer", `${first.host}:${PEER_PORT}`, "--bind", `${SUBNET}.5`, "--no-seed", "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(out)).toBe(sha1);
    const peers = (JSON.parse(result.stdout) as { peers: PeerReport[] }).peers;
    const viaUser = peers.find((p) => p.host === first.host);
    const viaExchange = peers.find((p) => p.host === sharer.host);
    // S, once found, names A too: A was found first by hand.
    expect(viaUser).toMatchObject({ port: PEER_PORT, source: "user" });
    expect(viaUser!.sources[0]).toBe("user");
    expect(viaExchange).toMatchObject({ port: PEER_PORT, source: "exchange", sources: [`exchange:${first.host}:${PEER_PORT}`] });
    expect(viaExchange!.bytes).toBeGreaterThan(0);
    expect(peers).toHaveLength(2);
  });

  it("a --peer that is not IP:port is a usage error (exit 2)", async () => {
    for (const bad of [first.host, `${first.host}:0`, "localhost:45001", "::1:45001", "[::1]", `${first.host}:45001:1`]) {
      const result = await runCli(["--data-dir", join(dir.path, "nobody"), "download", sha1, "--peer", bad]);
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toContain("a peer is IP:port");
    }
  });

  it("peers answering /peers with garbage, 10,000 entries, or this daemon's own address break nothing and add at most 50 each", async () => {
    const downloader = await startDaemon(`${SUBNET}.6`, join(dir.path, "downloader"), `http://${SUBNET}.1:9`, PEER_PORT, ["--max-download-rate", "8M"]);
    others.push(downloader);
    await fakePeer(`${SUBNET}.7`, '{"peers":[{"ip":"127.0.61.2","port":45001}, garbage \u0000\u00ff');
    const flood = Array.from({ length: 10_000 }, (_, i) => ({ ip: `127.0.69.${(i % 250) + 1}`, port: 1 + Math.floor(i / 250) }));
    await fakePeer(`${SUBNET}.8`, JSON.stringify({ peers: flood }));
    // Under the size cap: the daemon's own address first, then 499 addresses where nothing listens.
    const many = [{ ip: downloader.host, port: PEER_PORT }, ...flood.slice(0, 499)];
    await fakePeer(`${SUBNET}.9`, JSON.stringify({ peers: many }));
    expect(JSON.stringify({ peers: many }).length).toBeLessThan(16 * 1024);

    const out = join(dir.path, "downloader.bin");
    const peerArgs = [7, 8, 9].flatMap((last) => ["--peer", `${SUBNET}.${last}:${PEER_PORT}`]);
    const result = await runCli(["--data-dir", downloader.dataDir, "download", sha1, "-o", out, ...peerArgs, "--peer", `${first.host}:${PEER_PORT}`, "--no-seed", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(out)).toBe(sha1);
    for (const fake of fakes) expect(fake.asked()).toBeGreaterThanOrEqual(1);
    const peers = (JSON.parse(result.stdout) as { peers: PeerReport[] }).peers;
    expect(peers.some((p) => p.host === downloader.host)).toBe(false);
    const fromFlood = peers.filter((p) => p.sources.includes(`exchange:${SUBNET}.8:${PEER_PORT}`));
    const fromMany = peers.filter((p) => p.sources.includes(`exchange:${SUBNET}.9:${PEER_PORT}`));
    expect(fromFlood).toHaveLength(0);
    expect(fromMany.length).toBeGreaterThan(0);
    expect(fromMany.length).toBeLessThanOrEqual(50);
    // The four given, S (named by A), and at most 49 others (the 50 looked at, less the daemon itself).
    expect(peers.length).toBeLessThanOrEqual(4 + 1 + 49);
    expect(peers.find((p) => p.host === sharer.host)?.source).toBe("exchange");
  });
});
