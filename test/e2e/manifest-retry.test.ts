import { createServer, request, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli, startDaemon, type Daemon, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { announceAs } from "../helpers/swarm.js";
import { freePort, startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * A loaded peer can stall once. The only peer of a file stalls its first manifest request (it takes the
 * request and says nothing); the download must ask again and finish, not fail with "no valid manifest".
 * The peer is a real daemon behind a small proxy that holds the first manifest request; the daemon itself
 * announces to a tracker nobody runs, so the test's tracker lists only the proxy.
 */
const SUBNET = "127.0.35";
let tracker: TestTracker;
let daemon: Daemon;
let proxy: Server;
let root: { path: string; remove: () => Promise<void> };
let manifestRequests = 0;

beforeAll(async () => {
  root = await tempDir("manifest-retry");
  tracker = await startTestTracker();
  daemon = await startDaemon(`${SUBNET}.3`, join(root.path, "sharer"), `http://127.0.0.1:${await freePort()}`);
  proxy = createServer((req, res) => {
    if (req.url?.endsWith("/manifest") && manifestRequests++ === 0) return; // Held: never answered.
    const upstream = request({ host: daemon.host, port: PEER_PORT, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((listening) => proxy.listen(PEER_PORT, `${SUBNET}.2`, listening));
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((closed) => (proxy ? proxy.close(closed) : closed(undefined)));
  await daemon?.stop("SIGKILL");
  await tracker?.dispose();
  await root?.remove();
});

it("the only peer stalls its first manifest request: the download asks again and finishes", async () => {
  const source = join(root.path, "stalled.bin");
  const sha1 = await randomFile(source, 3 * 1024 * 1024 + 7);
  // The sharer's tracker is down: the share is recorded and served, and the command says the announce failed.
  await runCli(["--tracker", `http://127.0.0.1:${await freePort()}`, "--data-dir", daemon.dataDir, "share", source]);
  await announceAs(tracker.url, sha1, `${SUBNET}.2`, PEER_PORT, "stalling-proxy");
  const output = join(root.path, "out.bin");
  const result = await runCli(["--tracker", tracker.url, "--data-dir", join(root.path, "downloader"), "download", sha1, "-o", output, "--bind", `${SUBNET}.5`, "--no-seed"]);
  expect(result.code, result.stderr).toBe(0);
  expect(manifestRequests).toBeGreaterThanOrEqual(2);
  expect(await sha1File(output)).toBe(sha1);
}, 60_000);
