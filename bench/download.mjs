// Download of a file from three local peers (127.0.0.2-4:5001, each its own daemon), verified, beside
// curl-to-a-file-then-sha1sum from one peer and aria2c with its SHA-1 check from the same three peers'
// whole-file URLs. Also the downloader's peak memory, for each size asked.
//   npm run bench:download -- [--size-gib 1] [--memory-gib 1,4] [--runs 3] [--dir /tmp] [--settle-s 8]
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { benchFile, ensureDebianTools, GiB, MB, median, printTable, rootDir, timed } from "./lib.mjs";

const { values } = parseArgs({
  options: {
    "size-gib": { type: "string", default: "1" },
    "memory-gib": { type: "string", default: "1,4" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: "/tmp" },
    "settle-s": { type: "string", default: "8" },
  },
});
ensureDebianTools({ aria2c: "aria2", curl: "curl", sha1sum: "coreutils" });
const bin = join(rootDir, "bin", "p2p.js");

/**
 * Every run starts on the same footing: the previous run's writes on disk (so that none pays for another's
 * writeback), and then a pause. On this VM, memory freed by a deleted file is handed back to the host
 * within seconds (virtio-balloon free page reporting), and the next 1 GiB written into the page cache costs
 * ~1.6 s more system time than it would right after the delete. Without the pause, whichever tool ran right
 * after another's output was deleted got warm pages and the others cold ones.
 */
const settle = () => {
  execFileSync("sync");
  execFileSync("sleep", [String(values["settle-s"])]);
};

const work = mkdtempSync(join(values.dir, "p2p-bench-download-"));
const cleanup = [() => rmSync(work, { recursive: true, force: true })];
const p2p = (dataDir, args, tracker) => [bin, "--tracker", tracker, "--data-dir", join(work, dataDir), ...args];

/**
 * Starts a `p2p` process that serves (tracker, daemon) and waits for its ready line on stderr. The tracker
 * runs in its own process too: its front answers on this process's event loop otherwise, which the timed
 * runs below block (spawnSync), and the downloader's first question would go unanswered.
 */
async function serve(args, what) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  cleanup.push(() => new Promise((done) => (child.exitCode === null ? child.once("exit", done).kill("SIGTERM") : done())));
  await new Promise((resolve, reject) => {
    let log = "";
    child.stderr.on("data", (d) => {
      log += d;
      if (/\bready\b/.test(log)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code}: ${log}`)));
  });
}

try {
  const tracker = { url: "http://127.0.0.1:8795" };
  await serve(["--data-dir", join(work, "tracker"), "tracker", "--host", "127.0.0.1", "--port", "8795"], "the tracker");
  const hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
  for (const host of hosts) await serve(p2p(`peer-${host}`, ["daemon", "--host", host], tracker.url).slice(1), `the daemon on ${host}`);

  const download = (size, label) => {
    const file = benchFile(values.dir, size);
    const sha1 = execFileSync("sha1sum", [file]).toString().slice(0, 40);
    for (const host of hosts) execFileSync(process.execPath, p2p(`peer-${host}`, ["share", file], tracker.url), { stdio: "ignore" });
    const out = join(work, "out");
    mkdirSync(out, { recursive: true });
    const target = join(out, `${label}.bin`);
    const run = () => {
      rmSync(target, { force: true });
      settle();
      rmSync(join(work, "downloader"), { recursive: true, force: true });
      const result = timed(process.execPath, p2p("downloader", ["download", sha1, "-o", target, "--bind", "127.0.0.5", "--no-seed", "--json"], tracker.url));
      const json = JSON.parse(result.stdout);
      if (json.sha1 !== sha1 || json.size !== size) throw new Error("download came out wrong");
      return result;
    };
    return { file, sha1, target, run };
  };

  // Throughput, beside curl+sha1sum and aria2c.
  const size = Number(values["size-gib"]) * GiB;
  const { sha1, target, run } = download(size, "throughput");
  const ours = [];
  const curl = [];
  const aria = [];
  for (let i = 0; i < Number(values.runs); i++) {
    ours.push(run().seconds);
    rmSync(target, { force: true });
    settle();
    curl.push(timed("sh", ["-c", `curl -s -o '${target}' http://127.0.0.2:5001/v1/files/${sha1} && sha1sum '${target}' > /dev/null`]).seconds);
    rmSync(target, { force: true });
    const urls = hosts.map((h) => `http://${h}:5001/v1/files/${sha1}`);
    settle();
    aria.push(
      timed("aria2c", ["-q", "-x", "3", "-s", "3", "--file-allocation=none", `--checksum=sha-1=${sha1}`, "-d", join(work, "out"), "-o", "aria.bin", "--allow-overwrite=true", ...urls]).seconds,
    );
    rmSync(join(work, "out", "aria.bin"), { force: true });
  }
  const mbps = (s) => Math.round(size / MB / s);
  const runs = (list) => list.map((s) => s.toFixed(2)).join(", ");
  const rows = [
    { what: "p2p download, 3 peers, every chunk + SHA-1 verified, fsync", "median s": median(ours), "MB/s": mbps(median(ours)), "each run s": runs(ours) },
    { what: "curl from 1 peer to a file, then sha1sum", "median s": median(curl), "MB/s": mbps(median(curl)), "each run s": runs(curl) },
    { what: "aria2c from the 3 peers' whole-file URLs, SHA-1 check", "median s": median(aria), "MB/s": mbps(median(aria)), "each run s": runs(aria) },
  ];
  printTable(`Download of ${values["size-gib"]} GiB on loopback, ${values.runs} runs each (target: 500 MB/s)`, rows);
  console.log(`\np2p / curl+sha1sum: ${(median(curl) / median(ours)).toFixed(2)}x the speed; p2p / aria2c: ${(median(aria) / median(ours)).toFixed(2)}x`);

  // Peak memory of a standalone download, by file size.
  const memoryRows = [];
  for (const gib of values["memory-gib"].split(",").filter((g) => g !== "").map(Number)) {
    const { run: runOnce, target: memTarget } = download(gib * GiB, `memory-${gib}`);
    const result = runOnce();
    rmSync(memTarget, { force: true });
    memoryRows.push({ size: `${gib} GiB`, "peak RSS MiB": Math.round(result.peakMiB), "seconds": result.seconds, "MB/s": Math.round((gib * GiB) / MB / result.seconds) });
  }
  printTable("Peak memory of the downloading process (target: 100 MiB or less, flat in size)", memoryRows);
} finally {
  for (const step of cleanup.reverse()) await step();
}
