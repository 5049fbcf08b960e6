import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { record } from "../helpers/report.js";
import { describe, expect, it } from "vitest";
import { runCli, startCli, startDaemon, PEER_PORT, STACK_FRAME } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { startTestTracker } from "../helpers/tracker.js";
import { useSwarm, type Swarm } from "../helpers/swarm.js";

/** Faults: kills at random points, a tracker restart, every peer gone, a full disk, a file edited under a peer. */

const MiB = 1024 * 1024;
let swarm: Swarm;

useSwarm("127.0.21", (s) => (swarm = s));

const recordPath = (sha1: string): string => join(swarm.downloaderDir, "downloads", `${sha1}.json`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function uploaded(): Promise<number> {
  let total = 0;
  for (const daemon of swarm.daemons) {
    const status = await runCli(["--data-dir", daemon.dataDir, "status", "--json"]);
    total += (JSON.parse(status.stdout) as { daemon: { uploadedBytes: number } }).daemon.uploadedBytes;
  }
  return total;
}

function downloadArgs(sha1: string, output: string): string[] {
  return [...swarm.downloaderArgs, "download", sha1, "-o", output, "--bind", swarm.downloaderHost, "--no-seed", "--json"];
}

describe("faults", () => {
  it("the downloader killed with SIGKILL at 20 random points: the file comes out right, under 1.5x the bytes", async () => {
    const size = 320 * MiB;
    const source = join(swarm.root, "kill20.bin");
    const sha1 = await randomFile(source, size);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "kill20-out.bin");
    const before = await uploaded();
    let kills = 0;
    while (kills < 20) {
      const run = startCli(downloadArgs(sha1, output));
      await sleep(120 + Math.floor(Math.random() * 200));
      if (run.child.exitCode !== null) {
        const early = await run.done;
        expect(early.code, early.stderr).toBe(0);
        break;
      }
      run.child.kill("SIGKILL");
      await run.done;
      kills++;
      expect(existsSync(output), "nothing at the destination before the end").toBe(false);
    }
    if (!existsSync(output)) {
      const last = await runCli(downloadArgs(sha1, output));
      expect(last.code, last.stderr).toBe(0);
    }
    expect(await sha1File(output)).toBe(sha1);
    const sent = (await uploaded()) - before;
    console.log(`kill20: ${kills} kills, ${(sent / MiB).toFixed(0)} MiB sent for a ${size / MiB} MiB file (${(sent / size).toFixed(2)}x)`);
    expect(kills).toBeGreaterThanOrEqual(10);
    expect(sent).toBeLessThan(1.5 * size);
    record({ area: "faults", tried: `downloader SIGKILLed at ${kills} random points of one ${size / MiB} MiB download`, outcome: `byte-identical; ${(sent / size).toFixed(2)}x the file's bytes sent in all`, lost: "nothing", seconds: 0 });
  }, 300_000);

  it("survives the local tracker restarting mid-download", async () => {
    const source = join(swarm.root, "tracker-restart.bin");
    const sha1 = await randomFile(source, 300 * MiB);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "tracker-restart-out.bin");
    const run = startCli(downloadArgs(sha1, output));
    while (!existsSync(recordPath(sha1)) && run.child.exitCode === null) await sleep(5);
    await swarm.tracker.stop();
    const restarted = startTestTracker({}, { persistTo: swarm.tracker.persistTo, port: swarm.tracker.port });
    const result = await run.done;
    swarm.tracker = await restarted;
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
    record({ area: "faults", tried: "local tracker stopped and restarted mid-download (300 MiB)", outcome: "byte-identical", lost: "nothing", seconds: result.ms / 1000 });
  }, 120_000);

  it("every peer gone: a clear failure with the state kept, and a later run finishes", async () => {
    const size = 300 * MiB;
    const source = join(swarm.root, "all-gone.bin");
    const sha1 = await randomFile(source, size);
    await swarm.shareEverywhere(source);
    const output = join(swarm.root, "all-gone-out.bin");
    const run = startCli(downloadArgs(sha1, output));
    while (!existsSync(recordPath(sha1)) && run.child.exitCode === null) await sleep(5);
    await sleep(100);
    await Promise.all(swarm.daemons.map((d) => d.stop("SIGKILL")));
    const failed = await run.done;
    expect(failed.code, failed.stderr).toBe(4);
    expect(failed.stderr).toMatch(/no peer is left/);
    expect(failed.stderr).toMatch(/verified part is kept/);
    expect(existsSync(output)).toBe(false);
    expect(existsSync(recordPath(sha1))).toBe(true);
    for (const [i, daemon] of swarm.daemons.entries()) swarm.daemons[i] = await startDaemon(daemon.host, daemon.dataDir, swarm.tracker.url);
    const finished = await runCli(downloadArgs(sha1, output));
    expect(finished.code, finished.stderr).toBe(0);
    const fetched = (JSON.parse(finished.stdout) as { bytesFetched: number }).bytesFetched;
    expect(fetched).toBeLessThan(size);
    expect(await sha1File(output)).toBe(sha1);
    record({
      area: "faults",
      tried: "all 3 peers SIGKILLed mid-download (300 MiB)",
      outcome: `exit 4 in ${(failed.ms / 1000).toFixed(1)} s, state kept; rerun fetched ${(fetched / MiB).toFixed(0)} MiB more, byte-identical`,
      lost: "nothing",
      seconds: (failed.ms + finished.ms) / 1000,
    });
  }, 120_000);

  it.skipIf(process.getuid?.() !== 0)("a full disk at the destination: a clear error, nothing corrupt, the daemon alive", async () => {
    const source = join(swarm.root, "too-big.bin");
    const sha1 = await randomFile(source, 24 * MiB);
    await swarm.shareEverywhere(source);
    const small = join(swarm.root, "small-disk");
    await mkdir(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", small]);
    try {
      const daemon = await startDaemon(swarm.downloaderHost, swarm.downloaderDir, swarm.tracker.url);
      try {
        const result = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", join(small, "x.bin"), "--no-seed"]);
        expect(result.code).toBe(6);
        expect(result.stderr).toMatch(/no space left/);
        expect(result.stderr).not.toMatch(STACK_FRAME);
        expect(existsSync(join(small, "x.bin"))).toBe(false);
        const status = await runCli([...swarm.downloaderArgs, "status", "--json"]);
        expect((JSON.parse(status.stdout) as { daemon: { pid: number } }).daemon.pid).toBe(daemon.child.pid);
        record({ area: "faults", tried: "24 MiB download into an 8 MiB tmpfs, run by a daemon", outcome: "exit 6 (no space left), nothing at the destination, daemon alive", lost: "nothing", seconds: result.ms / 1000 });
      } finally {
        await daemon.stop("SIGTERM");
      }
    } finally {
      execFileSync("umount", [small]);
    }
  }, 120_000);

  it("a shared file edited while being served: the peer stops serving it and no downloader accepts a changed chunk", async () => {
    const size = 200 * MiB;
    const source = join(swarm.root, "edited-live.bin");
    const sha1 = await randomFile(source, size);
    const only = swarm.daemons[0]!;
    expect((await runCli(["--tracker", swarm.tracker.url, "--data-dir", only.dataDir, "share", source])).code).toBe(0);
    const output = join(swarm.root, "edited-live-out.bin");
    const run = startCli(downloadArgs(sha1, output));
    while (!existsSync(recordPath(sha1)) && run.child.exitCode === null) await sleep(2);
    const handle = await open(source, "r+");
    for (let offset = 0; offset < size; offset += MiB) await handle.write(Buffer.from("edited"), 0, 6, offset + 100);
    await handle.close();
    const result = await run.done;
    if (result.code === 0) {
      // The whole download raced ahead of the edit: then every byte must be the original file's.
      expect(await sha1File(output)).toBe(sha1);
    } else {
      expect([4, 5]).toContain(result.code);
      expect(existsSync(output)).toBe(false);
      const chunk = await fetch(`http://${only.host}:${PEER_PORT}/v1/files/${sha1}/chunks/0`);
      expect(chunk.status).toBe(410);
    }
    expect(await readFile(source).then((b) => b.subarray(100, 106).toString())).toBe("edited");
    record({
      area: "faults",
      tried: "the only peer's file edited (every MiB) while it served a 200 MiB download",
      outcome: result.code === 0 ? "download finished before the edit: byte-identical original" : `exit ${result.code}, nothing at the destination, peer answers 410`,
      lost: "nothing",
      seconds: result.ms / 1000,
    });
  }, 120_000);
});
