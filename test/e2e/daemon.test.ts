import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDaemon, type Daemon, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { http } from "../helpers/http.js";
import { manifestFrom, startSwarm, type Swarm } from "../helpers/swarm.js";

const MiB = 1024 * 1024;

let swarm: Swarm;
let downloaderDaemon: Daemon;

beforeAll(async () => {
  swarm = await startSwarm("127.0.13");
  downloaderDaemon = await startDaemon(swarm.downloaderHost, swarm.downloaderDir, swarm.tracker.url);
});

afterAll(async () => {
  await downloaderDaemon?.stop("SIGKILL");
  await swarm?.close();
});

const listedIps = async (sha1: string): Promise<string[]> => {
  const res = await http(`${swarm.tracker.url}/v1/files/${sha1}/peers`);
  return res.status === 200 ? res.json<{ peers: Array<{ ip: string }> }>().peers.map((p) => p.ip) : [];
};

describe("the daemon", () => {
  it("runs a download the CLI hands it, then seeds the file and announces it", async () => {
    const source = join(swarm.root, "via-daemon.bin");
    const sha1 = await randomFile(source, 10 * MiB + 3);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "via-daemon-out.bin");
    const result = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ sha1, path: output, size: 10 * MiB + 3, seeding: true });
    expect(await sha1File(output)).toBe(sha1);
    const deadline = Date.now() + 5000;
    while (!(await listedIps(sha1)).includes(swarm.downloaderHost) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await listedIps(sha1)).toContain(swarm.downloaderHost);
    // The copy (another file name) is served with the manifest it was published with: the swarm's, same id.
    expect((await manifestFrom(swarm.downloaderHost, sha1)).equals(await manifestFrom(swarm.daemons[0]!.host, sha1))).toBe(true);
    const status = JSON.parse((await runCli([...swarm.downloaderArgs, "status", "--json"])).stdout) as { daemon: { pid: number } | null; shares: number };
    expect(status.daemon?.pid).toBe(downloaderDaemon.child.pid);
    expect(status.shares).toBeGreaterThanOrEqual(1);
  });

  it("refuses an existing destination and replaces it with --force", async () => {
    const source = join(swarm.root, "force.bin");
    const sha1 = await randomFile(source, 2 * MiB);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "force-out.bin");
    await writeFile(output, "old");
    const refused = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--no-seed"]);
    expect(refused.code).toBe(7);
    expect(await readFile(output, "utf8")).toBe("old");
    const forced = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--no-seed", "--force"]);
    expect(forced.code).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
  });

  it("stops serving and announcing a shared file that changed, until it is shared again", async () => {
    const source = join(swarm.root, "edited.bin");
    const sha1 = await randomFile(source, 2 * MiB);
    const peer = swarm.daemons[1]!;
    const args = ["--tracker", swarm.tracker.url, "--data-dir", peer.dataDir];
    expect((await runCli([...args, "share", source])).code).toBe(0);
    expect((await http(`http://${peer.host}:${PEER_PORT}/v1/files/${sha1}/chunks/1`)).status).toBe(200);
    await appendFile(source, "changed");
    expect((await http(`http://${peer.host}:${PEER_PORT}/v1/files/${sha1}/chunks/1`)).status).toBe(410);
    expect((await http(`http://${peer.host}:${PEER_PORT}/v1/files/${sha1}`)).status).toBe(410);
    const deadline = Date.now() + 5000;
    while ((await listedIps(sha1)).includes(peer.host) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await listedIps(sha1)).not.toContain(peer.host);
    const ls = JSON.parse((await runCli([...args, "ls", "--json"])).stdout) as { shares: Array<{ sha1: string; intact: boolean }> };
    expect(ls.shares.find((s) => s.sha1 === sha1)?.intact).toBe(false);
  });

  it("unshare takes a file off the tracker and the public port", async () => {
    const source = join(swarm.root, "unshared.bin");
    const sha1 = await randomFile(source, MiB);
    const peer = swarm.daemons[2]!;
    const args = ["--tracker", swarm.tracker.url, "--data-dir", peer.dataDir];
    await runCli([...args, "share", source]);
    expect(await listedIps(sha1)).toContain(peer.host);
    const result = await runCli([...args, "unshare", sha1, "--json"]);
    expect(result.code).toBe(0);
    expect(await listedIps(sha1)).not.toContain(peer.host);
    expect((await http(`http://${peer.host}:${PEER_PORT}/v1/files/${sha1}/manifest`)).status).toBe(404);
    expect((await runCli([...args, "unshare", sha1])).code).toBe(3);
  });

  it("tells the tracker `stopped` on SIGTERM and exits 0", async () => {
    const source = join(swarm.root, "goodbye.bin");
    const sha1 = await randomFile(source, MiB);
    const peer = swarm.daemons[0]!;
    await runCli(["--tracker", swarm.tracker.url, "--data-dir", peer.dataDir, "share", source]);
    expect(await listedIps(sha1)).toContain(peer.host);
    await peer.stop("SIGTERM");
    expect(peer.child.exitCode).toBe(0);
    expect(await listedIps(sha1)).not.toContain(peer.host);
  });
});
