import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { request } from "node:http";
import { networkInterfaces } from "node:os";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDaemon, type Daemon, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File, tempDir } from "../helpers/files.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * The web dashboard in a real browser (Debian's chromium driven by playwright-core), on real daemons with
 * real files: what it shows, what it does, and what it refuses. Screenshots go to docs/.
 */

const MiB = 1024 * 1024;
const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const DOCS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs");

let tracker: TestTracker;
let root: { path: string; remove: () => Promise<void> };
let seeder: Daemon;
let downloader: Daemon;
let browser: Browser | undefined;
let page: Page;
let uiUrl: string;
let loginUrl: string;
const pageErrors: string[] = [];

const args = (daemon: Daemon): string[] => ["--tracker", tracker.url, "--data-dir", daemon.dataDir];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does), or set CHROMIUM_PATH`);
  tracker = await startTestTracker();
  root = await tempDir("dashboard");
  seeder = await startDaemon("127.0.80.1", join(root.path, "seeder"), tracker.url, PEER_PORT);
  // Slow enough to pause midway: 4 MiB/s for a 24 MiB file.
  downloader = await startDaemon("127.0.80.2", join(root.path, "downloader"), tracker.url, PEER_PORT, ["--ui-port", "0", "--max-download-rate", "4M"]);
  const ui = await runCli([...args(downloader), "ui", "--no-open"]);
  expect(ui.code, ui.stderr).toBe(0);
  loginUrl = ui.stdout.trim();
  uiUrl = new URL(loginUrl).origin;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    // A refused request (a wrong hash: 400) is logged by the browser too; that is the page working, not failing.
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) pageErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on("response", (response) => {
    if (response.status() >= 500) pageErrors.push(`${response.status()} from ${response.request().method()} ${response.url()}`);
  });
  await page.goto(loginUrl);
  await page.waitForSelector("#live:text('live')");
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await downloader?.stop("SIGKILL");
  await seeder?.stop("SIGKILL");
  await tracker?.dispose();
  await root?.remove();
});

/** A raw request to the dashboard, with whatever Host, Origin and cookie a test wants to try. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  const url = new URL(uiUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: Number(url.port), method, path, headers }, (res) => {
      let text = "";
      res.on("data", (part: Buffer) => (text += part.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function session(): Promise<{ cookie: string; csrf: string }> {
  const cookies = await page.context().cookies(uiUrl);
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const csrf = (JSON.parse((await raw("GET", "/ui/session", { cookie })).text) as { csrf: string }).csrf;
  return { cookie, csrf };
}

/**
 * Evaluated in the page: the lowest WCAG contrast ratio between the colour of visible text and the first
 * opaque background behind it (white when none), and which text it was.
 */
const CONTRAST_SCRIPT = `(() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length >= 3 && (c[3] === undefined || c[3] > 0.5)) return c; } return [255, 255, 255]; };
  let min = 21, text = "";
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== "");
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < min) { min = ratio; text = el.tagName + ": " + el.textContent.trim().slice(0, 40); }
  }
  return { min, text };
})()`;

describe("the dashboard", () => {
  it("shows a file shared from the CLI after the page loaded, within a second, without a reload", async () => {
    const file = join(root.path, "from-cli.bin");
    const sha1 = await randomFile(file, 3 * MiB);
    const shared = await runCli([...args(downloader), "share", file]);
    expect(shared.code, shared.stderr).toBe(0);
    const started = Date.now();
    await page.locator(`#share-list [data-sha1="${sha1}"]`).waitFor({ timeout: 1000 });
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(page.locator(`#share-list [data-sha1="${sha1}"] .name`).textContent()).resolves.toBe("from-cli.bin");
    // The daemon's view says what the router does for it and whether the tracker reached it from outside.
    await expect(page.locator("#daemon-facts dt:text-is('port mapping') + dd").textContent()).resolves.toMatch(/^off: turned off/);
    await expect(page.locator("#daemon-facts dt:text-is('reachable') + dd").textContent()).resolves.toMatch(/^(not known yet|not checked yet|no: )/);
  });

  it("downloads a file from the page, pauses and resumes it there; the file is byte-identical", async () => {
    const source = join(root.path, "big.bin");
    const sha1 = await randomFile(source, 24 * MiB);
    expect((await runCli([...args(seeder), "share", source])).code).toBe(0);
    const into = join(root.path, "into");
    await mkdir(into);
    await page.fill("#download-file", sha1);
    await page.fill("#download-output", into);
    await page.click("#download-form button[type=submit]");
    const row = page.locator(`#download-list [data-sha1="${sha1}"]`);
    await row.locator("[data-state=running], :scope[data-state=running]").or(page.locator(`#download-list [data-sha1="${sha1}"][data-state=running]`)).first().waitFor({ timeout: 15_000 });
    await page.click(`#download-list [data-sha1="${sha1}"] button:text("Pause")`);
    await page.locator(`#download-list [data-sha1="${sha1}"][data-state=paused]`).waitFor({ timeout: 10_000 });
    // Paused: its partial file and record stay, and nothing more arrives.
    expect((await readdir(into)).some((name) => name.endsWith(".p2p-part"))).toBe(true);
    await page.click(`#download-list [data-sha1="${sha1}"] button:text("Resume")`);
    await page.locator(`#download-list [data-sha1="${sha1}"][data-state=done]`).waitFor({ timeout: 30_000 });
    expect(await sha1File(join(into, "big.bin"))).toBe(sha1);
    expect(pageErrors, downloader.log()).toEqual([]);
  });

  it("shows a wrong hash typed into the page with the CLI's own message and hint", async () => {
    const cli = await runCli([...args(downloader), "download", "not-a-hash"]);
    expect(cli.code).toBe(2);
    const [message, hint] = cli.stderr.trim().split("\n").map((line) => line.replace(/^p2p: /, ""));
    await page.fill("#download-file", "not-a-hash");
    await page.click("#download-form button[type=submit]");
    await page.locator("#download-error:not(:empty)").waitFor();
    expect(await page.locator("#download-error").textContent()).toBe(`${message!}\n${hint!}`);
  });

  it("drops a request naming another host, and names the setting", async () => {
    const { cookie } = await session();
    const reply = await raw("GET", "/v1/status", { Host: "evil.example:80", cookie });
    expect(reply.status).toBe(403);
    expect(reply.text).toContain("--ui-allow-host");
    expect(reply.text).not.toContain("dataDir");
  });

  it("refuses a state-changing request without the secret, without the token, or from another origin", async () => {
    const { cookie, csrf } = await session();
    const host = new URL(uiUrl).host;
    const body = JSON.stringify({ path: join(root.path, "from-cli.bin") });
    const tries = [
      { headers: { Host: host, "X-P2P-CSRF": csrf }, status: 401 },
      { headers: { Host: host, cookie: "p2p_ui_1=wrong", "X-P2P-CSRF": csrf }, status: 401 },
      { headers: { Host: host, cookie }, status: 403 },
      { headers: { Host: host, cookie, "X-P2P-CSRF": "wrong" }, status: 403 },
      { headers: { Host: host, cookie, "X-P2P-CSRF": csrf, Origin: "http://evil.example" }, status: 403 },
      { headers: { Host: host, cookie, "X-P2P-CSRF": csrf, "Sec-Fetch-Site": "cross-site" }, status: 403 },
    ];
    for (const attempt of tries) expect((await raw("POST", "/v1/shares", { ...attempt.headers, "content-type": "application/json" }, body)).status).toBe(attempt.status);
    // The same request with everything right goes through.
    expect((await raw("POST", "/v1/shares", { Host: host, cookie, "X-P2P-CSRF": csrf, Origin: uiUrl, "content-type": "application/json" }, body)).status).toBe(200);
  });

  it("serves only its fixed set of files: any other path is refused", async () => {
    const { cookie } = await session();
    for (const path of ["/../package.json", "/%2e%2e/package.json", "/app.js/../../package.json", "/static/app.js", "/index.html", "/etc/passwd", "//app.js"]) {
      const reply = await raw("GET", path, { Host: new URL(uiUrl).host, cookie });
      expect(reply.status, path).toBe(404);
      expect(reply.text).not.toContain("p2p-share");
    }
  });

  it("does not answer on any non-loopback address; a daemon with --no-ui opens no extra port", async () => {
    const port = Number(new URL(uiUrl).port);
    const addresses = Object.values(networkInterfaces()).flat().filter((a) => a !== undefined && !a.internal).map((a) => a!.address);
    for (const address of [...addresses, "127.0.80.2"]) {
      const answered = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: address, port, timeout: 1000 });
        socket.once("connect", () => (socket.destroy(), resolve(true)));
        socket.once("error", () => resolve(false));
        socket.once("timeout", () => (socket.destroy(), resolve(false)));
      });
      expect(answered, address).toBe(false);
    }
    const listening = (pid: number | undefined): string[] =>
      execFileSync("ss", ["-Hltnp"]).toString().split("\n").filter((line) => line.includes(`pid=${pid},`)).map((line) => line.trim().split(/\s+/)[3]!);
    expect(listening(downloader.child.pid).sort()).toEqual([`127.0.0.1:${port}`, `127.0.80.2:${PEER_PORT}`].sort());
    const plain = await startDaemon("127.0.80.3", join(root.path, "no-ui"), tracker.url, PEER_PORT, ["--no-ui"]);
    try {
      expect(listening(plain.child.pid)).toEqual([`127.0.80.3:${PEER_PORT}`]);
    } finally {
      await plain.stop("SIGKILL");
    }
  });

  it("fits a phone's width without sideways scrolling, with no script errors; screenshots in docs/", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: join(DOCS, "dashboard-desktop.png"), fullPage: false });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    // A string, evaluated in the page: the test's own TypeScript has no DOM types.
    const widths = await page.evaluate<{ scroll: number; body: number }>("({ scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth })");
    expect(widths.scroll).toBeLessThanOrEqual(390);
    expect(widths.body).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(DOCS, "dashboard-phone.png"), fullPage: false });
    // Readable: every piece of text has a contrast of 4.5:1 or more against what is behind it (WCAG AA).
    const contrast = await page.evaluate<{ min: number; text: string }>(CONTRAST_SCRIPT);
    expect(contrast.min, `lowest contrast: ${contrast.text}`).toBeGreaterThanOrEqual(4.5);
    // Keyboard alone: Tab, from the top of the page, reaches the download form, and Enter submits it.
    await page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)");
    let reached = false;
    for (let i = 0; i < 60 && !reached; i += 1) {
      await page.keyboard.press("Tab");
      reached = (await page.evaluate<string>("document.activeElement ? document.activeElement.id : ''")) === "download-file";
    }
    expect(reached, "Tab reaches the download field").toBe(true);
    await page.keyboard.type("still-not-a-hash");
    await page.keyboard.press("Enter");
    await page.locator("#download-error:text('still-not-a-hash')").waitFor();
    expect(pageErrors).toEqual([]);
  });
});
