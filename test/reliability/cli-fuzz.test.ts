import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../peer/cli/program.js";
import { record } from "../helpers/report.js";
import { freePort } from "../helpers/tracker.js";

/**
 * 10,000 generated command lines, run in-process against an empty data dir and a tracker that is down.
 * Every one must end in a documented exit code other than "internal error", with no stack trace. The
 * commands that serve until stopped (daemon, tracker, up) are left out: they would never return.
 */

const RUNS = Number(process.env["P2P_FUZZ_RUNS"] ?? 10_000);
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
);
const command = fc.constantFrom("share", "register", "download", "ls", "status", "unshare", "help", "bogus", "", "--version");
const argv = fc.tuple(command, fc.array(word, { maxLength: 6 })).map(([name, rest]) => [name, ...rest].filter((w, i) => i > 0 || w !== ""));

describe("generated command lines", () => {
  it(`${RUNS} command lines: a documented exit code, never an internal error`, async () => {
    const samples = fc.sample(argv, { numRuns: RUNS, seed: 4244 });
    const codes: Record<string, number> = {};
    const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
    let stderr = "";
    const started = Date.now();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const args of samples) {
        stderr = "";
        process.stdout.write = () => true;
        process.stderr.write = (chunk: string | Uint8Array) => {
          stderr += chunk.toString();
          return true;
        };
        let code: number;
        try {
          code = await runCli(["node", "p2p", "--tracker", tracker, "--data-dir", join(dir, "data"), ...args]);
        } finally {
          process.stdout.write = write.out;
          process.stderr.write = write.err;
        }
        codes[String(code)] = (codes[String(code)] ?? 0) + 1;
        expect(code, `${JSON.stringify(args)}: ${stderr}`).not.toBe(1);
        expect([0, 2, 3, 4, 5, 6, 7]).toContain(code);
        expect(stderr, JSON.stringify(args)).not.toMatch(/\n\s+at /);
      }
    } finally {
      process.chdir(cwd);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`cli fuzz: ${samples.length} command lines in ${seconds.toFixed(1)} s, exit codes ${JSON.stringify(codes)}`);
    record({ area: "bad input", tried: `${samples.length} generated command lines (seed 4244), tracker down, no daemon`, outcome: `exit codes ${JSON.stringify(codes)}; no internal error, no stack trace`, lost: "nothing", seconds });
  }, 600_000);
});
