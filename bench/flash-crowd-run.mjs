// One scenario of the flash-crowd benchmark, run by bench/flash-crowd.mjs INSIDE a network namespace that
// it made for this scenario alone (`ip netns exec NS node flash-crowd-run.mjs SPEC.json`). Not meant to be
// run by hand: it reshapes the namespace's `lo`, and it leaves its processes for the parent to kill (the
// parent kills every process in the namespace and deletes it, on every exit path).
//
// The network: every host has its own address on lo (198.18.0.0/15), and its upload is capped by an HTB
// class matched on its source address. What each host uploaded is read from
// the class counters, never from the programs.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

// Nothing beyond the emulated network: no DHT (public bootstrap nodes by default), no LAN multicast, no port mapping.
process.env.P2P_DHT = "off";
process.env.P2P_LAN_DISCOVERY = "off";
// Nor a dashboard port (5002): many daemons run at once.
process.env.P2P_UI = "off";
process.env.P2P_PORT_MAPPING = "off";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const {
  system, // "p2p" | "transmission"
  downloaders: n, // number of downloaders
  sharers: sharerCount, // number of sharers (each has the whole file at the start)
  file, // the file to share (random bytes)
  fileSha1,
  torrent, // .torrent of `file` (transmission)
  rateMbit, // every host's upload cap
  root, // project root (bin/p2p.js)
  benchDir,
  work, // a folder of this scenario's own
  timeoutS, // from the common start
  trackerVars, // extra --var for p2p tracker
  resultPath,
} = spec;

const TRACKER_ADDR = "198.18.0.1";
const sharerAddr = (i) => `198.18.1.${i + 1}`;
const downloaderAddr = (i) => `198.18.${2 + Math.floor(i / 250)}.${(i % 250) + 1}`;
const P2P_PORT = 5001;
const P2P_TRACKER_PORT = 8787;
const BT_TRACKER_PORT = 8000;
const RPC_PORT = 9091;
const BT_PORT = 51413;
const POLL_MS = 250;

const log = (...args) => process.stderr.write(`  [${system} ${sharerCount}->${n}] ${args.join(" ")}\n`);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

// ---------------------------------------------------------------- the network
function buildNetwork(hosts) {
  sh("ip", ["link", "set", "lo", "up"]);
  sh("tc", ["qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "99", "r2q", "1000"]);
  sh("tc", ["class", "add", "dev", "lo", "parent", "1:", "classid", "1:99", "htb", "rate", "100gbit"]);
  hosts.forEach((host, i) => {
    host.classid = `1:${(i + 10).toString(16)}`;
    sh("ip", ["addr", "add", `${host.addr}/32`, "dev", "lo"]);
    if (host.capped) {
      const rate = `${rateMbit}mbit`;
      sh("tc", ["class", "add", "dev", "lo", "parent", "1:", "classid", host.classid, "htb", "rate", rate, "ceil", rate]);
      sh("tc", ["filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "src", `${host.addr}/32`, "flowid", host.classid]);
    }
  });
}

/** Bytes sent by each HTB class, by class id (`tc -s class show dev lo`). */
/** The machine's CPU time so far, busy and idle, in ticks (/proc/stat): how busy the 2 shared cores were. */
function cpuTicks() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0), idle: f[3] + f[4] };
}

function classBytes() {
  const out = sh("tc", ["-s", "class", "show", "dev", "lo"]);
  const bytes = new Map();
  for (const m of out.matchAll(/class htb (\S+) [\s\S]*?Sent (\d+) bytes/g)) bytes.set(m[1], Number(m[2]));
  return bytes;
}

// ---------------------------------------------------------------- processes
const children = [];
function start(name, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d.toString()));
  child.stderr.on("data", (d) => {
    err += d.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise((done) => child.once("close", (code, signal) => done({ code, signal, at: performance.now() })));
  const entry = { name, child, exited, out: () => out, err: () => err };
  children.push(entry);
  return entry;
}

async function waitFor(what, check, timeoutMs, proc) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc !== undefined && proc.child.exitCode !== null) throw new Error(`${what}: ${proc.name} exited (${proc.child.exitCode}): ${proc.err().slice(-2000)}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${proc ? `: ${proc.err().slice(-2000)}` : ""}`);
    await sleep(200);
  }
}

async function sha1sum(paths) {
  if (paths.length === 0) return [];
  const out = await new Promise((resolve) => {
    const c = spawn("sha1sum", paths, { stdio: ["ignore", "pipe", "ignore"] });
    let s = "";
    c.stdout.on("data", (d) => (s += d));
    c.once("close", () => resolve(s));
  });
  const sums = new Map(out.trim().split("\n").filter(Boolean).map((l) => [l.slice(42), l.slice(0, 40)]));
  return paths.map((p) => sums.get(p) ?? null);
}

// ---------------------------------------------------------------- p2p-share
async function runP2p(sharers, downloaders) {
  const bin = join(root, "bin", "p2p.js");
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", P2P_TRACKER: "", P2P_DATA_DIR: "" };
  const node = (name, args) => start(name, process.execPath, [bin, ...args], { env, cwd: work });
  const trackerUrl = `http://${TRACKER_ADDR}:${P2P_TRACKER_PORT}`;
  const vars = ["RATE_LIMIT_PER_MINUTE=0", ...trackerVars].flatMap((v) => ["--var", v]);
  const tracker = node("tracker", ["tracker", "--host", TRACKER_ADDR, "--port", String(P2P_TRACKER_PORT), "--persist-to", join(work, "tracker"), ...vars]);
  await waitFor("tracker ready", async () => (await fetch(`${trackerUrl}/v1/health`).catch(() => null))?.ok === true, 90_000, tracker);
  log("tracker ready at", trackerUrl);

  const hosts = [...sharers, ...downloaders];
  for (const host of hosts) {
    host.dir = join(work, host.name);
    mkdirSync(host.dir, { recursive: true });
    host.daemon = node(`daemon ${host.name}`, ["--tracker", trackerUrl, "--data-dir", host.dir, "daemon", "--host", host.addr, "--port", String(P2P_PORT)]);
  }
  await Promise.all(hosts.map((h) => waitFor(`daemon ${h.name} ready`, () => h.daemon.err().includes("daemon ready"), 60_000, h.daemon)));
  log(`${hosts.length} daemons ready`);

  for (const s of sharers) {
    const share = node(`share ${s.name}`, ["--tracker", trackerUrl, "--data-dir", s.dir, "share", file]);
    const { code } = await share.exited;
    const sha1 = share.out().trim().split("\n").pop();
    if (code !== 0 || sha1 !== fileSha1) throw new Error(`share on ${s.name} failed (${code}): ${share.out()} ${share.err()}`);
  }
  // Every sharer recorded by the tracker under its own address before the crowd comes.
  await waitFor(
    "sharers listed by the tracker",
    async () => {
      const reply = await fetch(`${trackerUrl}/v1/files/${fileSha1}/peers?limit=200`).catch(() => null);
      if (!reply?.ok) return false;
      const listed = new Set((await reply.json()).peers.map((p) => p.ip ?? p.host));
      return sharers.every((s) => listed.has(s.addr));
    },
    30_000,
  );
  log(`shared ${fileSha1} from ${sharers.map((s) => s.addr).join(", ")}; tracker lists each sharer's own address`);

  const before = classBytes();
  const cpuBefore = cpuTicks();
  const t0 = performance.now();
  for (const d of downloaders) {
    d.output = join(d.dir, "downloaded.bin");
    d.run = node(`download ${d.name}`, ["--tracker", trackerUrl, "--data-dir", d.dir, "download", fileSha1, "-o", d.output]);
    d.run.exited.then(({ code, at }) => {
      d.code = code;
      if (code === 0) d.finishS = (at - t0) / 1000;
      else {
        d.failS = (at - t0) / 1000;
        log(`download on ${d.name} exited ${code} at ${d.failS.toFixed(1)} s: ${d.run.err().slice(-500)}`);
      }
    });
  }
  await Promise.race([Promise.all(downloaders.map((d) => d.run.exited)), sleep(timeoutS * 1000)]);
  await sleep(50); // the .then above
  const after = classBytes();
  const cpuAfter = cpuTicks();
  // Peak memory of each daemon (VmHWM), read before they are stopped: the sharer and the most any downloader held.
  const peak = (h) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${h.daemon.child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  const downloaderPeaks = downloaders.map(peak);
  log(`peak daemon RSS: sharer ${sharers.map(peak).map((m) => m.toFixed(0)).join(", ")} MiB; downloaders max ${Math.max(...downloaderPeaks).toFixed(0)} MiB, median ${downloaderPeaks.sort((a, b) => a - b)[Math.floor(downloaderPeaks.length / 2)].toFixed(0)} MiB`);
  for (const s of sharers) for (const line of s.daemon.err().split("\n").filter((l) => l.includes("super-seeding"))) log(`${s.name}: ${line}`);
  for (const h of hosts) writeFileSync(join(h.dir, "daemon.log"), h.daemon.err());
  const reply = await fetch(`${trackerUrl}/v1/files/${fileSha1}/peers?limit=200`).then((r) => r.json(), () => ({ peers: [] }));
  const listed = new Set(reply.peers.map((p) => p.ip));
  const unseen = downloaders.filter((d) => d.finishS !== undefined && !listed.has(d.addr));
  log(unseen.length === 0 ? "the tracker lists every finished downloader under its own address" : `the tracker does not list ${unseen.map((d) => d.addr).join(", ")}`);
  return { before, after, cpuBefore, cpuAfter };
}

// ---------------------------------------------------------------- Transmission
function transmissionSettings(addr, downloadDir) {
  return {
    "bind-address-ipv4": addr,
    "bind-address-ipv6": "::1",
    "rpc-bind-address": addr,
    "rpc-port": RPC_PORT,
    "rpc-enabled": true,
    "rpc-authentication-required": false,
    "rpc-whitelist-enabled": false,
    "rpc-host-whitelist-enabled": false,
    "peer-port": BT_PORT,
    "peer-port-random-on-start": false,
    "port-forwarding-enabled": false,
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "utp-enabled": false,
    "download-dir": downloadDir,
    "incomplete-dir-enabled": false,
    "watch-dir-enabled": false,
    "speed-limit-up-enabled": false,
    "speed-limit-down-enabled": false,
    "alt-speed-enabled": false,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "download-queue-enabled": false,
    "seed-queue-enabled": false,
    "queue-stalled-enabled": false,
    "start-added-torrents": true,
    "blocklist-enabled": false,
    "message-level": 1,
  };
}

function rpcClient(addr) {
  let session = "";
  const url = `http://${addr}:${RPC_PORT}/transmission/rpc`;
  return async function rpc(method, args = {}) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const reply = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "X-Transmission-Session-Id": session },
        body: JSON.stringify({ method, arguments: args }),
        signal: AbortSignal.timeout(5000),
      });
      if (reply.status === 409) {
        session = reply.headers.get("X-Transmission-Session-Id") ?? "";
        continue;
      }
      const body = await reply.json();
      if (body.result !== "success") throw new Error(`transmission ${addr} ${method}: ${body.result}`);
      return body.arguments;
    }
    throw new Error(`transmission ${addr}: no session id`);
  };
}

const TR_FIELDS = ["id", "percentDone", "leftUntilDone", "status", "error", "errorString", "trackerStats", "peersConnected", "rateDownload"];
async function torrentState(host) {
  const { torrents } = await host.rpc("torrent-get", { fields: TR_FIELDS });
  return torrents[0];
}

async function runTransmission(sharers, downloaders) {
  const tracker = start("bittorrent-tracker", process.execPath, [join(benchDir, "flash-crowd-bt-tracker.mjs"), TRACKER_ADDR, String(BT_TRACKER_PORT)], { cwd: benchDir });
  await waitFor("bittorrent-tracker ready", () => tracker.out().includes("ready"), 30_000, tracker);
  const metainfo = readFileSync(torrent).toString("base64");

  const hosts = [...sharers, ...downloaders];
  for (const host of hosts) {
    host.dir = join(work, host.name);
    host.conf = join(host.dir, "config");
    host.data = host.sharer ? dirname(file) : join(host.dir, "data");
    mkdirSync(host.conf, { recursive: true });
    mkdirSync(host.data, { recursive: true });
    writeFileSync(join(host.conf, "settings.json"), JSON.stringify(transmissionSettings(host.addr, host.data), null, 2));
    host.daemon = start(`transmission ${host.name}`, "transmission-daemon", ["-f", "-g", host.conf, "--log-error"]);
    host.rpc = rpcClient(host.addr);
  }
  await Promise.all(
    hosts.map((h) => waitFor(`transmission ${h.name} RPC`, () => h.rpc("session-get").then(() => true, () => false), 30_000, h.daemon)),
  );
  log(`${hosts.length} transmission-daemons answer RPC`);

  for (const s of sharers) await s.rpc("torrent-add", { metainfo, "download-dir": s.data });
  await waitFor(
    "sharers seeding and announced",
    async () => {
      for (const s of sharers) {
        const t = await torrentState(s);
        if (t === undefined) return false;
        // A torrent added over existing data is checked; ask for a check if it did not start one.
        if (t.percentDone < 1 && t.status === 0) await s.rpc("torrent-verify", { ids: [t.id] });
        if (t.percentDone < 1 || t.status !== 6) return false;
        if (!t.trackerStats.some((ts) => ts.lastAnnounceSucceeded)) return false;
      }
      return true;
    },
    120_000,
  );
  // The tracker must have recorded each sharer under its own address (Transmission announces from
  // bind-address-ipv4); the tracker prints each announce's address.
  await waitFor("tracker records each sharer's own address", () => sharers.every((s) => tracker.out().includes(` ${s.addr}:${BT_PORT}`)), 30_000, tracker);
  log(`sharers seeding, tracker lists ${sharers.map((s) => s.addr).join(", ")}`);

  const before = classBytes();
  const cpuBefore = cpuTicks();
  const t0 = performance.now();
  await Promise.all(downloaders.map((d) => d.rpc("torrent-add", { metainfo, "download-dir": d.data })));
  const pending = new Set(downloaders);
  const deadline = t0 + timeoutS * 1000;
  while (pending.size > 0 && performance.now() < deadline) {
    await sleep(POLL_MS);
    const now = performance.now();
    await Promise.all(
      [...pending].map(async (d) => {
        const t = await torrentState(d).catch(() => undefined);
        if (process.env.FLASH_CROWD_TRACE && t !== undefined) log(`${((now - t0) / 1000).toFixed(2)} s ${d.name}: ${(t.percentDone * 100).toFixed(1)} %, status ${t.status}, peers ${t.peersConnected}, rate ${t.rateDownload}`);
        if (t !== undefined && t.leftUntilDone === 0 && t.percentDone === 1) {
          d.finishS = (now - t0) / 1000;
          d.code = 0;
          pending.delete(d);
        } else if (t?.error) d.lastError = t.errorString;
      }),
    );
  }
  const after = classBytes();
  const cpuAfter = cpuTicks();
  const unseen = downloaders.filter((d) => !tracker.out().includes(` ${d.addr}:${BT_PORT}`));
  log(unseen.length === 0 ? "the tracker recorded every downloader under its own address" : `the tracker never saw ${unseen.map((d) => d.addr).join(", ")}`);
  for (const d of downloaders) d.output = join(d.data, basename(file));
  // Transmission renames the .part file when the last piece is written: give it a moment.
  if (downloaders.some((d) => d.finishS !== undefined)) await sleep(1000);
  return { before, after, cpuBefore, cpuAfter };
}

// ---------------------------------------------------------------- main
const result = { ...spec, ok: false };
try {
  const sharers = Array.from({ length: sharerCount }, (_, i) => ({ name: `sharer${i + 1}`, addr: sharerAddr(i), capped: true, sharer: true }));
  const downloaders = Array.from({ length: n }, (_, i) => ({ name: `downloader${i + 1}`, addr: downloaderAddr(i), capped: true }));
  buildNetwork([{ name: "tracker", addr: TRACKER_ADDR, capped: false }, ...sharers, ...downloaders]);
  const { before, after, cpuBefore, cpuAfter } = system === "p2p" ? await runP2p(sharers, downloaders) : await runTransmission(sharers, downloaders);
  const busy = cpuAfter.busy - cpuBefore.busy;
  result.cpuBusy = busy / Math.max(1, busy + cpuAfter.idle - cpuBefore.idle);
  const sent = (h) => (after.get(h.classid) ?? 0) - (before.get(h.classid) ?? 0);
  const sums = await sha1sum(downloaders.filter((d) => d.finishS !== undefined).map((d) => d.output));
  let k = 0;
  for (const d of downloaders) if (d.finishS !== undefined) d.sha1 = sums[k++];
  result.finishS = downloaders.map((d) => d.finishS ?? null);
  // null: still running at the time limit; another number: the download failed (the CLI's exit code).
  result.exitCodes = downloaders.map((d) => d.code ?? null);
  result.failS = downloaders.map((d) => d.failS ?? null);
  result.finished = downloaders.filter((d) => d.finishS !== undefined).length;
  result.identical = downloaders.every((d) => d.finishS === undefined || d.sha1 === fileSha1);
  result.sharerBytes = sharers.map(sent);
  result.downloaderBytes = downloaders.map(sent);
  result.errors = downloaders.filter((d) => d.finishS === undefined).map((d) => `${d.name}: ${d.code ?? "not finished"} ${d.lastError ?? (d.run ? d.run.err().slice(-300) : "")}`);
  result.ok = true;
} catch (error) {
  result.error = error instanceof Error ? error.message : String(error);
  log("failed:", result.error);
} finally {
  writeFileSync(resultPath, JSON.stringify(result));
  for (const c of children) c.child.kill("SIGKILL");
  process.exit(0);
}
