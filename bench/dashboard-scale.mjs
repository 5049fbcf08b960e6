// The dashboard at scale (issue 14): a real daemon with 10,000 shares and 50 downloads running, its page
// in headless Chromium. Prints what the page holds and how it moves (DOM nodes, JS heap, time to show the
// snapshot, frame times while scrolling through all 10,000, time to filter, main-thread time per second
// while 50 downloads report progress), side by side with a reference: the same 10,000 rows rendered as a
// plain list, as a page without virtualisation would.
// Usage: node bench/dashboard-scale.mjs   (needs Debian's chromium; about two minutes; leaves nothing behind)
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { printTable, rootDir } from "./lib.mjs";

const SHARES = Number(process.env.SHARES ?? 10_000);
const DOWNLOADS = Number(process.env.DOWNLOADS ?? 50);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const P2P = join(rootDir, "bin", "p2p.js");
const { controlJson } = await import(join(rootDir, "dist", "peer", "daemon", "control-client.js"));

const work = mkdtempSync(join(tmpdir(), "p2p-dashboard-scale-"));
const children = [];
let browser;

function daemon(name, host, extra, env = {}) {
  const child = spawn(process.execPath, [P2P, "--tracker", "http://127.0.75.9:9", "--data-dir", join(work, name), "daemon", "--host", host, "--port", "45001", "--no-dht", "--no-lan-discovery", ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let log = "";
    child.stderr.on("data", (d) => {
      log += d.toString();
      if (log.includes("daemon ready")) resolve(join(work, name));
    });
    child.once("exit", (code) => reject(new Error(`daemon ${name} exited with ${code}: ${log}`)));
  });
}

async function pool(items, width, each) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await each(items[next++]);
  }));
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/** Scrolls `selector` from top to bottom in `steps` frames; returns each frame's duration in ms. */
async function scrollFrames(page, selector, steps) {
  return page.evaluate(
    async ([sel, n]) => {
      const box = document.querySelector(sel);
      const frames = [];
      let last = await new Promise((r) => requestAnimationFrame(r));
      for (let i = 1; i <= n; i++) {
        box.scrollTop = (i / n) * (box.scrollHeight - box.clientHeight);
        const now = await new Promise((r) => requestAnimationFrame(r));
        frames.push(now - last);
        last = now;
      }
      return frames;
    },
    [selector, steps],
  );
}

/** Main-thread busy time (long tasks over 50 ms included) per second, over `ms`. */
async function busyPerSecond(page, ms) {
  return page.evaluate(async (span) => {
    let busy = 0;
    let longTasks = 0;
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        busy += entry.duration;
        longTasks += 1;
      }
    });
    observer.observe({ type: "longtask" });
    // Frames that took long show the work done between them: count what went over a 60 Hz frame.
    let over = 0;
    let last = performance.now();
    const end = last + span;
    while (performance.now() < end) {
      const now = await new Promise((r) => requestAnimationFrame(r));
      over += Math.max(0, now - last - 16.7);
      last = now;
    }
    observer.disconnect();
    return { longTasks, longTaskMs: busy, jankMsPerSecond: (over / span) * 1000 };
  }, ms);
}

try {
  // A sharer of 10,000 small files and, on a daemon of its own, 50 files of 8 MiB downloaded slowly from it.
  const filesDir = join(work, "files");
  mkdirSync(filesDir);
  const paths = Array.from({ length: SHARES }, (_, i) => {
    const path = join(filesDir, `file-${String(i).padStart(5, "0")}.txt`);
    writeFileSync(path, `${i} `.repeat(200));
    return path;
  });
  const uiPort = 45990;
  const a = await daemon("a", "127.0.75.1", ["--ui-port", String(uiPort)]);
  const b = await daemon("b", "127.0.75.2", ["--max-upload-rate", "2M", "--no-ui"]);
  let started = Date.now();
  await pool(paths, 32, (path) => controlJson(a, "POST", "/v1/shares", { path }));
  const shareSeconds = (Date.now() - started) / 1000;
  const bigDir = join(work, "big");
  mkdirSync(bigDir);
  const out = join(work, "out");
  mkdirSync(out);
  // Every file shared first, then every download started at once: all 50 run (8 at a time get the sharer's
  // upload slots, the rest are told to come back) while the page is measured.
  const files = [];
  for (let i = 0; i < DOWNLOADS; i++) {
    const path = join(bigDir, `movie-${i}.bin`);
    writeFileSync(path, execFileSync("head", ["-c", String(8 * 1024 * 1024), "/dev/urandom"], { maxBuffer: 16 << 20 }));
    files.push((await controlJson(b, "POST", "/v1/shares", { path })).sha1);
  }
  await Promise.all(files.map((sha1) => controlJson(a, "POST", "/v1/downloads", { sha1, output: out, detach: true, seed: false, peers: ["127.0.75.2:45001"], wait: 0 })));
  const url = JSON.parse(execFileSync(process.execPath, [P2P, "--data-dir", a, "ui", "--no-open", "--json"], { encoding: "utf8" })).url;

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  started = Date.now();
  await page.goto(url);
  await page.waitForFunction((n) => document.querySelectorAll("#share-list [data-sha1]").length > 0 && document.getElementById("shares-count")?.textContent?.includes(String(n)), SHARES, { timeout: 60_000 });
  const showSeconds = (Date.now() - started) / 1000;
  await page.waitForTimeout(2000);
  const ours = await page.evaluate(() => ({
    nodes: document.getElementsByTagName("*").length,
    rows: document.querySelectorAll("#share-list [data-sha1]").length,
    heap: performance.memory?.usedJSHeapSize ?? 0,
    downloads: document.querySelectorAll("#download-list .row").length,
  }));
  const frames = await scrollFrames(page, "#share-list", 200);
  // Filtering, timed in the page from the input event to the next frame drawn with one row left.
  const filterMs = await page.evaluate(async (query) => {
    const box = document.getElementById("share-filter");
    const t0 = performance.now();
    box.value = query;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    while (document.querySelectorAll("#share-list [data-sha1]").length !== 1) await new Promise((r) => requestAnimationFrame(r));
    await new Promise((r) => requestAnimationFrame(r));
    const ms = performance.now() - t0;
    box.value = "";
    box.dispatchEvent(new Event("input", { bubbles: true }));
    return Math.round(ms);
  }, `file-0${String(SHARES - 1).slice(-4)}`);
  const states = {};
  for (const d of await controlJson(a, "GET", "/v1/downloads")) states[d.state] = (states[d.state] ?? 0) + 1;
  const live = await busyPerSecond(page, 10_000);

  // The reference: the same 10,000 rows as a plain list in one page, as a dashboard without virtualisation.
  const plain = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const rowsHtml = paths
    .map((p, i) => `<div class="row" style="height:100px"><div><b>file-${i}.txt</b> <span>1 KiB</span></div><div><code>${"0".repeat(40)}</code></div><div>served 0 B · 0 peers <button>Copy SHA-1</button><button>Link</button><button>Unshare</button></div></div>`)
    .join("");
  started = Date.now();
  await plain.setContent(`<!doctype html><div id="list" style="height:540px;overflow:auto">${rowsHtml}</div>`);
  const plainShowMs = Date.now() - started;
  const reference = await plain.evaluate(() => ({ nodes: document.getElementsByTagName("*").length, heap: performance.memory?.usedJSHeapSize ?? 0 }));
  const plainFrames = await scrollFrames(plain, "#list", 200);
  const plainFilterMs = await plain.evaluate(async () => {
    const t0 = performance.now();
    for (const row of document.querySelectorAll(".row")) row.style.display = row.textContent.includes("file-9999.txt") ? "" : "none";
    await new Promise((r) => requestAnimationFrame(r));
    return Math.round(performance.now() - t0);
  });

  const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;
  console.log(`\n${SHARES} shares made through the control API in ${shareSeconds.toFixed(1)} s (${Math.round(SHARES / shareSeconds)}/s); the ${DOWNLOADS} downloads while measured: ${JSON.stringify(states)} (8 MiB each from one sharer that sends 2 MiB/s in all, 8 at a time)`);
  printTable(`The dashboard with ${SHARES} shares and ${DOWNLOADS} downloads (headless Chromium, 1280x900)`, [
    { what: "DOM elements", dashboard: ours.nodes, "plain list (reference)": reference.nodes, ratio: (ours.nodes / reference.nodes).toFixed(3) },
    { what: "share rows in the DOM", dashboard: ours.rows, "plain list (reference)": SHARES, ratio: (ours.rows / SHARES).toFixed(4) },
    { what: "JS heap used", dashboard: mib(ours.heap), "plain list (reference)": mib(reference.heap), ratio: (ours.heap / reference.heap).toFixed(2) },
    { what: "time to show (snapshot over SSE vs setContent)", dashboard: `${showSeconds.toFixed(2)} s`, "plain list (reference)": `${(plainShowMs / 1000).toFixed(2)} s`, ratio: (showSeconds / (plainShowMs / 1000)).toFixed(2) },
    { what: "scrolling through all: frame p50 / p95 / max", dashboard: `${percentile(frames, 50).toFixed(1)} / ${percentile(frames, 95).toFixed(1)} / ${Math.max(...frames).toFixed(1)} ms`, "plain list (reference)": `${percentile(plainFrames, 50).toFixed(1)} / ${percentile(plainFrames, 95).toFixed(1)} / ${Math.max(...plainFrames).toFixed(1)} ms`, ratio: (percentile(frames, 95) / percentile(plainFrames, 95)).toFixed(2) },
    { what: "filter to one row", dashboard: `${filterMs} ms`, "plain list (reference)": `${plainFilterMs} ms`, ratio: (filterMs / Math.max(1, plainFilterMs)).toFixed(2) },
    { what: `live: frame time over 16.7 ms per second, ${DOWNLOADS} downloads updating (10 s)`, dashboard: `${live.jankMsPerSecond.toFixed(1)} ms/s (${live.longTasks} long tasks)`, "plain list (reference)": "-", ratio: "-" },
  ]);
} finally {
  await browser?.close().catch(() => undefined);
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((r) => child.once("exit", r)) : undefined)));
  rmSync(work, { recursive: true, force: true });
}
