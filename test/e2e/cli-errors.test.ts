import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { BIN, runCli, PEER_PORT, STACK_FRAME } from "../helpers/cli.js";
import { randomFile } from "../helpers/files.js";
import { http } from "../helpers/http.js";
import { startSwarm, type Swarm } from "../helpers/swarm.js";
import { freePort } from "../helpers/tracker.js";

let swarm: Swarm;
let sha1: string;
let source: string;

beforeAll(async () => {
  swarm = await startSwarm("127.0.12");
  source = join(swarm.root, "known.bin");
  sha1 = await randomFile(source, 3 * 1024 * 1024 + 5);
  await swarm.shareEverywhere(source);
});

afterAll(async () => {
  await swarm?.close();
});

/** One clear line (plus at most a hint line) on stderr, no stack trace, the documented exit code. */
function expectCleanFailure(result: { code: number | null; stderr: string }, code: number, pattern: RegExp): void {
  expect(result.code).toBe(code);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(STACK_FRAME);
  expect(result.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
}

describe("CLI mistakes", () => {
  it("a malformed hash: exit 2", async () => {
    const result = await runCli([...swarm.downloaderArgs, "download", "not-a-hash"]);
    expectCleanFailure(result, 2, /is not a SHA-1/);
  });

  it("sharing a missing file: exit 3", async () => {
    const result = await runCli([...swarm.downloaderArgs, "share", join(swarm.root, "nope.bin")]);
    expectCleanFailure(result, 3, /no such file/);
  });

  it("sharing a directory: exit 2", async () => {
    const dir = join(swarm.root, "a-dir");
    await mkdir(dir, { recursive: true });
    const result = await runCli([...swarm.downloaderArgs, "share", dir]);
    expectCleanFailure(result, 2, /is a directory/);
  });

  it("sharing an unreadable file: exit 6", async () => {
    const secret = join(swarm.root, "secret.bin");
    await writeFile(secret, "private");
    await chmod(secret, 0o000);
    // Root reads anything: as root, the CLI runs without the capabilities that override file modes, so
    // that it stays root for everything else (the clone may lie in a folder only root can enter).
    const prefix = process.getuid?.() === 0 ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] : [];
    const result = await runCli([...swarm.downloaderArgs, "share", secret], { prefix });
    expectCleanFailure(result, 6, /permission denied/);
  });

  it("an existing destination: exit 7, and it is left alone", async () => {
    const existing = join(swarm.root, "exists.bin");
    await writeFile(existing, "keep me");
    const result = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", existing, "--bind", swarm.downloaderHost]);
    expectCleanFailure(result, 7, /already exists/);
    expect(await import("node:fs/promises").then((fs) => fs.readFile(existing, "utf8"))).toBe("keep me");
  });

  it("an unknown hash: exit 3", async () => {
    const result = await runCli([...swarm.downloaderArgs, "download", "f".repeat(40), "-o", swarm.root]);
    expectCleanFailure(result, 3, /no peer has this file/);
  });

  it("a tracker that is down: asked again for --wait seconds, then exit 4", async () => {
    const port = await freePort();
    const result = await runCli(["--tracker", `http://127.0.0.1:${port}`, "--data-dir", swarm.downloaderDir, "download", sha1, "-o", swarm.root, "--wait", "2"]);
    expect(result.code).toBe(4);
    // The line that says it waits, then the error and its hint.
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringContaining("asking again for up to 2 s (--wait)"), expect.stringContaining("cannot reach the tracker"), expect.stringMatching(/^p2p: /)]);
    expect(result.ms).toBeGreaterThanOrEqual(2000);
    expect(result.ms).toBeLessThan(30_000);
  });

  it.each([["127.0.0.1:8787"], ["ftp://127.0.0.1:8787"], ["http://127.0.0.1:99999"], ["http://127.0.0.1:8787/some/path"], ["not a url"]])(
    "a malformed tracker URL (%s): exit 2 with a hint about the URL",
    async (url) => {
      const viaFlag = await runCli(["--tracker", url, "--data-dir", swarm.downloaderDir, "download", sha1, "-o", swarm.root]);
      expectCleanFailure(viaFlag, 2, /--tracker .* is not a tracker URL\n.*http:\/\/127\.0\.0\.1:8787/);
      const viaEnv = await runCli(["--data-dir", swarm.downloaderDir, "download", sha1, "-o", swarm.root], { env: { P2P_TRACKER: url } });
      expectCleanFailure(viaEnv, 2, /P2P_TRACKER .* is not a tracker URL/);
    },
  );

  it("--bind with an address this machine lacks: exit 2, naming the address", async () => {
    const result = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", swarm.root, "--bind", "192.0.2.77"]);
    expectCleanFailure(result, 2, /192\.0\.2\.77 is not an address of this machine.*\n.*--bind/);
  });

  it.each([["daemon"], ["share"]])("%s --host with an address this machine lacks: exit 2, naming it", async (command) => {
    const args = command === "share" ? ["share", source] : ["daemon"];
    const result = await runCli(["--tracker", swarm.tracker.url, "--data-dir", join(swarm.root, `lacking-${command}`), ...args, "--host", "192.0.2.77", "--port", "0"]);
    expectCleanFailure(result, 2, /--host 192\.0\.2\.77 is not an address of this machine\n/);
  });

  it("an unknown option: exit 2", async () => {
    const result = await runCli(["download", sha1, "--frobnicate"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown option/);
  });

  it("--version prints the package's version and exits 0", async () => {
    const { version } = JSON.parse(await readFile(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as { version: string };
    const result = await runCli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it("a reader that goes away (`p2p ... | true`) ends it quietly, exit 0, no stack trace", () => {
    // The reader exits at once, before the help is written: every write after that meets a closed pipe.
    const piped = spawnSync("bash", ["-c", `"${process.execPath}" "${BIN}" download --help | true; echo "exit=\${PIPESTATUS[0]}"`], { encoding: "utf8" });
    expect(piped.stdout.trim()).toBe("exit=0");
    expect(piped.stderr).not.toMatch(/EPIPE/);
    expect(piped.stderr).not.toMatch(STACK_FRAME);
  });
});

describe("what share says", () => {
  it("names the tracker the daemon announced to in the command to download it", async () => {
    const daemon = swarm.daemons[0]!;
    // --tracker here names another tracker: the daemon announces to its own, so that is the one to print.
    const result = await runCli(["--tracker", "http://127.0.0.1:9", "--data-dir", daemon.dataDir, "share", source]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(sha1);
    expect(result.stderr).toMatch(new RegExp(`p2p download 'magnet:\\?xt=urn:sha1:[A-Z2-7]{32}&[^']*&tr=${encodeURIComponent(swarm.tracker.url)}&`));
    expect(result.stderr).not.toContain(encodeURIComponent("http://127.0.0.1:9"));
    expect(result.stderr).toMatch(/this machine only/);
  });
});

describe("the public port refuses what it must", () => {
  const host = (): string => `http://${swarm.daemons[0]!.host}:${PEER_PORT}`;

  it.each([
    ["unknown hash", () => `/v1/files/${"e".repeat(40)}/chunks/0`, {}, 404],
    ["malformed hash", () => "/v1/files/xyz/chunks/0", {}, 400],
    ["index out of range", () => `/v1/files/${sha1}/chunks/4`, {}, 416],
    ["negative index", () => `/v1/files/${sha1}/chunks/-1`, {}, 416],
    ["index not a number", () => `/v1/files/${sha1}/chunks/abc`, {}, 416],
    ["huge index", () => `/v1/files/${sha1}/chunks/99999999999999999999`, {}, 416],
    [".. in the path", () => `/v1/files/../../../etc/passwd`, {}, 404],
    ["encoded .. in the path", () => `/v1/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd`, {}, 400],
    ["a path instead of a hash", () => `/v1/files/${encodeURIComponent(source)}`, {}, 400],
    ["absurd Range", () => `/v1/files/${sha1}`, { range: "bytes=999999999999-" }, 416],
    ["reversed Range", () => `/v1/files/${sha1}`, { range: "bytes=100-5" }, 416],
    ["garbage Range", () => `/v1/files/${sha1}`, { range: "lines=1-2" }, 416],
    ["POST", () => `/v1/files/${sha1}`, { method: "POST" }, 405],
  ] as Array<[string, () => string, { range?: string; method?: string }, number]>)("%s: %i", async (_name, path, options, status) => {
    const res = await http(`${host()}${path()}`, {
      ...(options.method === undefined ? {} : { method: options.method }),
      ...(options.range === undefined ? {} : { headers: { range: options.range } }),
    });
    expect(res.status).toBe(status);
  });

  it("serves a valid Range and HEAD, and is unharmed after all of that", async () => {
    const part = await http(`${host()}/v1/files/${sha1}`, { headers: { range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe(`bytes 10-19/${3 * 1024 * 1024 + 5}`);
    expect(part.body).toHaveLength(10);
    const head = await http(`${host()}/v1/files/${sha1}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(3 * 1024 * 1024 + 5));
    expect(head.headers["content-disposition"]).toContain("known.bin");
    expect((await http(`${host()}/v1/files/${sha1}/chunks/3`)).body).toHaveLength(5);
    expect(swarm.daemons[0]!.child.exitCode).toBeNull();
  });
});
