import { createServer } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli, startDaemon, type Daemon } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { freePort, startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * Share links and sharing with no tracker up: a real tracker (the Worker in workerd), real daemons and the
 * CLI, real files, on 127.0.72.x. The link `p2p share` prints is all another data dir needs; with every
 * tracker down a share still shares, and a download that finds nobody waits --wait seconds, then names what
 * it asked.
 */

const MiB = 1024 * 1024;
let tracker: TestTracker;
let dir: { path: string; remove: () => Promise<void> };
const daemons: Daemon[] = [];

/** A tracker URL nobody serves: a free port on an address nothing listens on. */
const deadTracker = async (): Promise<string> => `http://127.0.72.250:${await freePort()}`;

/**
 * A receiver given only a link: no --tracker, and its own tracker setting names a tracker nobody runs; the
 * link's tracker and peer are what find the file.
 */
const noTrackerEnv = { P2P_TRACKER: "http://127.0.72.251:9" };

/**
 * A tracker of its own (the boundary, stubbed): it lists `peer` for any file at once, and answers the
 * file's record, with another manifest id than the real one, only after `lateMs`.
 */
async function lateLyingTracker(peer: { ip: string; port: number }, lateMs: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = req.url ?? "";
    const send = (body: unknown): void => void res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    if (/\/peers/.test(path)) return send({ interval: 60, peers: [{ peerId: "stub", ip: peer.ip, port: peer.port, complete: true }] });
    const sha1 = /\/v1\/files\/([0-9a-f]{40})$/.exec(path)?.[1];
    if (sha1 === undefined) return void res.writeHead(404).end();
    setTimeout(() => send({ sha1, file: { name: "x", size: 1, chunkSize: 1048576, manifestId: "f".repeat(64) }, complete: 1, incomplete: 0 }), lateMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.72.3", resolve));
  const address = server.address();
  return {
    url: `http://127.0.72.3:${typeof address === "object" && address !== null ? address.port : 0}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  dir = await tempDir("p2p-links-");
  tracker = await startTestTracker();
});

afterAll(async () => {
  await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
  await tracker?.dispose();
  await dir?.remove();
});

describe("share links", () => {
  it("the link `p2p share` prints is all a downloader on another data dir needs (no --tracker)", async () => {
    const sharer = await startDaemon("127.0.72.10", join(dir.path, "sharer"), tracker.url);
    daemons.push(sharer);
    const source = join(dir.path, "linked.bin");
    const sha1 = await randomFile(source, 3 * MiB + 5);
    const shared = await runCli(["--tracker", tracker.url, "--data-dir", sharer.dataDir, "share", source, "--json"]);
    expect(shared.code).toBe(0);
    const { link } = JSON.parse(shared.stdout) as { link: string };
    expect(link).toMatch(/^magnet:\?xt=urn:sha1:[A-Z2-7]{32}&dn=linked\.bin&xl=3145733&tr=/);
    expect(shared.stderr).toContain(`p2p download '${link}'`);

    const out = join(dir.path, "linked-out.bin");
    const got = await runCli(["--data-dir", join(dir.path, "receiver"), "download", link, "-o", out, "--json", "--bind", "127.0.72.20"], { env: noTrackerEnv });
    expect(got.code, got.stderr).toBe(0);
    expect(await sha1File(out)).toBe(sha1);
    const report = JSON.parse(got.stdout) as { peers: Array<{ host: string; sources: string[] }> };
    expect(report.peers.map((p) => p.host)).toEqual(["127.0.72.10"]);
    expect(report.peers[0]!.sources).toEqual(expect.arrayContaining(["link", `tracker:${tracker.url}`]));

    // `p2p link` gives the same link, and its QR code.
    const again = await runCli(["--data-dir", sharer.dataDir, "link", sha1, "--qr"]);
    expect(again.code).toBe(0);
    const [line, ...qr] = again.stdout.split("\n");
    expect(line).toBe(link);
    expect(qr.filter((l) => l.includes("▀") || l.includes("█")).length).toBeGreaterThan(10);
  });

  it("with every tracker down after the share, the link's peer address is enough", async () => {
    const own = await startTestTracker();
    let ownUp = true;
    try {
      const sharer = await startDaemon("127.0.72.11", join(dir.path, "sharer-2"), own.url);
      daemons.push(sharer);
      const source = join(dir.path, "orphan.bin");
      const sha1 = await randomFile(source, 2 * MiB);
      const shared = await runCli(["--data-dir", sharer.dataDir, "share", source, "--json"]);
      const { link } = JSON.parse(shared.stdout) as { link: string };
      await own.dispose();
      ownUp = false;
      const out = join(dir.path, "orphan-out.bin");
      const got = await runCli(["--data-dir", join(dir.path, "receiver-2"), "download", link, "-o", out, "--json", "--bind", "127.0.72.21"], { env: noTrackerEnv });
      expect(got.code).toBe(0);
      expect(await sha1File(out)).toBe(sha1);
      expect((JSON.parse(got.stdout) as { peers: Array<{ source: string }> }).peers.map((p) => p.source)).toEqual(["link"]);
    } finally {
      if (ownUp) await own.dispose();
    }
  });

  it("a foreground share with every tracker down still shares: a warning, a FAILING line in status, and the link works", async () => {
    const [first, second] = [await deadTracker(), await deadTracker()];
    const source = join(dir.path, "offline.bin");
    const sha1 = await randomFile(source, MiB + 1);
    const dataDir = join(dir.path, "offline-sharer");
    const serving = startCli(["--tracker", first, "--tracker", second, "--data-dir", dataDir, "share", source, "--json", "--host", "127.0.72.30", "--port", "0"]);
    let printed = "";
    serving.child.stdout?.on("data", (data: Buffer) => (printed += data.toString()));
    try {
      await until("the share to print its reply", () => printed.includes("\n"));
      const reply = JSON.parse(printed) as { sha1: string; announced: boolean; link: string };
      expect(reply).toMatchObject({ sha1, announced: false });
      const status = await runCli(["--data-dir", dataDir, "status"]);
      expect(status.stdout).toContain(`${first}  FAILING`);
      expect(status.stdout).toContain(`${second}  FAILING`);
      const out = join(dir.path, "offline-out.bin");
      const got = await runCli(["--data-dir", join(dir.path, "receiver-3"), "download", reply.link, "-o", out, "--bind", "127.0.72.22"], { env: noTrackerEnv });
      expect(got.code).toBe(0);
      expect(await sha1File(out)).toBe(sha1);
    } finally {
      serving.child.kill("SIGTERM");
    }
    const ended = await serving.done;
    expect(ended.code).toBe(0);
    expect(ended.stderr).toContain(`warning: none of the trackers (${first}, ${second}) took the announce; shared all the same`);
  });

  it("a manifest taken before the tracker's id came (it was slow) is dropped when the id, come late, differs", async () => {
    const sharer = await startDaemon("127.0.72.12", join(dir.path, "sharer-slow"), tracker.url, undefined, ["--max-upload-rate", "256k"]);
    daemons.push(sharer);
    const source = join(dir.path, "slow.bin");
    const sha1 = await randomFile(source, 2 * MiB);
    expect((await runCli(["--data-dir", sharer.dataDir, "share", source])).code).toBe(0);
    const stub = await lateLyingTracker({ ip: "127.0.72.12", port: sharer.port }, 3000);
    try {
      const result = await runCli(["--tracker", stub.url, "--data-dir", join(dir.path, "receiver-slow"), "download", sha1, "-o", join(dir.path, "slow-out.bin"), "--bind", "127.0.72.23", "--json"]);
      // The file (2 MiB at 256 KiB/s) takes 8 s: the id lands 3 s in, mid-download.
      expect(result.code, result.stderr).toBe(5);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: "MANIFEST_MISMATCH" } });
      expect(result.stderr).toContain(`not the one a tracker recorded (${"f".repeat(64)})`);
      expect(result.ms).toBeLessThan(7000);
    } finally {
      await stub.close();
    }
  });

  it("a download that finds nobody asks every source again for --wait seconds, then names what each said", async () => {
    const [first, second] = [await deadTracker(), await deadTracker()];
    const started = Date.now();
    const result = await runCli(["--tracker", first, "--tracker", tracker.url, "--tracker", second, "--data-dir", join(dir.path, "nobody"), "download", "c".repeat(40), "--wait", "2", "-o", dir.path]);
    const elapsed = Date.now() - started;
    // One tracker said it knows no peer of the file: that is the answer (exit 3), the others named with it.
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`tracker:${first}: cannot reach the tracker`);
    expect(result.stderr).toContain(`tracker:${second}: cannot reach the tracker`);
    expect(result.stderr).toContain(`tracker:${tracker.url}: no peer has this file`);
    expect(result.stderr).toContain("asking again for up to 2 s (--wait)");
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(20_000);

    // Trackers that all answer for good that nobody has it: no wait at all.
    const known = await runCli(["--tracker", tracker.url, "--data-dir", join(dir.path, "nobody-2"), "download", "d".repeat(40), "--wait", "30", "-o", dir.path]);
    expect(known.code).toBe(3);
    expect(known.ms).toBeLessThan(10_000);
  });

  it.each([
    ["a file: tracker", `tr=${encodeURIComponent("file:///etc/passwd")}`, /its tracker "file:\/\/\/etc\/passwd" is not an http\(s\) tracker URL/],
    ["a local socket", `tr=${encodeURIComponent("unix:/run/docker.sock")}`, /its tracker "unix:\/run\/docker.sock" is not an http\(s\) tracker URL/],
    ["a huge tracker list", "tr=http://127.0.72.1:1&".repeat(200).slice(0, -1), /it names 200 trackers \(at most 10\)/],
    ["a host name as a peer", "x.pe=localhost:5001", /its peer \(x\.pe\) "localhost:5001" is not IP:port/],
  ])("a link with %s is refused whole: exit 2, nothing contacted", async (_what, extra, message) => {
    const link = `magnet:?xt=urn:sha1:${"e".repeat(40)}&${extra}`;
    const result = await runCli(["--tracker", tracker.url, "--data-dir", join(dir.path, "bad-link"), "download", link, "-o", dir.path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/\np2p: a share link is what `p2p share` or `p2p link <sha1>` prints/);
  });

  it("a BitTorrent magnet link or a malformed hash is named for what it is: exit 2", async () => {
    const bt = await runCli(["--data-dir", join(dir.path, "bad-link"), "download", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a"]);
    expect(bt.code).toBe(2);
    expect(bt.stderr).toContain("a BitTorrent magnet link, urn:btih:, is not one of ours");
    const hash = await runCli(["--data-dir", join(dir.path, "bad-link"), "download", "xyz"]);
    expect(hash.code).toBe(2);
    expect(hash.stderr).toContain('"xyz" is not a SHA-1 or a share link');
  });
});
