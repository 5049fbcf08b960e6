// Shared helpers of the benchmark scripts: install the bench's own tools, run processes, print tables.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = dirname(fileURLToPath(import.meta.url));

// Benchmarks send nothing beyond this machine: no DHT (its default bootstrap nodes are public hosts), no LAN
// multicast, no port mapping requests to the router, in every daemon and CLI they start.
process.env.P2P_DHT = "off";
process.env.P2P_LAN_DISCOVERY = "off";
// Nor a dashboard port (5002): many daemons run at once.
process.env.P2P_UI = "off";
process.env.P2P_PORT_MAPPING = "off";
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

/** Installs Debian packages a benchmark's reference run needs, if their command is missing. */
export function ensureDebianTools(tools) {
  const missing = Object.entries(tools).filter(([command]) => {
    try {
      execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  execFileSync("sh", ["-c", `apt-get update -qq && apt-get install -y -qq ${missing.map(([, pkg]) => pkg).join(" ")}`], { stdio: "inherit" });
}

/** Runs a command under GNU time: wall seconds and peak resident memory (MiB). */
export function timed(command, args, options = {}) {
  const result = spawnSync("/usr/bin/time", ["-f", "__TIME__ %e %M", command, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  const match = /__TIME__ ([\d.]+) (\d+)/.exec(result.stderr ?? "");
  if (result.status !== 0 || match === null) throw new Error(`${command} failed (${result.status}): ${result.stderr}`);
  return { seconds: Number(match[1]), peakMiB: Number(match[2]) / 1024, stdout: result.stdout };
}

/** A file of random bytes, made once and kept for later runs; read once so that it is in the page cache. */
export function benchFile(dir, size) {
  const path = join(dir, `random-${size}.bin`);
  if (!existsSync(path) || statSync(path).size !== size) {
    execFileSync("sh", ["-c", `head -c ${size} /dev/urandom > '${path}'`]);
  }
  execFileSync("sh", ["-c", `cat '${path}' > /dev/null`]);
  return path;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export const MB = 1e6;
export const GiB = 1024 * 1024 * 1024;
