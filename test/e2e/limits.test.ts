import { request, Agent } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli, startDaemon, type Daemon, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { ByteMeter } from "../helpers/meter.js";

/**
 * Bandwidth limits on real daemons on 127.0.60.x. Rates are KiB-based: `4M` is 4 MiB/s (4,194,304 B/s).
 * Each rate is measured over a window of seconds after a short burst allowance, against generous bounds:
 * at most 1.1x the limit, and at least 0.6x (the limit is a cap, but a transfer that stalled would pass it).
 * No tracker runs: the daemons are given a dead one, and the download names its peer (`--peer`).
 */

const MiB = 1024 * 1024;
const SUBNET = "127.0.60";
const DEAD_TRACKER = `http://${SUBNET}.1:9`;

let dir: { path: string; remove: () => Promise<void> };
let sharer: Daemon;
let downloader: Daemon | undefined;
let file: string;
let sha1: string;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cli = (daemon: Daemon, args: string[]) => runCli(["--tracker", DEAD_TRACKER, "--data-dir", daemon.dataDir, ...args]);

/** The daemon's `GET /v1/status`, straight from its control socket (no CLI start per look). */
function controlStatus(dataDir: string): Promise<{ downloadedBytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(dataDir, "daemon.sock"), path: "/v1/status" }, (res) => {
      let body = "";
      res.on("data", (part: Buffer) => (body += part.toString()));
      res.on("end", () => resolve(JSON.parse(body) as { downloadedBytes: number }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function limitsOf(daemon: Daemon): Promise<{ uploadRate: number; downloadRate: number }> {
  const result = await cli(daemon, ["limits", "--json"]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { uploadRate: number; downloadRate: number };
}

/** Changes a limit with `p2p limits` and returns when the command had returned (the change is in by then). */
async function setLimit(daemon: Daemon, which: "--upload" | "--download", rate: string): Promise<number> {
  const result = await cli(daemon, ["limits", which, rate]);
  expect(result.code, result.stderr).toBe(0);
  return performance.now();
}

/** GETs `path` from the sharer, counting bytes as they arrive; `stop` ends it. */
function streamFrom(path: string, meter: ByteMeter, agent?: Agent): { done: Promise<number>; stop: () => void } {
  let stop = (): void => undefined;
  const done = new Promise<number>((resolve, reject) => {
    const req = request({ host: sharer.host, port: PEER_PORT, path, localAddress: `${SUBNET}.9`, agent: agent ?? false }, (res) => {
      res.on("data", (part: Buffer) => meter.add(part.length));
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(-1));
      res.on("aborted", () => resolve(-1));
    });
    req.on("error", (error) => (stopped ? resolve(-1) : reject(error)));
    let stopped = false;
    stop = () => {
      stopped = true;
      req.destroy();
    };
    req.end();
  });
  return { done, stop: () => stop() };
}

beforeAll(async () => {
  dir = await tempDir("limits");
  file = join(dir.path, "big.bin");
  sha1 = await randomFile(file, 64 * MiB);
  sharer = await startDaemon(`${SUBNET}.2`, join(dir.path, "sharer"), DEAD_TRACKER, PEER_PORT, ["--max-upload-rate", "4M"]);
  const shared = await cli(sharer, ["share", file]);
  expect(shared.code, shared.stderr).toBe(0);
});

afterAll(async () => {
  await Promise.all([sharer?.stop("SIGKILL"), downloader?.stop("SIGKILL")]);
  await dir?.remove();
});

/** A measured rate within 0.6-1.1x of the limit: pacing may run a little under, never much over. */
function expectNear(rate: number, limit: number): void {
  expect(rate).toBeLessThanOrEqual(1.1 * limit);
  expect(rate).toBeGreaterThanOrEqual(0.6 * limit);
}

describe("bandwidth limits", () => {
  it("a daemon started with --max-upload-rate 4M sends at most ~1.1x 4 MiB/s: a whole file, and chunks over four connections", async () => {
    expect(await limitsOf(sharer)).toMatchObject({ uploadRate: 4 * MiB, downloadRate: 0 });
    const status = await cli(sharer, ["status"]);
    expect(status.stdout).toContain("limits:    upload 4 MiB/s, download unlimited");

    const whole = new ByteMeter();
    const stream = streamFrom(`/v1/files/${sha1}`, whole);
    try {
      await sleep(5800);
      const start = whole.firstAt!;
      const rate = whole.rate(start + 500, start + 5500);
      expectNear(rate, 4 * MiB);
    } finally {
      stream.stop();
      await stream.done;
    }

    // Chunks (the path `p2p download` uses), four connections asking one after another, sharing the limit.
    const chunks = new ByteMeter();
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let running = true;
    const worker = async (first: number): Promise<void> => {
      for (let index = first; running; index = (index + 4) % 64) {
        const fetched = streamFrom(`/v1/files/${sha1}/chunks/${index}`, chunks, agent);
        if ((await fetched.done) !== 200 && running) throw new Error(`chunk ${index} failed`);
      }
    };
    const workers = [0, 1, 2, 3].map((first) => worker(first));
    try {
      await sleep(5800);
      const start = chunks.firstAt!;
      const rate = chunks.rate(start + 500, start + 5500);
      expectNear(rate, 4 * MiB);
    } finally {
      running = false;
      await Promise.allSettled(workers);
      agent.destroy();
    }
  });

  it("`p2p limits --upload` changes the limit of a transfer in progress within a second, and 0 lifts it", async () => {
    await setLimit(sharer, "--upload", "4M");
    const meter = new ByteMeter();
    const stream = streamFrom(`/v1/files/${sha1}`, meter);
    try {
      await sleep(3000);
      const start = meter.firstAt!;
      const before = meter.rate(start + 1000, start + 3000);
      const changed = await setLimit(sharer, "--upload", "1M");
      await sleep(3100);
      // The second after the change may still carry a burst; from then on, the new rate.
      const after = meter.rate(changed + 1000, changed + 3000);
      expectNear(before, 4 * MiB);
      expectNear(after, MiB);
      // Lifted: the rest of the 64 MiB comes at loopback speed, well within a few seconds.
      const lifted = await setLimit(sharer, "--upload", "unlimited");
      expect(await stream.done).toBe(200);
      expect(meter.total).toBe(64 * MiB);
      expect(performance.now() - lifted).toBeLessThan(5000);
    } finally {
      stream.stop();
      await stream.done;
    }
    expect(await limitsOf(sharer)).toMatchObject({ uploadRate: 0 });
  });

  it("--max-download-rate holds a download run by the daemon, and `p2p limits --download` changes it within a second", async () => {
    await setLimit(sharer, "--upload", "0");
    downloader = await startDaemon(`${SUBNET}.5`, join(dir.path, "downloader"), DEAD_TRACKER, PEER_PORT, ["--max-download-rate", "2M"]);
    const out = join(dir.path, "out.bin");
    const run = startCli(["--tracker", DEAD_TRACKER, "--data-dir", downloader.dataDir, "download", sha1, "-o", out, "--peer", `${sharer.host}:${PEER_PORT}`, "--no-seed", "--json"]);
    // What the downloading daemon has read from peers, as its status counts it, every 100 ms.
    const meter = new ByteMeter();
    let watching = true;
    const watch = (async () => {
      let last = 0;
      while (watching) {
        const { downloadedBytes } = await controlStatus(downloader.dataDir);
        if (downloadedBytes > last) meter.add(downloadedBytes - last);
        last = downloadedBytes;
        await sleep(100);
      }
    })();
    try {
      const deadline = Date.now() + 15_000;
      while (meter.firstAt === null && Date.now() < deadline) await sleep(50);
      await sleep(4000);
      const start = meter.firstAt!;
      const before = meter.rate(start + 1000, start + 4000);
      const changed = await setLimit(downloader, "--download", "8M");
      await sleep(3100);
      const after = meter.rate(changed + 1000, changed + 3000);
      expectNear(before, 2 * MiB);
      expectNear(after, 8 * MiB);
      await setLimit(downloader, "--download", "0");
      const result = await run.done;
      expect(result.code, result.stderr).toBe(0);
      expect(await sha1File(out)).toBe(sha1);
    } finally {
      watching = false;
      await watch.catch(() => undefined);
      run.child.kill("SIGKILL");
      await run.done;
    }
  });

  it("refuses a value that is not a rate: INVALID_RATE, exit 2, nothing changed", async () => {
    await setLimit(sharer, "--upload", "3M");
    for (const bad of ["2MB", "fast", "-1", "100"]) {
      const result = await cli(sharer, ["limits", "--upload", bad, "--download", "1M", "--json"]);
      expect(result.code, bad).toBe(2);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: "INVALID_RATE" } });
    }
    expect(await limitsOf(sharer)).toMatchObject({ uploadRate: 3 * MiB, downloadRate: 0 });
    const daemon = await runCli(["--data-dir", join(dir.path, "never"), "daemon", "--host", `${SUBNET}.3`, "--max-download-rate", "lots"]);
    expect(daemon.code).toBe(2);
    expect(daemon.stderr).toContain("is not a rate");
  });
});
