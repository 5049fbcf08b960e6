import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, startCli, startDaemon, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { http, postJson } from "../helpers/http.js";
import { useSwarm, type Swarm } from "../helpers/swarm.js";

const MiB = 1024 * 1024;

let swarm: Swarm;

useSwarm("127.0.11", (s) => (swarm = s));

async function verifiedChunks(recordPath: string): Promise<number> {
  try {
    const record = JSON.parse(await readFile(recordPath, "utf8")) as { verified: string };
    return [...Buffer.from(record.verified, "base64")].reduce((n, byte) => n + byte.toString(2).replaceAll("0", "").length, 0);
  } catch {
    return 0;
  }
}

describe("crashes", () => {
  it("a downloader killed with SIGKILL resumes: the rerun fetches only the rest, and nothing is at the destination before", async () => {
    const size = 400 * MiB;
    const source = join(swarm.root, "resume.bin");
    const sha1 = await randomFile(source, size);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "resume-out.bin");
    const args = [...swarm.downloaderArgs, "download", sha1, "-o", output, "--bind", swarm.downloaderHost, "--json", "--no-seed"];
    const first = startCli(args);
    const record = join(swarm.downloaderDir, "downloads", `${sha1}.json`);
    // Kill once some chunks are recorded as verified, well before the end.
    while ((await verifiedChunks(record)) < 8 && first.child.exitCode === null) await new Promise((r) => setTimeout(r, 2));
    first.child.kill("SIGKILL");
    const killed = await first.done;
    expect(killed.signal).toBe("SIGKILL");
    expect(existsSync(output)).toBe(false);
    const kept = await verifiedChunks(record);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(400);

    const rerun = await runCli(args);
    expect(rerun.stderr).toBe("");
    expect(rerun.code).toBe(0);
    const json = JSON.parse(rerun.stdout) as { bytesFetched: number; resumedBytes: number };
    expect(json.bytesFetched).toBeLessThan(size);
    expect(json.bytesFetched + json.resumedBytes).toBe(size);
    expect(await sha1File(output)).toBe(sha1);
    expect(existsSync(record)).toBe(false);
  });

  it("a daemon killed with SIGKILL and restarted serves and announces its shares again", async () => {
    const source = join(swarm.root, "restart.bin");
    const sha1 = await randomFile(source, 3 * MiB);
    await swarm.shareEverywhere(source);
    const daemon = swarm.daemons[0]!;
    await daemon.stop("SIGKILL");
    expect((await http(`http://${daemon.host}:${PEER_PORT}/v1/files/${sha1}/chunks/0`).catch(() => null))?.status).toBeUndefined();

    // Take its entry off the tracker with its own key, so that only a new announce can bring it back.
    const identity = JSON.parse(await readFile(join(daemon.dataDir, "identity.json"), "utf8")) as { peerId: string; key: string };
    const removed = await postJson(`${swarm.tracker.url}/v1/files/${sha1}/peers`, { ...identity, port: PEER_PORT, left: 0, event: "stopped" }, daemon.host);
    expect(removed.status).toBe(200);
    const listed = async (): Promise<string[]> =>
      (await http(`${swarm.tracker.url}/v1/files/${sha1}/peers`)).json<{ peers: Array<{ ip: string }> }>().peers.map((p) => p.ip);
    expect(await listed()).not.toContain(daemon.host);

    const restarted = await startDaemon(daemon.host, daemon.dataDir, swarm.tracker.url);
    swarm.daemons[0] = restarted;
    const deadline = Date.now() + 10_000;
    while (!(await listed()).includes(daemon.host) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await listed()).toContain(daemon.host);
    const chunk = await http(`http://${daemon.host}:${PEER_PORT}/v1/files/${sha1}/chunks/2`);
    expect(chunk.status).toBe(200);
    expect(Buffer.compare(chunk.body, (await readFile(source)).subarray(2 * MiB))).toBe(0);
    const ls = await runCli(["--tracker", swarm.tracker.url, "--data-dir", daemon.dataDir, "ls", "--json"]);
    const shares = (JSON.parse(ls.stdout) as { shares: Array<{ sha1: string; intact: boolean; announced: boolean }> }).shares;
    expect(shares.find((s) => s.sha1 === sha1)).toMatchObject({ intact: true, announced: true });
  });
});
