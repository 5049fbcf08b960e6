import fc from "fast-check";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STACK_FRAME } from "../helpers/cli.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../peer/cli/program.js";
import { record } from "../helpers/report.js";
import { freePort } from "../helpers/tracker.js";

/**
 * Generated command lines, run in-process against an empty data dir and a tracker that is down. Every one
 * must end in a documented exit code other than "internal error", with no stack trace. The commands that
 * serve until stopped (daemon, tracker, up) get their own run: a line that starts a server is stopped
 * through runCli's AbortSignal, as Ctrl-C would, and must then exit 0 and leave no signal handler behind.
 */

const RUNS = Number(process.env["P2P_FUZZ_RUNS"] ?? 10_000);
const SERVE_RUNS = Number(process.env["P2P_FUZZ_SERVE_RUNS"] ?? 3_000);
let dir: string;
let tracker: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "p2p-cli-fuzz-"));
  tracker = `http://127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const word = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.stringMatching(/^[0-9a-fA-F]{38,42}$/),
  fc.constantFrom("-o", "--output", "--force", "--no-seed", "--json", "--bind", "--port", "--host", "--tracker", "--data-dir", "-h", "--help", "--", "-", "..", "/", "/dev/null", "0", "-1", "99999"),
  fc.constantFrom("--peer", "--upload", "--download", "127.0.0.1:9", "[::1]:9", "256.1.1.1:5", "2M", "1.5k", "unlimited", "2MB", "-3k"),
  // Share links, good and bad; none names a peer or a tracker that is up, so none downloads.
  fc.constantFrom("--qr", "--wait", "1", "-0.5", "3601", "magnet:?", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a", "MAGNET:?xt=urn:sha1:"),
  fc.tuple(fc.stringMatching(/^[0-9a-fA-F]{40}$|^[A-Z2-7]{32}$/), fc.array(fc.constantFrom("&tr=file%3A%2F%2F%2Fetc%2Fpasswd", "&tr=http%3A%2F%2F127.0.0.1%3A9", "&x.pe=localhost:1", "&xl=-1", "&x.mi=zz", "&dn=", "&%zz", "&xt=urn:sha1:"), { maxLength: 3 })).map(
    ([id, rest]) => `magnet:?xt=urn:sha1:${id}${rest.join("")}`,
  ),
);
const command = fc.constantFrom("share", "register", "download", "link", "ls", "status", "unshare", "limits", "help", "bogus", "", "--version");
// A download that finds nobody waits --wait seconds (20 by default) with the tracker down: 0 here, unless a
// generated word sets another.
const argv = fc
  .tuple(command, fc.array(word, { maxLength: 6 }))
  .map(([name, rest]) => (name === "download" ? [name, "--wait", "0", ...rest] : [name, ...rest]).filter((w, i) => i > 0 || w !== ""));

/** Words for the serving commands: their options, good and bad values, and noise. */
const serveWord = fc.oneof(
  // Paths stay inside the test's folder: a leading "/" becomes "./".
  fc.string({ maxLength: 12 }).map((w) => (w.startsWith("/") ? `.${w}` : w)),
  fc.constantFrom("--host", "--port", "--announce-host", "--persist-to", "--var", "--tracker", "--json", "-h", "--", "-"),
  fc.constantFrom("--max-upload-rate", "--max-download-rate", "--upload-slots", "2M", "0", "unlimited", "1.5x"),
  fc.constantFrom("0.0.0.0", "127.0.0.1", "::1", "::", "localhost", "example.invalid", "127.0.0.300", "0", "1", "65535", "65536", "-1", "8787x", "ANNOUNCE_INTERVAL_SECONDS=10", "X=", "=", ".", "state"),
);
const serveCommand = fc.constantFrom("daemon", "daemon", "daemon", "daemon", "daemon", "daemon", "tracker", "up");
const serveArgv = fc.tuple(serveCommand, fc.array(serveWord, { maxLength: 5 })).map(([name, rest]) => [name, ...rest]);
const READY = /p2p: (daemon ready|tracker ready|tracker at )/;

interface Captured {
  stderr: string;
  restore(): void;
}

/** Sends the CLI's stdout nowhere and keeps its stderr, until restore(). */
function capture(): Captured {
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  const captured: Captured = {
    stderr: "",
    restore: () => {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    },
  };
  process.stdout.write = () => true;
  process.stderr.write = (chunk: string | Uint8Array) => {
    captured.stderr += chunk.toString();
    return true;
  };
  return captured;
}

/** Runs one line; if it starts serving, stops it. Returns its exit code and whether it served. */
async function runServing(args: string[], dataDir: string): Promise<{ code: number; served: boolean; stderr: string }> {
  const stop = new AbortController();
  const out = capture();
  try {
    const run = runCli(["node", "p2p", "--tracker", tracker, "--data-dir", dataDir, ...args], stop.signal);
    let served = false;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const finished = await Promise.race([run.then((code) => ({ code })), new Promise<null>((done) => setTimeout(() => done(null), 5))]);
      if (finished !== null) return { code: finished.code, served, stderr: out.stderr };
      if (!served && READY.test(out.stderr)) {
        served = true;
        stop.abort();
      }
      if (Date.now() > deadline) throw new Error(`${JSON.stringify(args)} neither served nor ended in 90 s: ${out.stderr}`);
    }
  } finally {
    out.restore();
  }
}

describe("generated command lines", () => {
  it(`${SERVE_RUNS} lines for the serving commands: exit 2 for bad input, a clean exit 0 when stopped`, async () => {
    const samples = fc.sample(serveArgv, { numRuns: SERVE_RUNS, seed: 4245 });
    const codes: Record<string, number> = {};
    const servedBy: Record<string, number> = {};
    const example: Record<string, string> = {};
    const signalHandlers = process.listenerCount("SIGTERM") + process.listenerCount("SIGINT");
    const started = Date.now();
    const cwd = process.cwd();
    // Relative paths in the lines must land in the test's folder, never in the project (wrangler runs there,
    // and keeps only its own scratch folder, .wrangler, in it).
    const projectFolder = async (): Promise<string[]> => (await readdir(cwd)).filter((name) => name !== ".wrangler").sort();
    const projectEntries = await projectFolder();
    process.chdir(dir);
    try {
      for (const [i, args] of samples.entries()) {
        const { code, served, stderr } = await runServing(args, join(dir, `serve-${i % 4}`));
        const name = args[0] ?? "";
        codes[String(code)] = (codes[String(code)] ?? 0) + 1;
        example[String(code)] ??= `${JSON.stringify(args)}: ${stderr.split("\n").find((line) => line.startsWith("p2p:")) ?? ""}`;
        if (served) servedBy[name] = (servedBy[name] ?? 0) + 1;
        expect(code, `${JSON.stringify(args)}: ${stderr}`).not.toBe(1);
        expect([0, 2, 3, 4, 5, 6, 7], `${JSON.stringify(args)}: ${stderr}`).toContain(code);
        if (served) expect(code, `${JSON.stringify(args)} stopped: ${stderr}`).toBe(0);
        expect(stderr, JSON.stringify(args)).not.toMatch(STACK_FRAME);
        expect(process.listenerCount("SIGTERM") + process.listenerCount("SIGINT"), JSON.stringify(args)).toBe(signalHandlers);
      }
    } finally {
      process.chdir(cwd);
    }
    expect(await projectFolder(), "nothing written into the project folder").toEqual(projectEntries);
    const seconds = (Date.now() - started) / 1000;
    const servedText = Object.entries(servedBy).map(([name, n]) => `${name} ${n}`).join(", ");
    console.log(`serving-command fuzz: ${samples.length} lines in ${seconds.toFixed(1)} s, exit codes ${JSON.stringify(codes)}, served and stopped: ${servedText}`);
    for (const [code, line] of Object.entries(example)) console.log(`  first line to exit ${code}: ${line}`);
    expect(servedBy["daemon"] ?? 0, "some lines must be valid enough to serve").toBeGreaterThan(0);
    record({
      area: "bad input",
      tried: `${samples.length} generated lines for daemon, tracker and up (seed 4245), tracker down`,
      outcome: `exit codes ${JSON.stringify(codes)}; ${servedText} started, were stopped and exited 0; no internal error, no stack trace, no handler left`,
      lost: "nothing",
      seconds,
    });
  }, 1_200_000);


  it(`${RUNS} command lines: a documented exit code, never an internal error`, async () => {
    const samples = fc.sample(argv, { numRuns: RUNS, seed: 4244 });
    const codes: Record<string, number> = {};
    const started = Date.now();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const args of samples) {
        const out = capture();
        let code: number;
        try {
          code = await runCli(["node", "p2p", "--tracker", tracker, "--data-dir", join(dir, "data"), ...args]);
        } finally {
          out.restore();
        }
        const stderr = out.stderr;
        codes[String(code)] = (codes[String(code)] ?? 0) + 1;
        expect(code, `${JSON.stringify(args)}: ${stderr}`).not.toBe(1);
        expect([0, 2, 3, 4, 5, 6, 7]).toContain(code);
        expect(stderr, JSON.stringify(args)).not.toMatch(STACK_FRAME);
      }
    } finally {
      process.chdir(cwd);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`cli fuzz: ${samples.length} command lines in ${seconds.toFixed(1)} s, exit codes ${JSON.stringify(codes)}`);
    record({ area: "bad input", tried: `${samples.length} generated command lines (seed 4244), tracker down, no daemon`, outcome: `exit codes ${JSON.stringify(codes)}; no internal error, no stack trace`, lost: "nothing", seconds });
  }, 600_000);
});
