import fc from "fast-check";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlJson } from "../../peer/daemon/control-client.js";
import { runCli, startDaemon, type Daemon, PEER_PORT } from "../helpers/cli.js";
import { randomFile, tempDir } from "../helpers/files.js";
import { http } from "../helpers/http.js";
import { record } from "../helpers/report.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * Generated requests at a real daemon's dashboard port: random paths, methods, Hosts, Origins, cookies,
 * CSRF tokens and bodies. Never the right cookie together with the right token: so nothing may change (the
 * shares, the downloads, the limits), nothing may answer 5xx, and the daemon must stay up.
 */

const RUNS = Number(process.env["P2P_FUZZ_RUNS"] ?? 10_000);
const CONCURRENCY = 16;

let tracker: TestTracker;
let root: { path: string; remove: () => Promise<void> };
let daemon: Daemon;
let base: URL;
let secret: string;
let csrf: string;
let sha1: string;

beforeAll(async () => {
  tracker = await startTestTracker();
  root = await tempDir("dashboard-fuzz");
  daemon = await startDaemon("127.0.81.1", join(root.path, "d"), tracker.url, PEER_PORT, ["--ui-port", "0"]);
  const args = ["--tracker", tracker.url, "--data-dir", daemon.dataDir];
  const file = join(root.path, "kept.bin");
  sha1 = await randomFile(file, 1024 * 1024 + 5);
  expect((await runCli([...args, "share", file])).code).toBe(0);
  const ui = await runCli([...args, "ui", "--no-open"]);
  base = new URL(ui.stdout.trim());
  secret = base.searchParams.get("token")!;
  const session = await http(`${base.origin}/ui/session`, { headers: { cookie: `p2p_ui_${base.port}=${secret}` } });
  csrf = session.json<{ csrf: string }>().csrf;
}, 120_000);

afterAll(async () => {
  await daemon?.stop("SIGKILL");
  await tracker?.dispose();
  await root?.remove();
});

const segment = fc.oneof(
  fc.constantFrom("v1", "ui", "shares", "downloads", "status", "limits", "events", "session", "qr", "login", "pause", "resume", "app.js", "app.css", "index.html", "icon.svg", "..", "%2e%2e", "%00", ""),
  fc.stringMatching(/^[0-9a-f]{40}(\.svg)?$/),
  fc.string({ maxLength: 30 }),
);

const fuzzed = fc.record({
  parts: fc.array(segment, { minLength: 0, maxLength: 5 }),
  query: fc.oneof(fc.constant(""), fc.constant("token=wrong"), fc.string({ maxLength: 40 })),
  method: fc.constantFrom("GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"),
  host: fc.constantFrom("own", "own", "localhost", "127.0.0.1", "[::1]", "evil.example", "127.0.0.1.nip.io", "", "a b", "localhost:1:2"),
  origin: fc.constantFrom("none", "own", "http://evil.example", "null", "http://localhost"),
  /** The right cookie only with a wrong token, and the right token only with a wrong cookie. */
  auth: fc.constantFrom("none", "cookie-only", "cookie-wrong-token", "token-only", "wrong-cookie-right-token", "garbage-cookie"),
  site: fc.constantFrom("none", "same-origin", "cross-site", "same-site"),
  body: fc.oneof(fc.constant(undefined), fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ maxLength: 200 }), fc.constant(JSON.stringify({ path: "/etc/passwd" })), fc.constant(JSON.stringify({ file: "0".repeat(40), detach: true })), fc.constant(JSON.stringify({ uploadRate: "1k" }))),
});

/** What a request could change of the shares (not `announced` or bytes served, which move by themselves). */
async function sharesNow(): Promise<Array<{ sha1: string; path: string }>> {
  const shares = await controlJson<Array<{ sha1: string; path: string }>>(daemon.dataDir, "GET", "/v1/shares");
  return shares.map(({ sha1, path }) => ({ sha1, path }));
}

describe("the dashboard under generated requests", () => {
  it(`${RUNS} generated requests: no 5xx, no crash, nothing changed without the secret and the token`, async () => {
    const before = {
      shares: await sharesNow(),
      limits: await controlJson<unknown>(daemon.dataDir, "GET", "/v1/limits"),
    };
    const samples = fc.sample(fuzzed, { numRuns: RUNS, seed: 4244 });
    const tally: Record<string, number> = {};
    let sent = 0;
    let refusedByClient = 0;
    let next = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (next < samples.length) {
        const r = samples[next++]!;
        const path = `/${r.parts.map((p) => p.replace(/[^\x21-\x7e]|[?#]/g, (c) => encodeURIComponent(c))).join("/")}${r.query === "" ? "" : `?${r.query.replace(/[^\x21-\x7e]|#/g, (c) => encodeURIComponent(c))}`}`;
        const headers: Record<string, string> = {};
        headers["host"] = r.host === "own" ? base.host : r.host;
        if (r.origin !== "none") headers["origin"] = r.origin === "own" ? base.origin : r.origin;
        if (r.site !== "none") headers["sec-fetch-site"] = r.site;
        const cookie = `p2p_ui_${base.port}=${secret}`;
        if (r.auth === "cookie-only") headers["cookie"] = cookie;
        if (r.auth === "cookie-wrong-token") Object.assign(headers, { cookie, "x-p2p-csrf": "x" + csrf.slice(1) });
        if (r.auth === "token-only") headers["x-p2p-csrf"] = csrf;
        if (r.auth === "wrong-cookie-right-token") Object.assign(headers, { cookie: `p2p_ui_${base.port}=${secret.slice(1)}A`, "x-p2p-csrf": csrf });
        if (r.auth === "garbage-cookie") headers["cookie"] = `; =;${secret};p2p_ui_${base.port}`;
        // The live feed never ends by design: with the cookie, it is opened by the browser test, not here.
        if (headers["cookie"] === cookie && r.method === "GET" && path.startsWith("/ui/events")) continue;
        try {
          const reply = await http(`${base.origin}${path}`, { method: r.method, headers, ...(r.body === undefined || r.method === "GET" || r.method === "HEAD" ? {} : { body: r.body }), timeoutMs: 15_000 });
          sent++;
          tally[String(reply.status)] = (tally[String(reply.status)] ?? 0) + 1;
        } catch (error) {
          if (error instanceof TypeError || (error as NodeJS.ErrnoException).code?.startsWith("ERR_")) {
            refusedByClient++;
            continue;
          }
          throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(`dashboard fuzz: ${sent} sent (${refusedByClient} refused by the client) in ${Date.now() - started} ms:`, JSON.stringify(tally));
    expect(sent).toBeGreaterThanOrEqual(RUNS * 0.9);
    expect(Object.keys(tally).filter((s) => s.startsWith("5"))).toEqual([]);
    // Only refusals and the public parts (the page's files, the login page) answer 2xx/3xx.
    expect(daemon.child.exitCode).toBeNull();
    expect(await sharesNow()).toEqual(before.shares);
    expect(await controlJson<unknown>(daemon.dataDir, "GET", "/v1/limits")).toEqual(before.limits);
    expect(await controlJson<unknown[]>(daemon.dataDir, "GET", "/v1/downloads")).toEqual([]);
    expect(before.shares.map((s) => s.sha1)).toEqual([sha1]);
    record({ area: "bad input", tried: `${sent} generated requests to the dashboard port (paths, Hosts, Origins, cookies, tokens, bodies; fast-check, seed 4244)`, outcome: `no 5xx (${JSON.stringify(tally)}), nothing changed`, lost: "nothing", seconds: (Date.now() - started) / 1000 });
  }, 600_000);
});
