import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readdir, rename, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { record } from "../helpers/report.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { socketPath } from "../../peer/daemon/control-client.js";
import { canonicalBytes, type Manifest } from "../../peer/manifest/manifest.js";
import { runCli, PEER_PORT } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { http, postJson } from "../helpers/http.js";
import { useSwarm, type Swarm } from "../helpers/swarm.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

const MiB = 1024 * 1024;
let swarm: Swarm;

useSwarm("127.0.22", (s) => (swarm = s));

describe("the daemon's boundaries", () => {
  it("listens on the network only on its public port; the control API is a 0600 socket in a 0700 folder", async () => {
    const daemon = swarm.daemons[0]!;
    const listening = execFileSync("ss", ["-Hltnp"]).toString().split("\n").filter((line) => line.includes(`pid=${daemon.child.pid},`));
    expect(listening.map((line) => line.trim().split(/\s+/)[3])).toEqual([`${daemon.host}:${PEER_PORT}`]);
    const socket = await stat(socketPath(daemon.dataDir));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect((await stat(daemon.dataDir)).mode & 0o777).toBe(0o700);
    record({ area: "security", tried: "what a daemon listens on", outcome: "only its public port; control API a 0600 Unix socket in a 0700 folder", lost: "nothing", seconds: 0 });
  });

  it("does not follow a shared file swapped for a symlink to another file after sharing", async () => {
    const daemon = swarm.daemons[0]!;
    const args = ["--tracker", swarm.tracker.url, "--data-dir", daemon.dataDir];
    const shared = join(swarm.root, "innocent.bin");
    const sha1 = await randomFile(shared, 2 * MiB);
    const secret = join(swarm.root, "secret.txt");
    await writeFile(secret, "the daemon must never serve this".padEnd(2 * MiB, "!"));
    expect((await runCli([...args, "share", shared])).code).toBe(0);
    await rename(shared, `${shared}.moved`);
    await symlink(secret, shared);
    for (const path of [`/v1/files/${sha1}`, `/v1/files/${sha1}/chunks/0`]) {
      const res = await http(`http://${daemon.host}:${PEER_PORT}${path}`);
      expect(res.status).toBe(410);
      expect(res.body.toString()).not.toContain("never serve this");
    }
    record({ area: "security", tried: "shared file replaced by a symlink to a secret", outcome: "410 for file and chunk, secret never served", lost: "nothing", seconds: 0 });
  });

  it("reads nothing outside the shares by any URL", async () => {
    const host = `http://${swarm.daemons[1]!.host}:${PEER_PORT}`;
    for (const path of ["/etc/passwd", "/v1/files/../../etc/passwd", "/v1/files/%2F..%2F..%2Fetc%2Fpasswd", `/v1/files/${"a".repeat(40)}/../../../etc/passwd`, "/..%5c..%5cetc/passwd"]) {
      const res = await http(`${host}${path}`);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.body.toString()).not.toContain("root:");
    }
  });
});

describe("a manifest with a hostile name", () => {
  let fake: Server | undefined;

  afterAll(async () => {
    await new Promise((resolve) => (fake ? fake.close(resolve) : resolve(undefined)));
  });

  it.each([
    ["a relative escape", "../../escaped.bin", "escaped.bin"],
    ["an absolute path", "/etc/cron.d/evil", "evil"],
    ["NUL and control characters", "nul\u0000and\u0007bell\nnewline.bin", "nulandbellnewline.bin"],
    ["10,000 characters", "x".repeat(10_000), "x".repeat(200)],
  ])("%s is saved under a safe name inside the chosen folder", async (_label, hostile, expected) => {
    const bytes = Buffer.from(`content for ${hostile.slice(0, 20)}`);
    const sha1 = createHash("sha1").update(bytes).digest("hex");
    const manifest: Manifest = { version: 1, name: hostile, size: bytes.length, chunkSize: MiB, sha1, chunks: [createHash("sha256").update(bytes).digest("hex")] };
    const body = canonicalBytes(manifest);
    await new Promise((resolve) => (fake ? fake.close(resolve) : resolve(undefined)));
    fake = createServer((req, res) => {
      if (req.url?.endsWith("/manifest")) res.end(body);
      else res.end(bytes);
    });
    const host = `${swarm.subnet}.40`;
    await new Promise<void>((resolve) => fake!.listen(PEER_PORT, host, () => resolve()));
    const announce = await postJson(
      `${swarm.tracker.url}/v1/files/${sha1}/peers`,
      { peerId: `hostile-${sha1.slice(0, 8)}`, port: PEER_PORT, key: "hostile-key-0123456789", left: 0, file: { name: hostile.slice(0, 1000).replace(/[\u0000-\u001f]/g, "_"), size: bytes.length, chunkSize: MiB, manifestId: createHash("sha256").update(body).digest("hex") } },
      host,
    );
    expect(announce.status).toBe(200);
    const folder = join(swarm.root, `landing-${sha1.slice(0, 8)}`);
    await import("node:fs/promises").then((fs) => fs.mkdir(folder));
    const result = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", folder, "--bind", swarm.downloaderHost, "--no-seed", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const saved = (JSON.parse(result.stdout) as { path: string }).path;
    expect(saved).toBe(join(folder, expected));
    expect(await readdir(folder)).toEqual([expected]);
    expect(await sha1File(saved)).toBe(sha1);
    record({ area: "security", tried: `manifest name: ${_label}`, outcome: `saved as ${JSON.stringify(expected.slice(0, 24))}${expected.length > 24 ? "..." : ""} in the chosen folder`, lost: "nothing", seconds: result.ms / 1000 });
  });
});

describe("the tracker's limits", () => {
  let tracker: TestTracker;

  beforeAll(async () => {
    tracker = await startTestTracker({ RATE_LIMIT_PER_MINUTE: "40", MAX_PEERS_PER_ADDRESS: "4" });
  });

  afterAll(async () => {
    await tracker?.dispose();
  });

  const file = "c".repeat(40);
  const announce = (peerId: string, host: string, key = `${peerId}-key-0123456789`) =>
    postJson(`${tracker.url}/v1/files/${file}/peers`, { peerId, port: PEER_PORT, key, left: 0 }, host);

  it("lets a few peers behind one address in, but not one address fill a swarm", async () => {
    for (let i = 0; i < 4; i++) expect((await announce(`nat-${i}`, "127.0.23.2")).status).toBe(200);
    const fifth = await announce("nat-4", "127.0.23.2");
    expect(fifth.status).toBe(429);
    expect(fifth.json()).toMatchObject({ error: { code: "address_limit" } });
    expect((await announce("elsewhere", "127.0.23.3")).status).toBe(200);
  });

  it("changes an entry only with its key", async () => {
    expect((await announce("nat-0", "127.0.23.9", "someone-else-s-key-000")).status).toBe(403);
    const peers = (await http(`${tracker.url}/v1/files/${file}/peers`)).json<{ peers: Array<{ peerId: string; ip: string }> }>().peers;
    expect(peers.find((p) => p.peerId === "nat-0")?.ip).toBe("127.0.23.2");
  });

  it("answers 429 with Retry-After to an address past its rate, and not to others", async () => {
    let limited = null;
    for (let i = 0; i < 60 && limited === null; i++) {
      const res = await http(`${tracker.url}/v1/health`, { localAddress: "127.0.23.4" });
      if (res.status === 429) limited = res;
    }
    expect(limited?.json()).toMatchObject({ error: { code: "rate_limited" } });
    expect(Number(limited?.headers["retry-after"])).toBeGreaterThan(0);
    expect((await http(`${tracker.url}/v1/health`, { localAddress: "127.0.23.5" })).status).toBe(200);
    record({ area: "security", tried: "tracker: 5 entries from one address (cap 4), a foreign key, a flood from one address", outcome: "429 address_limit, 403 key_mismatch, 429 rate_limited with Retry-After; other addresses unaffected", lost: "nothing", seconds: 0 });
  });
});
