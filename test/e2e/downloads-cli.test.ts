import { join } from "node:path";
import { stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDaemon, type Daemon } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * The daemon's downloads from the CLI (`download --detach`, `downloads`, `pause`, `resume`, `cancel`): the
 * control routes the dashboard uses, on real daemons and real files, on 127.0.74.x. The sharer's upload is
 * limited so that a download lasts long enough to be paused.
 */

const MiB = 1024 * 1024;
let tracker: TestTracker;
let dir: { path: string; remove: () => Promise<void> };
let sharer: Daemon;
let downloader: Daemon;

interface Listed {
  sha1: string;
  state: string;
  verifiedBytes?: number;
  path?: string;
}

const listed = async (): Promise<Listed[]> => {
  const result = await runCli(["--data-dir", downloader.dataDir, "downloads", "--json"]);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { downloads: Listed[] }).downloads;
};

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const seen = JSON.stringify(await listed().catch((error: unknown) => String(error)));
      throw new Error(`timed out waiting for ${what}; downloads: ${seen}\ndownloader log:\n${downloader.log().slice(-3000)}\nsharer log:\n${sharer.log().slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  dir = await tempDir("p2p-downloads-cli-");
  tracker = await startTestTracker();
  sharer = await startDaemon("127.0.74.10", join(dir.path, "sharer"), tracker.url, undefined, ["--max-upload-rate", "1M"]);
  downloader = await startDaemon("127.0.74.20", join(dir.path, "downloader"), tracker.url);
});

afterAll(async () => {
  await Promise.all([sharer?.stop(), downloader?.stop()]);
  await tracker?.dispose();
  await dir?.remove();
});

describe("the daemon's downloads from the CLI", () => {
  it("download --detach returns at once; pause stops it with its part kept, resume finishes it byte-identical", async () => {
    const source = join(dir.path, "paced.bin");
    const sha1 = await randomFile(source, 6 * MiB);
    expect((await runCli(["--data-dir", sharer.dataDir, "share", source])).code).toBe(0);
    const out = join(dir.path, "paced-out.bin");
    const started = await runCli(["--data-dir", downloader.dataDir, "download", sha1, "-o", out, "--detach"]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout.trim()).toBe(sha1);
    expect(started.ms).toBeLessThan(6000);

    // Paused at once: at 1 MiB/s the whole file takes 6 s, and a poll can be slow on a loaded machine.
    const paused = await runCli(["--data-dir", downloader.dataDir, "pause", sha1]);
    expect(paused.code, paused.stderr).toBe(0);
    await until("the download to be paused", async () => (await listed()).some((d) => d.sha1 === sha1 && d.state === "paused"));
    const text = await runCli(["--data-dir", downloader.dataDir, "downloads"]);
    expect(text.stdout).toMatch(new RegExp(`^${sha1}  paused +\\d+%`, "m"));
    const at = (await listed()).find((d) => d.sha1 === sha1)!.verifiedBytes ?? 0;
    expect(at).toBeLessThan(6 * MiB);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await listed()).find((d) => d.sha1 === sha1)!.verifiedBytes ?? 0, "nothing fetched while paused").toBe(at);

    expect((await runCli(["--data-dir", downloader.dataDir, "resume", sha1])).code).toBe(0);
    await until("the download to finish", async () => (await listed()).some((d) => d.sha1 === sha1 && d.state === "done"), 30_000);
    expect(await sha1File(out)).toBe(sha1);
  });

  it("cancel removes the partial file; a download it does not have, or a bad hash, is a clear error", async () => {
    const source = join(dir.path, "dropped.bin");
    const sha1 = await randomFile(source, 6 * MiB);
    expect((await runCli(["--data-dir", sharer.dataDir, "share", source])).code).toBe(0);
    const out = join(dir.path, "dropped-out.bin");
    expect((await runCli(["--data-dir", downloader.dataDir, "download", sha1, "-o", out, "--detach"])).code).toBe(0);
    const cancelled = await runCli(["--data-dir", downloader.dataDir, "cancel", sha1]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    await until("the download to be gone", async () => !(await listed()).some((d) => d.sha1 === sha1 && d.state !== "failed"));
    await expect(stat(join(dir.path, ".dropped-out.bin.p2p-part"))).rejects.toMatchObject({ code: "ENOENT" });
    await expect(stat(out)).rejects.toMatchObject({ code: "ENOENT" });

    const unknown = await runCli(["--data-dir", downloader.dataDir, "pause", "e".repeat(40)]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/p2p: .*e{40}/);
    const bad = await runCli(["--data-dir", downloader.dataDir, "resume", "nope"]);
    expect(bad.code).toBe(2);
    const noDaemon = await runCli(["--data-dir", join(dir.path, "nobody"), "downloads"]);
    expect(noDaemon.code).toBe(4);
    expect(noDaemon.stderr).toContain("no daemon runs for");
  });
});
