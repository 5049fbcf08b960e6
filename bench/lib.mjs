// Shared helpers of the benchmark scripts: install the bench's own tools, run processes, print tables.
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const rootDir = dirname(benchDir);

/** The bench's load generators and reference servers live in bench/package.json, apart from the project's. */
export function ensureBenchDeps() {
  if (existsSync(join(benchDir, "node_modules", "autocannon"))) return;
  execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: benchDir, stdio: "inherit" });
}

/** Starts a process and resolves once it prints `readyText` on stdout. */
export function startProcess(command, args, readyText, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"], ...options });
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${command} not ready in 60 s`)), 60_000);
    child.stdout.on("data", (data) => {
      seen += data.toString();
      if (seen.includes(readyText)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("exit", (code) => reject(new Error(`${command} exited with ${code}`)));
  });
}

export function printTable(title, rows) {
  const headers = Object.keys(rows[0]);
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  console.log(`\n${title}\n`);
  console.log(line(headers));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(headers.map((h) => row[h])));
}

export function hex(bytes) {
  return Buffer.from(bytes).toString("hex");
}
