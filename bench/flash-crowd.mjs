// The flash-crowd benchmark: N downloaders ask for a file one sharer has, all at once, on an emulated network
// where every host's upload is capped; ours (p2p-share daemons and the local tracker) and BitTorrent
// (transmission-daemon with bittorrent-tracker) in the same run, on the same network, file and caps.
// `node bench/flash-crowd.mjs --help` says what it does and prints; docs/benchmarks.md has the figures.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { benchDir, ensureBenchDeps, ensureDebianTools, printTable, rootDir } from "./lib.mjs";

const HELP = `Usage: node bench/flash-crowd.mjs [options]          (root; Linux network namespaces)

A flash crowd on an emulated network. For each N, and each system, in a network namespace of its own:
one sharer has a random file of F MiB, N downloaders start downloading it at the same moment. Every host
(sharer, downloader) has its own address on the namespace's lo, in 198.18.0.0/15, and its upload is
capped at --rate-mbit by an HTB class matched on its source address (rate = ceil); the trackers are not
capped. What each host uploaded is read from its HTB class counters (tc -s class show dev lo), not from
the programs.

  p2p           bin/p2p.js of --root: the local tracker (p2p tracker: wrangler dev + front), one daemon per
                host (p2p daemon --host ADDR), p2p share on the sharer, then p2p download on every
                downloader at once (each runs in its downloader's daemon). Finish = the CLI's exit.
  transmission  transmission-daemon (Debian), one per host (bind-address-ipv4 = its address; DHT, LPD,
                PEX, uTP off), a private torrent with 1 MiB pieces (transmission-create), tracker:
                bittorrent-tracker (bench/package.json) on the tracker's address. All N torrents are added
                over RPC at once. Finish = the first poll (every 250 ms) that reports 100 %.

Then one more scenario: --multi-sharers sharers (4), each capped at --rate-mbit, one downloader: the
download's rate as a fraction of their summed cap (160 Mbit/s by default).

Figures, per system and N:
  T_min      the least possible time for the last peer to finish (Kumar and Ross 2006):
             max(F / U_s, N*F / (U_s + sum of the downloaders' u)), U_s the sharers' summed cap, u = the
             cap of each host. With every cap equal and one sharer it is F/u (64 MiB at 40 Mbit/s: 13.4 s).
  last       the last download's finish, seconds from the common start, and as a multiple of T_min
  median     the median finish as a multiple of T_min
  sharer copies       bytes the sharer's HTB class sent during the downloads / F (includes TCP/IP and
                      HTTP or BitTorrent overhead, ~1-3 %)
  downloader copies   the same for all downloaders together (what they served each other)
  identical  every downloaded file's sha1sum is the shared file's
  CPU busy   the machine's CPU time busy during the downloads, of all its cores (/proc/stat): near 100 %,
             the figures measure the machine more than the protocol
A scenario that runs past its time limit (--timeout-x times T_min, at least 60 s) is reported as a
timeout with the downloads that finished.

Options:
  --n <list>              downloader counts, comma-separated (default 8,16)
  --size-mib <MiB>        file size (default 64)
  --rate-mbit <Mbit/s>    every host's upload cap (default 40)
  --systems <list>        p2p,transmission (default both)
  --multi-sharers <k>     sharers in the many-to-one scenario (default 4; 0 skips it)
  --runs <r>              repeat every configuration r times (default 1)
  --timeout-x <x>         time limit per scenario in T_min (default max(10, 1.5 N))
  --root <dir>            the p2p-share checkout to run (default: the one this script is in). Its dist/
                          must be built (npm run build there); the tracker runs from its source
  --tracker-var <K=V>     extra wrangler var for the p2p tracker (repeatable; RATE_LIMIT_PER_MINUTE=0 is set)
  --json <file>           also write every result as JSON
  --keep                  keep the work folder (files, data dirs, logs) in /tmp
  -h, --help              this text

Environment: FLASH_CROWD_TRACE=1 prints every Transmission poll (progress, peers, rate per downloader).

Needs: root, ip, tc (iproute2), sha1sum; installs transmission-daemon/-cli (apt) and bench/package.json's
packages if missing. Sends nothing outside the namespaces it makes; removes them, and kills every process
in them, on every exit path (Ctrl-C included).`;

const { values: opts } = parseArgs({
  options: {
    n: { type: "string", default: "8,16" },
    "size-mib": { type: "string", default: "64" },
    "rate-mbit": { type: "string", default: "40" },
    systems: { type: "string", default: "p2p,transmission" },
    "multi-sharers": { type: "string", default: "4" },
    runs: { type: "string", default: "1" },
    "timeout-x": { type: "string" },
    root: { type: "string", default: rootDir },
    "tracker-var": { type: "string", multiple: true, default: [] },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}

function fail(message) {
  console.error(`flash-crowd: ${message}`);
  process.exit(2);
}
const positive = (name, value) => {
  const v = Number(value);
  if (!Number.isFinite(v) || v <= 0) fail(`--${name} must be a positive number, not ${value}`);
  return v;
};
const ns = opts.n.split(",").map((v) => Math.round(positive("n", v)));
const sizeMiB = positive("size-mib", opts["size-mib"]);
const size = Math.round(sizeMiB * 1024 * 1024);
const rateMbit = positive("rate-mbit", opts["rate-mbit"]);
const systems = opts.systems.split(",").map((s) => s.trim());
for (const s of systems) if (s !== "p2p" && s !== "transmission") fail(`unknown system ${s} (p2p, transmission)`);
const multiSharers = Number(opts["multi-sharers"]);
const runs = Math.round(positive("runs", opts.runs));
const root = resolve(opts.root);
const u = (rateMbit * 1e6) / 8; // bytes/s

if (process.platform !== "linux" || process.getuid?.() !== 0) fail("needs root on Linux (network namespaces, tc)");
if (!existsSync(join(root, "bin", "p2p.js")) || !existsSync(join(root, "wrangler.toml"))) fail(`${root} is not a p2p-share checkout`);
if (systems.includes("p2p")) {
  if (!existsSync(join(root, "dist", "peer"))) fail(`${root}/dist is missing: run npm run build there`);
  const newest = (dir) => {
    let t = 0;
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else t = Math.max(t, statSync(p).mtimeMs);
      }
    };
    if (existsSync(dir)) walk(dir);
    return t;
  };
  const src = Math.max(newest(join(root, "peer")), newest(join(root, "common")));
  const built = Math.max(newest(join(root, "dist", "peer")), newest(join(root, "dist", "common")));
  if (src > built) console.error(`flash-crowd: warning: sources in ${root} are newer than its dist/: run npm run build there, or this measures older code`);
}
if (systems.includes("transmission")) {
  ensureDebianTools({ "transmission-daemon": "transmission-daemon", "transmission-create": "transmission-cli" });
  ensureBenchDeps();
}

// ---------------------------------------------------------------- cleanup on every exit path
const liveNamespaces = new Set();
let work = null;
function killNamespace(name) {
  for (let round = 0; round < 50; round++) {
    const r = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" });
    const pids = r.status === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number) : [];
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    spawnSync("sleep", ["0.1"]);
  }
  spawnSync("ip", ["netns", "del", name]);
  liveNamespaces.delete(name);
}
function cleanup() {
  for (const name of [...liveNamespaces]) killNamespace(name);
  if (work !== null && !opts.keep) rmSync(work, { recursive: true, force: true });
  if (work !== null && opts.keep) console.error(`flash-crowd: kept ${work}`);
  work = null;
}
process.on("exit", cleanup);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
  process.on(signal, () => {
    console.error(`\nflash-crowd: ${signal}: stopping, removing the namespaces`);
    cleanup();
    process.exit(code);
  });
}

// ---------------------------------------------------------------- one scenario in a namespace of its own
/** Why a scenario has no last finish: downloads that failed (exited non-zero), or still running at the limit. */
function notDone(r) {
  const parts = [];
  if (r.failed > 0) parts.push(`${r.failed} FAILED`);
  if (r.timedOut > 0) parts.push(`${r.timedOut} TIMEOUT at ${r.timeoutS.toFixed(0)} s`);
  return `${parts.join(", ")} (${r.finished}/${r.downloaders} done)`;
}

let scenarioCount = 0;
function tMin(sharers, n) {
  const us = sharers * u;
  return Math.max(size / us, (n * size) / (us + n * u));
}

async function runScenario(system, sharers, n, timeoutX, file, fileSha1, torrent) {
  const k = ++scenarioCount;
  const name = `p2pfc-${process.pid}-${k}`;
  const t = tMin(sharers, n);
  const timeoutS = Math.max(60, timeoutX * t);
  const dir = join(work, `scenario-${k}-${system}-${sharers}x${n}`);
  mkdirSync(dir, { recursive: true });
  const spec = {
    system,
    downloaders: n,
    sharers,
    file,
    fileSha1,
    torrent,
    size,
    rateMbit,
    root,
    benchDir,
    work: dir,
    timeoutS,
    trackerVars: opts["tracker-var"],
    resultPath: join(dir, "result.json"),
  };
  writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
  const r = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
  if (r.status !== 0) fail(`ip netns add ${name}: ${r.stderr}`);
  liveNamespaces.add(name);
  console.error(`\n${system}: ${sharers} sharer(s) -> ${n} downloader(s), T_min ${t.toFixed(1)} s, limit ${timeoutS.toFixed(0)} s (namespace ${name})`);
  try {
    const child = spawn("ip", ["netns", "exec", name, process.execPath, join(benchDir, "flash-crowd-run.mjs"), join(dir, "spec.json")], { stdio: ["ignore", "inherit", "inherit"] });
    // Setup (tracker, daemons, checks) is outside the limit: allow it 5 minutes more.
    const killer = setTimeout(() => child.kill("SIGKILL"), (timeoutS + 300) * 1000);
    await new Promise((done) => child.once("close", done));
    clearTimeout(killer);
  } finally {
    killNamespace(name);
  }
  const result = existsSync(spec.resultPath) ? JSON.parse(readFileSync(spec.resultPath, "utf8")) : { ...spec, ok: false, error: "the scenario runner died (killed past its limit?)" };
  result.tMinS = t;
  if (result.ok) {
    const codes = result.exitCodes ?? result.finishS.map((v) => (v === null ? null : 0));
    result.failed = codes.filter((c, i) => result.finishS[i] === null && c !== null).length;
    result.timedOut = codes.filter((c, i) => result.finishS[i] === null && c === null).length;
    const done = result.finishS.filter((v) => v !== null);
    result.lastS = done.length === n ? Math.max(...done) : null;
    const sorted = result.finishS.map((v) => v ?? Infinity).sort((a, b) => a - b);
    const m = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    result.medianS = Number.isFinite(m) ? m : null;
    console.error(
      `  -> ${done.length}/${n} finished; ` +
        (result.lastS !== null ? `last ${result.lastS.toFixed(1)} s (${(result.lastS / t).toFixed(2)}x T_min)` : notDone(result)) +
        `; finishes s: ${result.finishS.map((v) => (v === null ? "-" : v.toFixed(1))).join(" ")}` +
        `; sharer copies ${(result.sharerBytes.reduce((a, b) => a + b, 0) / size).toFixed(2)}`,
    );
    for (const e of result.errors ?? []) console.error(`     ${e.trim()}`);
  } else console.error(`  -> FAILED: ${result.error}`);
  return result;
}

// ---------------------------------------------------------------- main
const results = [];
try {
  work = mkdtempSync(join(tmpdir(), "p2p-flash-crowd-"));
  const srcDir = join(work, "src");
  mkdirSync(srcDir);
  const file = join(srcDir, `flash-crowd-${sizeMiB}MiB.bin`);
  execFileSync("sh", ["-c", `head -c ${size} /dev/urandom > '${file}' && cat '${file}' > /dev/null`]);
  const fileSha1 = execFileSync("sha1sum", [file], { encoding: "utf8" }).slice(0, 40);
  let torrent = null;
  if (systems.includes("transmission")) {
    torrent = join(work, "flash-crowd.torrent");
    execFileSync("transmission-create", ["-p", "-s", "1024", "-t", "http://198.18.0.1:8000/announce", "-o", torrent, file], { stdio: "ignore" });
  }
  const versions = {
    node: process.version,
    p2p: `${root} @ ${spawnSync("git", ["-C", root, "log", "-1", "--format=%h %cI"], { encoding: "utf8" }).stdout.trim() || "?"}${spawnSync("git", ["-C", root, "status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).stdout.trim() ? " (+ uncommitted changes)" : ""}`,
    transmission: systems.includes("transmission") ? spawnSync("transmission-daemon", ["--version"], { encoding: "utf8" }).stderr.trim() : "-",
  };
  console.error(`flash-crowd: ${sizeMiB} MiB file (sha1 ${fileSha1}), every host capped at ${rateMbit} Mbit/s; ${JSON.stringify(versions)}`);

  for (let run = 1; run <= runs; run++) {
    for (const n of ns) {
      const timeoutX = opts["timeout-x"] !== undefined ? positive("timeout-x", opts["timeout-x"]) : Math.max(10, 1.5 * n);
      for (const system of systems) results.push({ run, kind: "crowd", ...(await runScenario(system, 1, n, timeoutX, file, fileSha1, torrent)) });
    }
    if (multiSharers > 0) {
      const timeoutX = opts["timeout-x"] !== undefined ? positive("timeout-x", opts["timeout-x"]) : 10;
      for (const system of systems) results.push({ run, kind: "multi", ...(await runScenario(system, multiSharers, 1, timeoutX, file, fileSha1, torrent)) });
    }
  }

  const label = { p2p: "p2p-share", transmission: `Transmission ${versions.transmission.split(" ")[1] ?? ""}`.trim() };
  const copies = (bytes) => (bytes.reduce((a, b) => a + b, 0) / size).toFixed(2);
  const crowdRows = results
    .filter((r) => r.kind === "crowd")
    .map((r) =>
      r.ok
        ? {
            system: label[r.system],
            N: r.downloaders,
            run: r.run,
            "T_min s": r.tMinS.toFixed(1),
            "last s": r.lastS === null ? notDone(r) : r.lastS.toFixed(1),
            "last x T_min": r.lastS === null ? (r.timedOut > 0 ? `>${(r.timeoutS / r.tMinS).toFixed(1)}` : "-") : (r.lastS / r.tMinS).toFixed(2),
            "median x T_min": r.medianS === null ? "-" : (r.medianS / r.tMinS).toFixed(2),
            "sharer copies": copies(r.sharerBytes),
            "downloader copies": copies(r.downloaderBytes),
            identical: r.finished === 0 ? "-" : r.identical ? `yes (${r.finished})` : "NO",
            "CPU busy": `${Math.round(r.cpuBusy * 100)} %`,
          }
        : { system: label[r.system], N: r.downloaders, run: r.run, "T_min s": r.tMinS.toFixed(1), "last s": `FAILED: ${r.error.slice(0, 80)}`, "last x T_min": "", "median x T_min": "", "sharer copies": "", "downloader copies": "", identical: "", "CPU busy": "" },
    );
  if (crowdRows.length > 0) printTable(`Flash crowd: 1 sharer -> N downloaders, ${sizeMiB} MiB, every host's upload ${rateMbit} Mbit/s (HTB)`, crowdRows);
  const multiRows = results
    .filter((r) => r.kind === "multi")
    .map((r) => {
      const finish = r.ok ? r.finishS[0] : null;
      const cap = r.sharers * rateMbit;
      return {
        system: label[r.system],
        sharers: r.sharers,
        run: r.run,
        "T_min s": r.tMinS.toFixed(2),
        "finish s": finish === null ? (r.ok ? notDone(r) : `FAILED: ${r.error.slice(0, 80)}`) : finish.toFixed(2),
        "Mbit/s": finish === null ? "-" : ((size * 8) / 1e6 / finish).toFixed(1),
        [`of ${cap} Mbit/s`]: finish === null ? "-" : ((size * 8) / 1e6 / finish / cap).toFixed(3),
        "each sharer's copies": r.ok ? r.sharerBytes.map((b) => (b / size).toFixed(2)).join(" ") : "",
        identical: finish === null ? "-" : r.identical ? "yes" : "NO",
      };
    });
  if (multiRows.length > 0) printTable(`Many to one: ${multiSharers} sharers (${rateMbit} Mbit/s each) -> 1 downloader, ${sizeMiB} MiB; rate = F / finish (process start included)`, multiRows);
  console.log(`\n${new Date().toISOString()}; ${JSON.stringify(versions)}`);
  if (opts.json !== undefined) writeFileSync(opts.json, JSON.stringify({ sizeMiB, rateMbit, versions, results }, null, 2));
} finally {
  cleanup();
}
