import { readdir, stat } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { record } from "../helpers/report.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { http, postJson } from "../helpers/http.js";
import { useSwarm, type Swarm } from "../helpers/swarm.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/** Load: one daemon serving 50 downloaders at once; the tracker under 100,000 announces with churn; slowloris. */

const MiB = 1024 * 1024;
let swarm: Swarm;

useSwarm("127.0.25", (s) => (swarm = s));

describe("load", () => {
  it("one daemon serves 50 concurrent downloaders of a 100 MiB file: all complete, all correct", async () => {
    const source = join(swarm.root, "popular.bin");
    const sha1 = await randomFile(source, 100 * MiB);
    const only = swarm.daemons[0]!;
    expect((await runCli(["--tracker", swarm.tracker.url, "--data-dir", only.dataDir, "share", source])).code).toBe(0);
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        runCli(["--tracker", swarm.tracker.url, "--data-dir", join(swarm.root, `dl-${i}`), "download", sha1, "-o", join(swarm.root, `popular-${i}.bin`), "--no-seed", "--bind", `127.0.26.${i + 2}`], { timeoutMs: 600_000 }),
      ),
    );
    console.log(`50 downloaders of 100 MiB from one daemon: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const [i, result] of results.entries()) expect(result.code, `downloader ${i}: ${result.stderr}`).toBe(0);
    for (let i = 0; i < 50; i++) expect(await sha1File(join(swarm.root, `popular-${i}.bin`))).toBe(sha1);
    expect(only.child.exitCode).toBeNull();
    record({ area: "load", tried: "50 concurrent downloaders of a 100 MiB file from one daemon", outcome: "all 50 byte-identical, daemon alive", lost: "nothing", seconds: (Date.now() - started) / 1000 });
  }, 900_000);

  it("slow and idle clients cannot exhaust the daemon", async () => {
    const daemon = swarm.daemons[1]!;
    const sockets: Socket[] = [];
    // 600 connections that send half a request and then nothing (slowloris), past the 512-connection cap.
    for (let i = 0; i < 600; i++) {
      const socket = connect({ host: daemon.host, port: PEER_PORT, localAddress: `127.0.27.${(i % 200) + 2}` });
      socket.on("error", () => undefined);
      socket.write("GET /v1/files/");
      sockets.push(socket);
    }
    await new Promise((r) => setTimeout(r, 500));
    // Within the header timeout they are cut off, and an honest request gets through.
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && status !== 404) {
      status = await http(`http://${daemon.host}:${PEER_PORT}/v1/files/${"a".repeat(40)}/manifest`, { timeoutMs: 3000 })
        .then((r) => r.status)
        .catch(() => 0);
      if (status !== 404) await new Promise((r) => setTimeout(r, 500));
    }
    for (const socket of sockets) socket.destroy();
    expect(status).toBe(404);
    expect(daemon.child.exitCode).toBeNull();
    record({ area: "load", tried: "600 slowloris connections (half a request, then silence)", outcome: "cut at the 10 s header limit; honest request served; daemon alive", lost: "nothing", seconds: 0 });
  }, 60_000);
});

describe("tracker load with churn", () => {
  let tracker: TestTracker;

  beforeAll(async () => {
    tracker = await startTestTracker({
      ANNOUNCE_INTERVAL_SECONDS: "3",
      ANNOUNCE_GRACE_SECONDS: "2",
      RATE_LIMIT_PER_MINUTE: "0",
      MAX_PEERS_PER_ADDRESS: "100000",
    });
  });

  afterAll(async () => {
    await tracker?.dispose();
  });

  it("100,000 announces from 1,000 peers across 100 files: no errors, expired peers gone, storage bounded", async () => {
    const total = Number(process.env["P2P_TRACKER_LOAD"] ?? 100_000);
    const files = Array.from({ length: 100 }, (_, i) => i.toString(16).padStart(40, "0"));
    const peers = Array.from({ length: 1000 }, (_, i) => ({ peerId: `load-${i}`, key: `load-key-${i}-0123456789` }));
    let sent = 0;
    const failures: string[] = [];
    const started = Date.now();
    // Each peer is in 10 swarms; a quarter of the peers leave for good halfway (churn), some say stopped.
    const worker = async (): Promise<void> => {
      while (sent < total) {
        const n = sent++;
        const half = n >= total / 2;
        const peerIndex = half ? n % 750 : n % 1000;
        const peer = peers[peerIndex]!;
        const file = files[(peerIndex * 10 + Math.floor(n / 1000)) % 100]!;
        const event = n % 97 === 0 ? "stopped" : undefined;
        const res = await postJson(`${tracker.url}/v1/files/${file}/peers`, { ...peer, port: PEER_PORT, left: n % 3 === 0 ? 0 : 100, ...(event ? { event } : {}) }, `127.0.28.${(peerIndex % 250) + 2}`).catch(
          (error: Error) => ({ status: 0, body: Buffer.from(error.message) }),
        );
        if (res.status !== 200) failures.push(`${res.status} ${res.body.toString().slice(0, 100)}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const seconds = (Date.now() - started) / 1000;
    console.log(`tracker load: ${total} announces in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s), ${failures.length} failures`);
    expect(failures.slice(0, 5)).toEqual([]);

    // After the interval and the grace, only the peers that still announce remain.
    const keep = new Set(peers.slice(0, 750).map((p) => p.peerId));
    await new Promise((r) => setTimeout(r, 6000));
    let listed = 0;
    for (const file of files) {
      const res = await http(`${tracker.url}/v1/files/${file}/peers?limit=200`);
      if (res.status === 404) continue;
      for (const p of res.json<{ peers: Array<{ peerId: string }> }>().peers) {
        listed++;
        expect(keep.has(p.peerId), `${p.peerId} should have expired`).toBe(true);
      }
    }
    console.log(`after expiry: ${listed} live entries listed`);
    expect(listed).toBe(0);

    // Storage is bounded: every swarm's alarm has deleted its storage, leaving workerd's empty database
    // file per object (a few KiB), whatever the load was.
    const objects = join(tracker.persistTo, "v3", "do");
    let largest = 0;
    let databases = 0;
    for (const dir of await readdir(objects)) {
      for (const name of await readdir(join(objects, dir))) {
        if (!name.endsWith(".sqlite") || name === "metadata.sqlite") continue;
        databases++;
        largest = Math.max(largest, (await stat(join(objects, dir, name))).size);
      }
    }
    console.log(`storage after expiry: ${databases} object databases, largest ${largest} bytes`);
    expect(databases).toBeGreaterThanOrEqual(100);
    expect(largest).toBeLessThanOrEqual(16 * 1024);
    record({ area: "load", tried: `${total} announces from 1,000 peers across 100 files, a quarter leaving halfway, 1 in 97 stopped`, outcome: `${failures.length} errors, ${Math.round(total / seconds)}/s; every expired peer gone from every swarm; each swarm's storage deleted (largest database left ${largest} bytes)`, lost: "nothing", seconds });
  }, 900_000);
});
