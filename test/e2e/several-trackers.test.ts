import { copyFile } from "node:fs/promises";
import { createServer as createHttpServer, request } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli, startDaemon, type Daemon } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { http } from "../helpers/http.js";
import { freePort, startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * Several trackers (BEP 12): real trackers (the Worker in workerd), real daemons and the CLI, real files, on
 * 127.0.50.x. A tracker that is down, or that takes connections and never answers, must change nothing a
 * user sees but a line in `p2p status`.
 */

const MiB = 1024 * 1024;

let first: TestTracker;
let second: TestTracker;
/** A tracker nobody runs: a free port on an address nothing listens on (refused at once). */
let down: string;
/** A tracker that takes connections and never answers: what a download must not wait on. */
let silent: { url: string; connections: () => number; close: () => Promise<void> };
let dir: { path: string; remove: () => Promise<void> };
const daemons: Daemon[] = [];

async function silentTracker(host: string): Promise<typeof silent> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://${host}:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const listedIps = async (tracker: string, sha1: string): Promise<string[]> => {
  const res = await http(`${tracker}/v1/files/${sha1}/peers`);
  return res.status === 200 ? res.json<{ peers: Array<{ ip: string }> }>().peers.map((p) => p.ip) : [];
};

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A front for a tracker that answers each request `ms` late: a slow network path, on 127.0.50.x. */
async function lateFront(host: string, tracker: string, ms: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createHttpServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const upstream = request(new URL(req.url ?? "/", tracker), { method: req.method, headers: req.headers }, (reply) => {
        const body: Buffer[] = [];
        reply.on("data", (part: Buffer) => body.push(part));
        reply.on("end", () => setTimeout(() => res.writeHead(reply.statusCode ?? 502, reply.headers).end(Buffer.concat(body)), ms));
      });
      upstream.on("error", () => res.writeHead(502).end());
      upstream.end(Buffer.concat(parts));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return {
    url: `http://${host}:${typeof address === "object" && address !== null ? address.port : 0}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const trackerArgs = (...urls: string[]): string[] => urls.flatMap((url) => ["--tracker", url]);

async function daemonAt(host: string, name: string, trackers: string[]): Promise<Daemon> {
  const daemon = await startDaemon(host, join(dir.path, name), trackers);
  daemons.push(daemon);
  return daemon;
}

interface PeerLine {
  host: string;
  source: string;
  sources: string[];
  bytes: number;
}

beforeAll(async () => {
  [first, second] = await Promise.all([startTestTracker(), startTestTracker()]);
  down = `http://127.0.50.99:${await freePort()}`;
  silent = await silentTracker("127.0.50.98");
  dir = await tempDir("trackers");
}, 60_000);

afterAll(async () => {
  await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
  await silent?.close();
  await Promise.all([first?.dispose(), second?.dispose()]);
  await dir?.remove();
});

describe("several trackers", () => {
  it("with the first tracker down and another that never answers, a share and a download go through the one that works, without waiting on the others", async () => {
    const sharer = await daemonAt("127.0.50.1", "sharer-1", [down, silent.url, first.url]);
    const source = join(dir.path, "one-up.bin");
    const sha1 = await randomFile(source, 3 * MiB + 5);
    const shared = await runCli(["--data-dir", sharer.dataDir, "share", source, "--json"]);
    expect(shared.code, shared.stderr).toBe(0);
    expect(JSON.parse(shared.stdout)).toMatchObject({ sha1, announced: true });

    const output = join(dir.path, "one-up-out.bin");
    const before = silent.connections();
    const result = await runCli([...trackerArgs(down, silent.url, first.url), "--data-dir", join(dir.path, "downloader-1"), "download", sha1, "-o", output, "--no-seed", "--bind", "127.0.50.2", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
    // The silent tracker was asked (peers, manifest id) and never answered: its 10 s limit was not waited for.
    expect(silent.connections() - before).toBeGreaterThanOrEqual(1);
    expect(result.ms).toBeLessThan(5000);
    const peers = (JSON.parse(result.stdout) as { peers: PeerLine[] }).peers;
    expect(peers).toEqual([expect.objectContaining({ host: "127.0.50.1", source: "tracker", sources: [`tracker:${first.url}`] })]);
  });

  it("two trackers each knowing a different sharer: a download gets peers from both, and says where each came from", async () => {
    const a = await daemonAt("127.0.50.11", "sharer-a", [first.url]);
    const b = await daemonAt("127.0.50.12", "sharer-b", [second.url]);
    const source = join(dir.path, "merged.bin");
    const sha1 = await randomFile(source, 24 * MiB);
    await copyFile(source, join(dir.path, "merged-b.bin"));
    for (const [daemon, path] of [
      [a, source],
      [b, join(dir.path, "merged-b.bin")],
    ] as const) {
      const shared = await runCli(["--data-dir", daemon.dataDir, "share", path]);
      expect(shared.code, shared.stderr).toBe(0);
    }
    expect(await listedIps(first.url, sha1)).toEqual(["127.0.50.11"]);
    expect(await listedIps(second.url, sha1)).toEqual(["127.0.50.12"]);

    const output = join(dir.path, "merged-out.bin");
    const result = await runCli([...trackerArgs(first.url, second.url), "--data-dir", join(dir.path, "downloader-2"), "download", sha1, "-o", output, "--no-seed", "--bind", "127.0.50.13", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
    const peers = (JSON.parse(result.stdout) as { peers: PeerLine[] }).peers.sort((x, y) => x.host.localeCompare(y.host));
    expect(peers).toEqual([
      expect.objectContaining({ host: "127.0.50.11", source: "tracker", sources: [`tracker:${first.url}`] }),
      expect.objectContaining({ host: "127.0.50.12", source: "tracker", sources: [`tracker:${second.url}`] }),
    ]);
  });

  it("a daemon announces to every tracker; `p2p status` shows the one that is down and why; a stop tells every tracker `stopped`", async () => {
    const daemon = await daemonAt("127.0.50.21", "sharer-3", [down, first.url, second.url]);
    const source = join(dir.path, "status.bin");
    const sha1 = await randomFile(source, MiB);
    const shared = await runCli(["--data-dir", daemon.dataDir, "share", source]);
    expect(shared.code, shared.stderr).toBe(0);
    await until("both live trackers to list the daemon", async () => (await listedIps(first.url, sha1)).includes("127.0.50.21") && (await listedIps(second.url, sha1)).includes("127.0.50.21"));

    const status = await runCli(["--data-dir", daemon.dataDir, "status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const trackers = (JSON.parse(status.stdout) as { daemon: { trackers: Array<Record<string, unknown>> } }).daemon.trackers;
    expect(trackers.map((t) => t["url"])).toEqual([down, first.url, second.url]);
    expect(trackers[0]).toMatchObject({ ok: false, lastSuccessAt: null });
    expect(String(trackers[0]!["lastError"])).toContain("ECONNREFUSED");
    expect(trackers[1]).toMatchObject({ ok: true, lastError: null });
    expect(trackers[2]).toMatchObject({ ok: true, lastError: null });
    const text = await runCli(["--data-dir", daemon.dataDir, "status"]);
    expect(text.stdout).toContain(`${down}  FAILING`);
    expect(text.stdout).toContain(`${first.url}  ok, last announce`);

    await daemon.stop("SIGTERM");
    expect(daemon.child.exitCode).toBe(0);
    expect(await listedIps(first.url, sha1)).not.toContain("127.0.50.21");
    expect(await listedIps(second.url, sha1)).not.toContain("127.0.50.21");
  });

  it("a foreground share with one tracker down is listed by the other (with every tracker down it still shares: share-links.test.ts)", async () => {
    const source = join(dir.path, "foreground.bin");
    const sha1 = await randomFile(source, MiB);
    const serving = startCli([...trackerArgs(down, second.url), "--data-dir", join(dir.path, "fg-2"), "share", source, "--host", "127.0.50.32", "--port", "0"]);
    let printed = "";
    serving.child.stdout?.on("data", (data: Buffer) => (printed += data.toString()));
    try {
      // Listed by the tracker, and the hash printed: the tracker records the announce a moment before the
      // command hears back and prints, so a stop in between would find nothing printed yet.
      await until("the live tracker to list the foreground share, and the hash printed", async () => {
        if (serving.child.exitCode !== null) throw new Error("the foreground share ended by itself");
        return printed.includes(sha1) && (await listedIps(second.url, sha1)).includes("127.0.50.32");
      });
    } finally {
      serving.child.kill("SIGTERM");
    }
    const ended = await serving.done;
    expect(ended.stdout).toBe(`${sha1}\n`);
    expect(ended.code).toBe(0);
  });

  it("a malformed tracker among several is refused up front (exit 2), naming it and where it came from", async () => {
    const sha1 = "a".repeat(40);
    const flag = await runCli([...trackerArgs(first.url, "127.0.50.40:8787"), "--data-dir", join(dir.path, "bad-1"), "download", sha1]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--tracker "127.0.50.40:8787" is not a tracker URL');
    const env = await runCli(["--data-dir", join(dir.path, "bad-2"), "download", sha1], { env: { P2P_TRACKER: `${first.url}, ftp://127.0.50.41/` } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('P2P_TRACKER "ftp://127.0.50.41/" is not a tracker URL');
  });

  it("a tracker that answers first with only a stale peer does not fail a download another tracker's peer can serve", async () => {
    const daemon = await daemonAt("127.0.50.71", "sharer-stale", [second.url]);
    const source = join(dir.path, "stale.bin");
    const sha1 = await randomFile(source, 2 * MiB);
    const shared = await runCli(["--data-dir", daemon.dataDir, "share", source, "--json"]);
    expect(shared.code).toBe(0);
    const { manifestId } = JSON.parse(shared.stdout) as { manifestId: string };
    // A tracker of its own (the boundary, stubbed): it answers at once, with the file's record (so the
    // download need not wait for the other tracker) and a peer that is gone.
    const stalePort = await freePort();
    const stub = createHttpServer((req, res) => {
      const peers = req.url?.includes("/peers") === true;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          peers
            ? { interval: 30, peers: [{ peerId: "p2p-stale", ip: "127.0.50.72", port: stalePort, complete: true }] }
            : { sha1, file: { name: "stale.bin", size: 2 * MiB, chunkSize: MiB, manifestId }, complete: 1, incomplete: 0 },
        ),
      );
    });
    await new Promise<void>((resolve) => stub.listen(0, "127.0.50.73", resolve));
    // The tracker that knows the sharer answers 300 ms late, after the stale peer has already failed.
    const late = await lateFront("127.0.50.75", second.url, 300);
    try {
      const address = stub.address();
      const stubUrl = `http://127.0.50.73:${typeof address === "object" && address !== null ? address.port : 0}`;
      const output = join(dir.path, "stale-out.bin");
      const result = await runCli([...trackerArgs(stubUrl, late.url), "--data-dir", join(dir.path, "downloader-stale"), "download", sha1, "-o", output, "--no-seed", "--bind", "127.0.50.74", "--json"]);
      expect(result.code, result.stderr).toBe(0);
      expect(await sha1File(output)).toBe(sha1);
      const peers = (JSON.parse(result.stdout) as { peers: PeerLine[] }).peers;
      expect(peers.find((p) => p.host === "127.0.50.71")).toMatchObject({ sources: [`tracker:${late.url}`] });
    } finally {
      await late.close();
      await new Promise((resolve) => stub.close(resolve));
    }
  });

  it("P2P_TRACKER lists several trackers, comma-separated, all used", async () => {
    const daemon = await daemonAt("127.0.50.51", "sharer-env", [second.url]);
    const source = join(dir.path, "env.bin");
    const sha1 = await randomFile(source, MiB);
    expect((await runCli(["--data-dir", daemon.dataDir, "share", source])).code).toBe(0);
    const output = join(dir.path, "env-out.bin");
    const result = await runCli(["--data-dir", join(dir.path, "downloader-env"), "download", sha1, "-o", output, "--no-seed", "--bind", "127.0.50.52", "--json"], { env: { P2P_TRACKER: `${first.url},${second.url}` } });
    expect(result.code, result.stderr).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
  });
});
