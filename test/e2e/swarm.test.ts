import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, get, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PEER_PORT, runCli, startCli, startDaemon, type CliResult, type Daemon } from "../helpers/cli.js";
import { randomFile, tempDir } from "../helpers/files.js";
import { http, postJson } from "../helpers/http.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * Swarming on loopback: real daemons, each on its own 127.0.36.x address (127.0.37.x for fakes), a real
 * tracker, real files. Downloads served while they run, peers that finish from each other once the sharer
 * is gone, upload slots that refuse with Retry-After.
 */

const SUBNET = "127.0.36";
const MiB = 1024 * 1024;

interface Have {
  complete: boolean;
  chunks: number;
  seq?: number;
  bitfield?: string;
}

function chunksOf(have: Have): Set<number> {
  if (have.complete) return new Set(Array.from({ length: have.chunks }, (_, i) => i));
  const bytes = Buffer.from(have.bitfield ?? "", "base64");
  const out = new Set<number>();
  for (let i = 0; i < have.chunks; i++) if (((bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) out.add(i);
  return out;
}

async function haveOf(host: string, sha1: string): Promise<Have | null> {
  const reply = await http(`http://${host}:${PEER_PORT}/v1/files/${sha1}/have`).catch(() => null);
  return reply?.status === 200 ? (JSON.parse(reply.body.toString()) as Have) : null;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

function codeOf(body: Buffer): string {
  return (JSON.parse(body.toString()) as { error: { code: string } }).error.code;
}

function sha1Of(data: Buffer): string {
  return createHash("sha1").update(data).digest("hex");
}

interface DownloadReport {
  path: string;
  peers: { host: string; port: number; bytes: number; banned: boolean; source: string }[];
}

function report(result: CliResult): DownloadReport {
  if (result.code !== 0) throw new Error(`download failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as DownloadReport;
}

describe("a swarm", () => {
  let tracker: TestTracker | undefined;
  const daemons: Daemon[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop("SIGKILL")));
    await tracker?.dispose();
    tracker = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(): Promise<{ root: string; url: string }> {
    const root = await tempDir("swarm");
    cleanups.push(() => root.remove());
    tracker = await startTestTracker();
    return { root: root.path, url: tracker.url };
  }

  async function daemon(last: number, root: string, url: string, args: string[] = []): Promise<Daemon> {
    const started = await startDaemon(`${SUBNET}.${last}`, join(root, `peer${last}`), url, PEER_PORT, args);
    daemons.push(started);
    return started;
  }

  function downloadThrough(d: Daemon, url: string, sha1: string, output: string): Promise<CliResult> {
    return startCli(["--tracker", url, "--data-dir", d.dataDir, "download", sha1, "-o", output, "--json"], { timeoutMs: 120_000 }).done;
  }

  it("downloaders finish from each other once the sharer is gone, and a latecomer finishes from them", async () => {
    const { root, url } = await setUp();
    const file = join(root, "crowd.bin");
    const sha1 = await randomFile(file, 16 * MiB + 12345);
    const original = await readFile(file);
    // The sharer sends fast and the two trade slowly (their uploads at 128 KiB/s) while it is there: the
    // swarm holds every chunk well before either of them does, which is when the sharer leaves. Then their
    // limits are lifted (p2p limits) and they trade the rest.
    const sharer = await daemon(2, root, url, ["--max-upload-rate", "16M"]);
    const a = await daemon(3, root, url, ["--max-upload-rate", "128k"]);
    const b = await daemon(4, root, url, ["--max-upload-rate", "128k"]);
    expect((await runCli(["--tracker", url, "--data-dir", sharer.dataDir, "share", file])).code).toBe(0);

    // Both addresses ask the sharer something first, so that it super-seeds to both from their first `/have`
    // (it does once two clients ask within 10 s): each chunk goes to one of them, and neither can take the
    // whole file from the sharer before the swarm holds it.
    for (const d of [a, b]) expect((await http(`http://${sharer.host}:${PEER_PORT}/v1/files/${sha1}/manifest`, { localAddress: d.host })).status).toBe(200);
    const downloads = [downloadThrough(a, url, sha1, join(root, "a.bin")), downloadThrough(b, url, sha1, join(root, "b.bin"))];
    const chunkCount = Math.ceil(original.length / MiB);
    const seen: string[] = [];
    const split = await until(
      "A and B to hold every chunk between them, neither all",
      async () => {
        const [ha, hb] = await Promise.all([haveOf(a.host, sha1), haveOf(b.host, sha1)]);
        if (ha === null || hb === null) return null;
        const [ca, cb] = [chunksOf(ha), chunksOf(hb)];
        seen.push(`${ca.size}/${cb.size}/${new Set([...ca, ...cb]).size}`);
        if (ca.size === chunkCount || cb.size === chunkCount) throw new Error(`one of them got every chunk before the moment was seen: ${seen.slice(-12).join(" ")}`);
        return new Set([...ca, ...cb]).size === chunkCount ? { a: ca.size, b: cb.size } : null;
      },
      60_000,
      20,
    );
    await sharer.stop("SIGTERM");
    console.log(`sharer stopped with the chunks split ${split.a} / ${split.b} of ${chunkCount}`);
    for (const d of [a, b]) expect((await runCli(["--data-dir", d.dataDir, "limits", "--upload", "unlimited"])).code).toBe(0);
    expect(split.a).toBeLessThan(chunkCount);
    expect(split.b).toBeLessThan(chunkCount);

    const [ra, rb] = (await Promise.all(downloads)).map(report);
    expect(sha1Of(await readFile(ra!.path))).toBe(sha1);
    expect(sha1Of(await readFile(rb!.path))).toBe(sha1);
    // Each took chunks from the other.
    expect(ra!.peers.find((p) => p.host === b.host)?.bytes ?? 0).toBeGreaterThan(0);
    expect(rb!.peers.find((p) => p.host === a.host)?.bytes ?? 0).toBeGreaterThan(0);

    const c = await daemon(5, root, url);
    const rc = report(await downloadThrough(c, url, sha1, join(root, "c.bin")));
    expect(sha1Of(await readFile(rc.path))).toBe(sha1);
    // It may have heard of the sharer (from A's and B's peer exchange), but got nothing from it.
    expect(rc.peers.find((p) => p.host === sharer.host)?.bytes ?? 0).toBe(0);
    expect(rc.peers.reduce((sum, p) => sum + p.bytes, 0)).toBe(original.length);
  }, 180_000);

  it("a downloader serves each verified chunk while below 100 %, says which it lacks, and a lying incomplete peer is banned", async () => {
    const { root, url } = await setUp();
    const file = join(root, "partial.bin");
    const sha1 = await randomFile(file, 10 * MiB);
    const original = await readFile(file);
    const sharer = await daemon(2, root, url, ["--max-upload-rate", "1M"]);
    const a = await daemon(3, root, url);
    expect((await runCli(["--tracker", url, "--data-dir", sharer.dataDir, "share", file])).code).toBe(0);
    const running = downloadThrough(a, url, sha1, join(root, "a.bin"));

    const have = await until("A to have two chunks", async () => {
      const h = await haveOf(a.host, sha1);
      return h !== null && !h.complete && (h.seq ?? 0) >= 2 ? h : null;
    }, 30_000);
    const held = chunksOf(have);
    const present = [...held][0]!;
    const absent = Array.from({ length: have.chunks }, (_, i) => i).find((i) => !held.has(i))!;
    const got = await http(`http://${a.host}:${PEER_PORT}/v1/files/${sha1}/chunks/${present}`);
    expect(got.status).toBe(200);
    expect(got.body.equals(original.subarray(present * MiB, (present + 1) * MiB))).toBe(true);
    const missing = await http(`http://${a.host}:${PEER_PORT}/v1/files/${sha1}/chunks/${absent}`);
    expect(missing.status).toBe(404);
    expect(codeOf(missing.body)).toBe("chunk_missing");
    const whole = await http(`http://${a.host}:${PEER_PORT}/v1/files/${sha1}`);
    expect(codeOf(whole.body)).toBe("file_incomplete");
    // Following: the next chunk is told as soon as it is verified.
    const followed = await http(`http://${a.host}:${PEER_PORT}/v1/files/${sha1}/have?since=${have.seq}`);
    const news = JSON.parse(followed.body.toString()) as { seq: number; added: number[]; complete: boolean };
    expect(news.complete === true || news.added.length > 0).toBe(true);
    // The same as an event stream: the chunks verified after a position, as they come, on one reply.
    const since = have.seq ?? 0;
    const streamUrl = `http://${a.host}:${PEER_PORT}/v1/files/${sha1}/have?since=${since}&stream=1`;
    const streamed = await firstEvents(streamUrl, 2);
    expect(streamed.type).toBe("text/event-stream");
    const [one, two] = streamed.events.map((e) => JSON.parse(e) as { seq: number; added: number[]; complete: boolean });
    expect(one).toBeDefined();
    // A is still downloading (its sharer sends 1 MB/s): the first event lists chunks it did not have then.
    if (one!.complete !== true) {
      expect(one!.seq).toBeGreaterThan(since);
      expect(one!.added.length).toBeGreaterThan(0);
      expect(one!.added.some((i) => held.has(i))).toBe(false);
      if (two !== undefined && two.complete !== true) expect(two.seq).toBeGreaterThan(one!.seq);
    }
    // HEAD of the stream: its headers at once, no body.
    const head = await http(streamUrl, { method: "HEAD", timeoutMs: 5_000 });
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("text/event-stream");
    // The tracker lists A as a peer, incomplete, while it downloads.
    const listed = await http(`${url}/v1/files/${sha1}/peers`);
    const peers = (JSON.parse(listed.body.toString()) as { peers: { ip: string; complete: boolean }[] }).peers;
    expect(peers.find((p) => p.ip === a.host)?.complete).toBe(false);
    report(await running);

    // A peer that says it is downloading, claims every chunk and sends wrong bytes.
    const liar = await lyingPeer(`127.0.37.9`, original.length, url, sha1);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          liar.close(() => resolve());
          liar.closeAllConnections();
        }),
    );
    const d = await daemon(6, root, url);
    const rd = report(await downloadThrough(d, url, sha1, join(root, "d.bin")));
    expect(sha1Of(await readFile(rd.path))).toBe(sha1);
    expect(rd.peers.find((p) => p.host === "127.0.37.9")?.banned).toBe(true);
  }, 120_000);

  it("with more downloaders than upload slots all finish, and one refused is told when to ask again", async () => {
    const { root, url } = await setUp();
    const file = join(root, "slots.bin");
    const sha1 = await randomFile(file, 24 * MiB);
    const sharer = await daemon(2, root, url, ["--upload-slots", "1", "--max-upload-rate", "2M"]);
    expect((await runCli(["--tracker", url, "--data-dir", sharer.dataDir, "share", file])).code).toBe(0);
    const downloaders = await Promise.all([3, 4, 5].map((last) => daemon(last, root, url, ["--upload-slots", "1"])));
    const running = downloaders.map((d, i) => downloadThrough(d, url, sha1, join(root, `out${i}.bin`)));

    // Once a downloader holds the one slot, a newcomer is refused at once (it asks once: asking on and on
    // would keep the slot for itself once the holder pauses).
    await until(
      "a downloader to hold the sharer's slot",
      async () => {
        const status = await runCli(["--data-dir", sharer.dataDir, "status", "--json"]);
        const holders = (JSON.parse(status.stdout) as { daemon: { uploadSlots: { holders: { client: string }[] } } }).daemon.uploadSlots.holders;
        return holders.some((h) => downloaders.some((d) => d.host === h.client));
      },
      20_000,
    );
    const refused = await http(`http://${sharer.host}:${PEER_PORT}/v1/files/${sha1}/chunks/0`, { localAddress: `${SUBNET}.9` });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(codeOf(refused.body)).toBe("no_upload_slot");
    for (const result of await Promise.all(running)) expect(sha1Of(await readFile(report(result).path))).toBe(sha1);
  }, 120_000);
});

/** The first `count` events of an event stream (or fewer, if it ends first), and its content type. */
function firstEvents(url: string, count: number): Promise<{ type: string; events: string[] }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let text = "";
      const events = (): string[] =>
        text
          .split("\n\n")
          .slice(0, -1)
          .filter((block) => block.startsWith("data: "))
          .map((block) => block.slice(6));
      const done = (): void => {
        req.destroy();
        resolve({ type: String(res.headers["content-type"]), events: events().slice(0, count) });
      };
      res.setEncoding("utf8");
      res.on("data", (part: string) => {
        text += part;
        if (events().length >= count) done();
      });
      res.on("end", done);
    });
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error("no events within 30 s")));
  });
}

/**
 * A fake peer on `host`: announces itself as downloading, says it has every chunk, and sends random bytes of
 * the right length for each.
 */
async function lyingPeer(host: string, size: number, trackerUrl: string, sha1: string): Promise<Server> {
  const chunks = Math.ceil(size / MiB);
  const server = createServer((req, res) => {
    const path = req.url ?? "";
    if (path.includes("/have")) {
      const body = JSON.stringify({ complete: false, chunks, seq: chunks, bitfield: Buffer.alloc(Math.ceil(chunks / 8), 0xff).toString("base64"), added: [] });
      if (path.includes("since=")) {
        setTimeout(() => res.end(body), 5_000).unref();
        return;
      }
      res.end(body);
      return;
    }
    const match = /chunks\/(\d+)$/.exec(path);
    if (match === null) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const index = Number(match[1]);
    const length = Math.min(MiB, size - index * MiB);
    res.setHeader("Content-Length", length);
    res.end(Buffer.alloc(length, 0x5a));
  });
  await new Promise<void>((resolve) => server.listen(PEER_PORT, host, resolve));
  const announced = await postJson(`${trackerUrl}/v1/files/${sha1}/peers`, { peerId: "liar-peer", port: PEER_PORT, key: "liar-secret-key-0123456", left: MiB, event: "started" }, host);
  if (announced.status !== 200) throw new Error(`the liar could not announce: ${announced.status}`);
  return server;
}
