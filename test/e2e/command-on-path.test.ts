import { execFile } from "node:child_process";
import { readFile, readdir, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/files.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const run = promisify(execFile);

/**
 * The README puts `p2p` on the PATH with `npm link`: a symlink from npm's bin folder to bin/p2p.js. The
 * command must work through such a link from any folder, and no page may steer a user to `npx p2p`,
 * which outside the clone fetches and runs an unrelated registry package of that name.
 */
describe("the p2p command", () => {
  let bin: { path: string; remove: () => Promise<void> };

  beforeAll(async () => {
    bin = await tempDir("bin");
    await symlink(join(ROOT, "bin", "p2p.js"), join(bin.path, "p2p"));
  });

  afterAll(async () => {
    await bin?.remove();
  });

  it("runs through a link on the PATH, from a folder outside the clone", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    const { stdout } = await run("p2p", ["--version"], { cwd: tmpdir(), env: { ...process.env, PATH: `${bin.path}:${process.env["PATH"] ?? ""}` } });
    expect(stdout.trim()).toBe(version);
  });

  it("is never written as `npx p2p` in the README or docs/", async () => {
    const pages = ["README.md", ...(await readdir(join(ROOT, "docs"))).filter((name) => name.endsWith(".md")).map((name) => join("docs", name))];
    for (const page of pages) {
      expect(await readFile(join(ROOT, page), "utf8"), page).not.toMatch(/npx\s+p2p\b/);
    }
  });
});
