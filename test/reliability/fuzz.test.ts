import fc from "fast-check";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { record } from "../helpers/report.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, PEER_PORT } from "../helpers/cli.js";
import { randomFile } from "../helpers/files.js";
import { controlJson } from "../../peer/daemon/control-client.js";
import { http, type RawRequest } from "../helpers/http.js";
import { startSwarm, type Swarm } from "../helpers/swarm.js";

/**
 * Generated bad input against the real tracker (workerd) and a real daemon's public port: at least 10,000
 * requests per surface. Nothing may answer 5xx, hang, or crash; the daemon's memory must stay flat.
 */

const RUNS = Number(process.env["P2P_FUZZ_RUNS"] ?? 10_000);
const CONCURRENCY = 16;
let swarm: Swarm;
let sha1: string;

const nodeOptions = process.env["NODE_OPTIONS"];

beforeAll(async () => {
  // The daemons collect their garbage when asked (status ?gc=1), so that the memory check sees what is alive.
  process.env["NODE_OPTIONS"] = [nodeOptions, "--expose-gc"].filter(Boolean).join(" ");
  swarm = await startSwarm("127.0.24");
  if (nodeOptions === undefined) delete process.env["NODE_OPTIONS"];
  else process.env["NODE_OPTIONS"] = nodeOptions;
  const source = join(swarm.root, "fuzzed.bin");
  sha1 = await randomFile(source, 3 * 1024 * 1024 + 17);
  await swarm.shareEverywhere(source);
});

afterAll(async () => {
  await swarm?.close();
});

const hex40 = fc.stringMatching(/^[0-9a-fA-F]{40}$/);
const segment = fc.oneof(
  hex40,
  fc.string({ maxLength: 50 }),
  fc.constantFrom("..", ".", "%2e%2e", "%2F", "%00", "manifest", "chunks", "peers", "have", "-1", "99999999999999999999", "0", "3", "4"),
  fc.integer().map(String),
);
const method = fc.constantFrom("GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS");

function pathFrom(parts: string[], query: string): string {
  // The client refuses some characters in a path; encode what it would refuse, keep the rest raw.
  const safe = parts.map((p) => p.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c)));
  // The query likewise, so that `since=0` and `limit=0` reach the server as such; `#` would end the URL.
  const q = query.replace(/[^\x21-\x7e]|#/g, (c) => encodeURIComponent(c));
  return `/${safe.join("/")}${q === "" ? "" : `?${q}`}`;
}

const announceLike = fc.record(
  {
    peerId: fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null)),
    port: fc.oneof(fc.integer({ min: -10, max: 70_000 }), fc.string(), fc.double()),
    key: fc.oneof(fc.string({ minLength: 0, maxLength: 200 }), fc.integer()),
    left: fc.oneof(fc.integer(), fc.double(), fc.string()),
    event: fc.oneof(fc.constantFrom("started", "completed", "stopped", "paused", ""), fc.integer()),
    ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
    file: fc.oneof(fc.jsonValue(), fc.record({ name: fc.string(), size: fc.integer(), chunkSize: fc.integer(), manifestId: fc.string() })),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.constant(undefined),
  announceLike.map((v) => JSON.stringify(v)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
);

const trackerRequest = fc.record({
  method,
  parts: fc.oneof(
    fc.tuple(fc.constant("v1"), fc.constant("files"), segment, fc.constant("peers")),
    fc.tuple(fc.constant("v1"), fc.constant("files"), segment),
    fc.tuple(fc.constant("v1"), fc.constant("health")),
    fc.array(segment, { maxLength: 5 }),
  ),
  query: fc.oneof(fc.constant(""), fc.constantFrom("limit=0", "limit=500", "limit=-1", "limit=abc"), fc.string({ maxLength: 30 })),
  contentType: fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded"),
  body,
});

const peerRequest = fc.record({
  method,
  parts: fc.oneof(
    fc.tuple(fc.constant("v1"), fc.constant("files"), fc.oneof(segment, fc.constant("SHA1")), fc.constant("chunks"), segment),
    fc.tuple(fc.constant("v1"), fc.constant("files"), fc.oneof(segment, fc.constant("SHA1")), fc.constant("manifest")),
    fc.tuple(fc.constant("v1"), fc.constant("files"), fc.oneof(segment, fc.constant("SHA1")), fc.constant("have")),
    fc.tuple(fc.constant("v1"), fc.constant("files"), fc.oneof(segment, fc.constant("SHA1")), fc.constant("peers")),
    fc.tuple(fc.constant("v1"), fc.constant("files"), fc.oneof(segment, fc.constant("SHA1"))),
    fc.array(segment, { maxLength: 5 }),
  ),
  query: fc.oneof(fc.constant(""), fc.constantFrom("since=0", "since=-1", "since=abc", "since=99999999999", "since=1&since=2", "since=0&stream=1", "stream=1", "since=abc&stream=1", "since=2&stream=1&stream=0"), fc.string({ maxLength: 30 })),
  range: fc.oneof(
    fc.constant(undefined),
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
    fc.tuple(fc.option(fc.nat()), fc.option(fc.nat())).map(([a, b]) => `bytes=${a ?? ""}-${b ?? ""}`),
    fc.constantFrom("bytes=0-0", "bytes=-1", "bytes=0-1,2-3", "bytes=99999999999999999999-"),
  ),
});

interface Tally {
  sent: number;
  byStatus: Record<string, number>;
  clientRefused: number;
}

async function fire(requests: Array<{ url: string; options: RawRequest }>): Promise<Tally> {
  const tally: Tally = { sent: 0, byStatus: {}, clientRefused: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const request = requests[next++]!;
      let status: number;
      try {
        status = (await http(request.url, { ...request.options, timeoutMs: 15_000 })).status;
      } catch (error) {
        // Node's own client refuses some generated requests before sending them (bad header characters).
        if (error instanceof TypeError || (error as NodeJS.ErrnoException).code?.startsWith("ERR_")) {
          tally.clientRefused++;
          continue;
        }
        throw error;
      }
      tally.sent++;
      tally.byStatus[String(status)] = (tally.byStatus[String(status)] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return tally;
}

async function daemonMemory(dataDir: string): Promise<{ heapUsedBytes: number }> {
  return (await controlJson<{ memory: { heapUsedBytes: number } }>(dataDir, "GET", "/v1/status?gc=1")).memory;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

describe("generated bad input", () => {
  it(`the tracker: ${RUNS} generated requests, no 5xx, still healthy`, async () => {
    const samples = fc.sample(trackerRequest, { numRuns: RUNS, seed: 4242 });
    const requests = samples.map((r) => ({
      url: `${swarm.tracker.url}${pathFrom(r.parts, r.query)}`,
      options: {
        method: r.method,
        headers: r.contentType === "" ? {} : { "content-type": r.contentType },
        ...(r.body === undefined || r.method === "GET" || r.method === "HEAD" ? {} : { body: r.body }),
      },
    }));
    const started = Date.now();
    const tally = await fire(requests);
    console.log(`tracker fuzz: ${tally.sent} sent (${tally.clientRefused} refused by the client) in ${Date.now() - started} ms:`, JSON.stringify(tally.byStatus));
    expect(tally.sent).toBeGreaterThanOrEqual(RUNS * 0.95);
    expect(Object.keys(tally.byStatus).filter((s) => s.startsWith("5"))).toEqual([]);
    expect((await http(`${swarm.tracker.url}/v1/health`)).status).toBe(200);
    record({ area: "bad input", tried: `${tally.sent} generated requests to every tracker route (fast-check, seed 4242)`, outcome: `no 5xx (${JSON.stringify(tally.byStatus)}), healthy after`, lost: "nothing", seconds: (Date.now() - started) / 1000 });
  }, 600_000);

  it(`a daemon's public port: ${RUNS} generated requests, no 5xx, no crash, memory flat`, async () => {
    const daemon = swarm.daemons[0]!;
    const samples = fc.sample(peerRequest, { numRuns: RUNS, seed: 4243 });
    const requests = samples.map((r) => ({
      url: `http://${daemon.host}:${PEER_PORT}${pathFrom(r.parts.map((p) => (p === "SHA1" ? sha1 : p)), r.query)}`,
      options: { method: r.method, ...(r.range === undefined ? {} : { headers: { range: r.range } }) },
    }));
    // Ten rounds; after each the daemon collects its garbage (it runs with --expose-gc here) and says what
    // is alive. After the first rounds warm it up, that must not climb.
    const live: number[] = [];
    const rss: number[] = [];
    const tally: Tally = { sent: 0, byStatus: {}, clientRefused: 0 };
    const started = Date.now();
    const round = Math.ceil(requests.length / 10);
    for (let at = 0; at < requests.length; at += round) {
      const part = await fire(requests.slice(at, at + round));
      tally.sent += part.sent;
      tally.clientRefused += part.clientRefused;
      for (const [status, n] of Object.entries(part.byStatus)) tally.byStatus[status] = (tally.byStatus[status] ?? 0) + n;
      live.push((await daemonMemory(daemon.dataDir)).heapUsedBytes / 2 ** 20);
      rss.push(await rssMiB(daemon.child.pid!));
    }
    const trend = live.map((m) => m.toFixed(1)).join(", ");
    console.log(`peer fuzz: ${tally.sent} sent (${tally.clientRefused} refused by the client) in ${Date.now() - started} ms, live heap after each round ${trend} MiB, RSS ${rss.map((m) => m.toFixed(0)).join(", ")} MiB:`, JSON.stringify(tally.byStatus));
    expect(tally.sent).toBeGreaterThanOrEqual(RUNS * 0.95);
    expect(Object.keys(tally.byStatus).filter((s) => s.startsWith("5"))).toEqual([]);
    expect(daemon.child.exitCode).toBeNull();
    // A leak raises the live heap: 250 bytes a request would add 1.5 MiB from rounds 3-5 to 8-10.
    expect(Math.min(...live.slice(-3)) - Math.min(...live.slice(2, 5)), `live heap by round: ${trend}`).toBeLessThan(1.5);
    const status = await runCli(["--data-dir", daemon.dataDir, "status", "--json"]);
    expect(status.code).toBe(0);
    record({ area: "bad input", tried: `${tally.sent} generated requests to every public peer route (seed 4243)`, outcome: `no 5xx (${JSON.stringify(tally.byStatus)}), daemon alive, its live heap flat (after each tenth, collected: ${trend} MiB)`, lost: "nothing", seconds: (Date.now() - started) / 1000 });
  }, 600_000);
});
