import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, startCli, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { announceAs, manifestFrom, useSwarm, type Swarm } from "../helpers/swarm.js";

const MiB = 1024 * 1024;

interface DownloadJson {
  sha1: string;
  path: string;
  size: number;
  bytesFetched: number;
  peers: Array<{ host: string; port: number; bytes: number; banned: boolean }>;
}

let swarm: Swarm;

useSwarm("127.0.10", (s) => (swarm = s));

function download(sha1: string, output: string, extra: string[] = []) {
  return runCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--bind", swarm.downloaderHost, "--json", ...extra]);
}

describe("share and download between real daemons", () => {
  it.each([
    ["0 B", 0],
    ["1 B", 1],
    ["exactly 1 MiB", MiB],
    ["1 MiB + 1 B", MiB + 1],
  ])("a file of %s comes out byte-identical", async (name, size) => {
    const source = join(swarm.root, `src-${size}.bin`);
    const sha1 = await randomFile(source, size);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, `out-${size}.bin`);
    const result = await download(sha1, output, ["--no-seed"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as DownloadJson;
    expect(json).toMatchObject({ sha1, path: output, size, bytesFetched: size });
    expect(await sha1File(output)).toBe(sha1);
    expect(Buffer.compare(await readFile(output), await readFile(source))).toBe(0);
  });

  it("a 40 MiB file comes from all three peers, and joins the downloader's shares", async () => {
    const source = join(swarm.root, "forty.bin");
    const sha1 = await randomFile(source, 40 * MiB);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "forty-out.bin");
    const result = await download(sha1, output);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as DownloadJson;
    expect(await sha1File(output)).toBe(sha1);
    expect(json.peers.map((p) => p.host).sort()).toEqual(swarm.daemons.map((d) => d.host).sort());
    for (const peer of json.peers) expect(peer.bytes, `bytes from ${peer.host}`).toBeGreaterThan(0);
    expect(json.peers.reduce((sum, p) => sum + p.bytes, 0)).toBe(40 * MiB);
    const ls = await runCli([...swarm.downloaderArgs, "ls", "--json"]);
    expect((JSON.parse(ls.stdout) as { shares: Array<{ sha1: string }> }).shares.map((s) => s.sha1)).toContain(sha1);
  });
});

describe("peers that lie or die", () => {
  let liar: Server | undefined;

  afterAll(async () => {
    await new Promise<void>((resolve) => (liar ? liar.close(() => resolve()) : resolve()));
  });

  it("a peer that serves corrupted chunks is banned and the file still comes out right", async () => {
    const source = join(swarm.root, "lied-about.bin");
    const sha1 = await randomFile(source, 24 * MiB);
    await swarm.shareEverywhere(source);
    const manifest = await manifestFrom(swarm.daemons[0]!.host, sha1);
    let served = 0;
    liar = createServer((req, res) => {
      if (req.url?.endsWith("/manifest")) {
        res.end(manifest);
        return;
      }
      // Chunk requests only: the download also asks it for its /peers (peer exchange), answered with junk too.
      if (req.url?.includes("/chunks/") === true) served++;
      res.writeHead(200, { "Content-Length": MiB });
      res.end(randomBytes(MiB));
    });
    const liarHost = `${swarm.subnet}.6`;
    await new Promise<void>((resolve) => liar!.listen(PEER_PORT, liarHost, () => resolve()));
    await announceAs(swarm.tracker.url, sha1, liarHost, PEER_PORT, "liar");
    const output = join(swarm.root, "lied-out.bin");
    const result = await download(sha1, output, ["--no-seed"]);
    expect(result.code).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
    const json = JSON.parse(result.stdout) as DownloadJson;
    const reported = json.peers.find((p) => p.host === liarHost);
    // Asked at least once, banned at its first lie: no more than its first window of requests was spent on it.
    expect(served).toBeGreaterThanOrEqual(1);
    expect(served).toBeLessThanOrEqual(2);
    expect(reported).toMatchObject({ banned: true, bytes: 0 });
  });

  it("the download completes when one of three peers is killed mid-download", async () => {
    const source = join(swarm.root, "victim.bin");
    const sha1 = await randomFile(source, 300 * MiB);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "victim-out.bin");
    const run = startCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--bind", swarm.downloaderHost, "--json", "--no-seed"]);
    const record = join(swarm.downloaderDir, "downloads", `${sha1}.json`);
    while (!existsSync(record) && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    const victim = swarm.daemons[2]!;
    await victim.stop("SIGKILL");
    expect(run.child.exitCode, "the download was still running when the peer died").toBeNull();
    const result = await run.done;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
    const json = JSON.parse(result.stdout) as DownloadJson;
    expect(json.peers.reduce((sum, p) => sum + p.bytes, 0)).toBe(300 * MiB);
  });
});
