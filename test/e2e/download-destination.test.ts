import { randomBytes } from "node:crypto";
import { chmod, mkdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, startDaemon, type CliResult } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { useSwarm, type Swarm } from "../helpers/swarm.js";

/** Where a download lands (issue 9): the mode a new file gets, and destinations it cannot write, named as given. */

let swarm: Swarm;
useSwarm("127.0.34", (s) => (swarm = s));

let file: { path: string; sha1: string };

beforeAll(async () => {
  file = { path: join(swarm.root, "shared.bin"), sha1: "" };
  file.sha1 = await randomFile(file.path, 1024 * 1024 + 3);
  await swarm.shareEverywhere(file.path);
});

const host = (last: number): string => `${swarm.subnet}.${last}`;

let cases = 0;

async function freshCase(): Promise<{ dataDir: string; out: string; args: string[] }> {
  const base = join(swarm.root, `case-${++cases}`);
  await mkdir(join(base, "out"), { recursive: true });
  const dataDir = join(base, "data");
  return { dataDir, out: join(base, "out"), args: ["--tracker", swarm.tracker.url, "--data-dir", dataDir] };
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

/** The mode this process gives a new file (0666 less its umask), found by making one. */
async function newFileMode(dir: string): Promise<number> {
  const probe = join(dir, "probe");
  await writeFile(probe, "", { mode: 0o666 });
  const mode = await modeOf(probe);
  await unlink(probe);
  return mode;
}

describe("a downloaded file's mode", () => {
  it.each([0o022, 0o027, 0o002, 0o077])("is what a new file gets: 0666 less the umask (%o)", async (umask) => {
    const c = await freshCase();
    const output = join(c.out, "shared.bin");
    const result = await runCli([...c.args, "download", file.sha1, "-o", output, "--bind", host(5), "--no-seed"], {
      prefix: ["sh", "-c", `umask ${umask.toString(8)} && exec "$0" "$@"`],
    });
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(output)).toBe(file.sha1);
    expect((await modeOf(output)).toString(8)).toBe((0o666 & ~umask).toString(8));
  });

  it("through a daemon: what a new file of the daemon's gets", async () => {
    const c = await freshCase();
    const daemon = await startDaemon(host(6), c.dataDir, swarm.tracker.url);
    try {
      const output = join(c.out, "shared.bin");
      const result = await runCli([...c.args, "download", file.sha1, "-o", output, "--no-seed"]);
      expect(result.code, result.stderr).toBe(0);
      expect((await modeOf(output)).toString(8)).toBe((await newFileMode(c.out)).toString(8));
    } finally {
      await daemon.stop("SIGKILL");
    }
  });
});

describe("a destination the download cannot write", () => {
  /** The destination as the user gave it (never the hidden partial file), why, a hint, and the exit code. */
  function expectRefused(result: CliResult, code: number, output: string, why: RegExp): void {
    const lines = result.stderr.trimEnd().split("\n");
    expect(result.code, result.stderr).toBe(code);
    expect(lines, result.stderr).toHaveLength(2);
    expect(lines[0]).toContain(output);
    expect(lines[0]).toMatch(why);
    expect(result.stderr).not.toContain("p2p-part");
    expect(lines[1]).toMatch(/^p2p: .*-o/);
  }

  it("-o /proc/x: the folder takes no new files, exit 6", async () => {
    const c = await freshCase();
    const result = await runCli([...c.args, "download", file.sha1, "-o", "/proc/x", "--bind", host(5)]);
    expectRefused(result, 6, "/proc/x", /\/proc does not take new files/);
  });

  it("-o /proc/x through a daemon: the same", async () => {
    const c = await freshCase();
    const daemon = await startDaemon(host(7), c.dataDir, swarm.tracker.url);
    try {
      const result = await runCli([...c.args, "download", file.sha1, "-o", "/proc/x"]);
      expectRefused(result, 6, "/proc/x", /\/proc does not take new files/);
    } finally {
      await daemon.stop("SIGKILL");
    }
  });

  it("a folder that does not exist: exit 3", async () => {
    const c = await freshCase();
    const missing = `/nonexistent-${randomBytes(4).toString("hex")}`;
    const result = await runCli([...c.args, "download", file.sha1, "-o", `${missing}/x`, "--bind", host(5)]);
    expectRefused(result, 3, missing, /does not exist/);
  });

  it("a read-only folder: not writable, exit 6", async () => {
    const c = await freshCase();
    const readOnly = join(c.out, "read-only");
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
    const output = join(readOnly, "x");
    // Root writes anywhere: as root, the CLI runs without the capabilities that override file modes.
    const prefix = process.getuid?.() === 0 ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] : [];
    const result = await runCli([...c.args, "download", file.sha1, "-o", output, "--bind", host(5)], { prefix });
    expectRefused(result, 6, output, /is not writable/);
  });

  it("a file where the folder should be: exit 2", async () => {
    const c = await freshCase();
    const result = await runCli([...c.args, "download", file.sha1, "-o", join(file.path, "x"), "--bind", host(5)]);
    expectRefused(result, 2, file.path, /is not a folder/);
  });
});
