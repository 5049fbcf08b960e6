// Announce throughput of the local tracker (wrangler dev, workerd) beside bittorrent-tracker's HTTP server,
// loaded the same way in the same run, and the same bundle through Miniflare directly to split the costs.
//   npm run bench:tracker -- [--seconds 10] [--connections 50]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { benchDir, ensureBenchDeps, printTable, rootDir, startProcess } from "./lib.mjs";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    peers: { type: "string", default: "1000" },
    files: { type: "string", default: "1000" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);

ensureBenchDeps();
const { default: autocannon } = await import(join(benchDir, "node_modules", "autocannon", "autocannon.js"));
const { startLocalTracker } = await import(join(rootDir, "dist", "peer", "cli", "local-tracker.js"));

const warmFiles = Array.from({ length: Number(values.files) }, () => randomBytes(20));
const peers = Array.from({ length: Number(values.peers) }, (_, i) => ({
  id: `bench-peer-${i}`,
  key: `bench-key-${i}-0123456789`,
  bt: randomBytes(20),
}));
const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** The files a scenario announces to: always new ones (each announce creates its swarm), a warm set, or one. */
const scenarios = [
  { name: "no-op (400, no Durable Object)", noop: true },
  { name: "many files, each new (cold)", files: () => randomBytes(20) },
  { name: `many files (${warmFiles.length}, warm)`, files: () => pick(warmFiles), warm: true },
  { name: "one hot file", files: () => warmFiles[0] },
];

function oursRequest(scenario) {
  return (req) => {
    const peer = pick(peers);
    req.method = "POST";
    req.headers = { "content-type": "application/json" };
    req.path = scenario.noop ? "/v1/files/not-a-hash/peers" : `/v1/files/${scenario.files().toString("hex")}/peers`;
    req.body = JSON.stringify({ peerId: peer.id, port: 5001, key: peer.key, left: 0 });
    return req;
  };
}

function btRequest(scenario) {
  return (req) => {
    const file = scenario.noop ? Buffer.alloc(3) : scenario.files();
    const peer = pick(peers);
    req.method = "GET";
    req.path = `/announce?info_hash=${escape(file.toString("latin1"))}&peer_id=${escape(peer.bt.toString("latin1"))}&port=6881&uploaded=0&downloaded=0&left=0&compact=1&numwant=50`;
    return req;
  };
}

async function load(url, setupRequest, duration = seconds) {
  const result = await autocannon({ url, connections, duration, requests: [{ setupRequest }] });
  return {
    "req/s": Math.round((result["2xx"] + result["4xx"]) / duration),
    "p50 ms": result.latency.p50,
    "p99 ms": result.latency.p99,
    "5xx+errors": result["5xx"] + result.errors + result.timeouts,
  };
}

async function runAll(server, url, makeRequest) {
  const rows = [];
  for (const scenario of scenarios) {
    // A warm scenario first creates every swarm, so that what is measured is re-announces into live objects.
    if (scenario.warm) await load(url, makeRequest({ files: () => warmFiles[Math.floor(Math.random() * warmFiles.length)] }), 3);
    rows.push({ server, scenario: scenario.name, ...(await load(url, makeRequest(scenario))) });
  }
  return rows;
}

const rows = [];
const cleanup = [];
try {
  const persistTo = mkdtempSync(join(tmpdir(), "p2p-bench-tracker-"));
  cleanup.push(() => rmSync(persistTo, { recursive: true, force: true }));
  const tracker = await startLocalTracker({
    host: "127.0.0.1",
    port: 8797,
    persistTo,
    vars: { RATE_LIMIT_PER_MINUTE: "0", MAX_PEERS_PER_ADDRESS: "100000", MAX_PEERS_PER_FILE: "100000" },
  });
  cleanup.push(() => tracker.stop());
  rows.push(...(await runAll("p2p-share, wrangler dev", tracker.url, oursRequest)));
  await tracker.stop();

  const outdir = mkdtempSync(join(tmpdir(), "p2p-bench-bundle-"));
  cleanup.push(() => rmSync(outdir, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(rootDir, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", outdir], {
    cwd: rootDir,
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  const mfState = mkdtempSync(join(tmpdir(), "p2p-bench-mf-"));
  cleanup.push(() => rmSync(mfState, { recursive: true, force: true }));
  const mf = await startProcess(process.execPath, [join(benchDir, "miniflare-tracker.mjs"), join(outdir, "index.js"), "8796", mfState], "ready", {
    cwd: rootDir,
  });
  cleanup.push(() => mf.kill("SIGTERM"));
  rows.push(...(await runAll("p2p-share, Miniflare direct", "http://127.0.0.1:8796", oursRequest)));
  mf.kill("SIGTERM");

  const bt = await startProcess(process.execPath, [join(benchDir, "bt-tracker-server.mjs"), "8798"], "ready", { cwd: benchDir });
  cleanup.push(() => bt.kill("SIGTERM"));
  rows.push(...(await runAll("bittorrent-tracker", "http://127.0.0.1:8798", btRequest)));
} finally {
  for (const step of cleanup.reverse()) await step();
}

printTable(`Tracker announces: ${connections} connections, ${seconds} s per row, ${peers.length} peer ids, autocannon on the same 2 cores`, rows);
console.log("\nRatios to bittorrent-tracker in the same run:");
for (const scenario of scenarios) {
  const ref = rows.find((r) => r.scenario === scenario.name && r.server === "bittorrent-tracker");
  for (const server of ["p2p-share, wrangler dev", "p2p-share, Miniflare direct"]) {
    const ours = rows.find((r) => r.scenario === scenario.name && r.server === server);
    console.log(`  ${scenario.name.padEnd(34)} ${server.padEnd(28)} ${(ours["req/s"] / ref["req/s"]).toFixed(3)}x`);
  }
}
