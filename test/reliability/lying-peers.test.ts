import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { DEFAULT_SCHEDULER_OPTIONS } from "../../peer/download/scheduler.js";
import { record } from "../helpers/report.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDaemon, PEER_PORT, STACK_FRAME } from "../helpers/cli.js";
import { randomFile, sha1File } from "../helpers/files.js";
import { announceAs, manifestFrom, startSwarm, type Swarm } from "../helpers/swarm.js";

/**
 * Peers that lie, stall or break, as small real TCP servers announced to the real tracker beside honest
 * daemons. The download must come out byte-identical from the honest ones, within a time bound, with the
 * liars banned; with no honest peer it must fail cleanly and keep its state.
 */

const MiB = 1024 * 1024;
const SIZE = 128 * MiB;
type Behaviour = (socket: Socket, index: number) => void;

const head = (length: number | null): string =>
  `HTTP/1.1 200 OK\r\n${length === null ? "" : `Content-Length: ${length}\r\n`}Connection: keep-alive\r\n\r\n`;

let swarm: Swarm;
let sha1: string;
let source: string;
let honestManifest: Buffer;
let otherFile: Buffer;
const servers: Server[] = [];
const timers = new Set<NodeJS.Timeout>();

/**
 * A peer that answers its manifest route with `manifest`, its `/have` as a complete peer would (so that
 * downloaders ask it for chunks), and every other request with `behaviour`.
 */
async function liar(host: string, behaviour: Behaviour, manifest: Buffer = honestManifest): Promise<void> {
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    let pending = "";
    socket.on("data", (data) => {
      pending += data.toString("latin1");
      while (pending.includes("\r\n\r\n")) {
        const request = pending.slice(0, pending.indexOf("\r\n\r\n"));
        pending = pending.slice(pending.indexOf("\r\n\r\n") + 4);
        const path = request.split(" ")[1] ?? "";
        if (path.endsWith("/manifest")) socket.write(Buffer.concat([Buffer.from(head(manifest.length)), manifest]));
        else if (path.includes("/have")) {
          const have = Buffer.from(JSON.stringify({ complete: true, chunks: Math.ceil(SIZE / MiB) }));
          socket.write(Buffer.concat([Buffer.from(head(have.length)), have]));
        } else behaviour(socket, Number(path.split("/").pop()));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(PEER_PORT, host, () => resolve()));
  servers.push(server);
}

const behaviours: Record<string, Behaviour> = {
  "too short": (s) => s.write(head(MiB - 10) + "x".repeat(MiB - 10)),
  "too long": (s) => s.write(head(MiB + 10) + "x".repeat(MiB + 10)),
  "another file's bytes": (s, i) => s.write(Buffer.concat([Buffer.from(head(MiB)), otherFile.subarray(i * MiB, (i + 1) * MiB)])),
  random: (s) => s.write(Buffer.concat([Buffer.from(head(MiB)), randomBytes(MiB)])),
  "never ends": (s) => {
    s.write(head(null));
    const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write(randomBytes(64 * 1024))), 5);
    timers.add(timer);
  },
  "trickles a byte a second": (s) => {
    s.write(head(MiB));
    const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write("x")), 1000);
    timers.add(timer);
  },
  "resets mid-chunk": (s) => {
    s.write(head(MiB) + "x".repeat(MiB / 2), () => s.resetAndDestroy());
  },
  "says nothing": () => undefined,
};
const dataLiars = ["too short", "too long", "another file's bytes", "random", "never ends"];

beforeAll(async () => {
  swarm = await startSwarm("127.0.20");
  source = join(swarm.root, "target.bin");
  // Large enough that every liar is asked for chunks before the honest daemons are done.
  sha1 = await randomFile(source, SIZE);
  otherFile = randomBytes(SIZE);
  // Only two honest daemons: the third is stopped, so that the liars are half the swarm or more.
  await swarm.daemons[2]!.stop("SIGKILL");
  for (const daemon of swarm.daemons.slice(0, 2)) {
    const result = await runCli(["--tracker", swarm.tracker.url, "--data-dir", daemon.dataDir, "share", source]);
    if (result.code !== 0) throw new Error(result.stderr);
  }
  honestManifest = await manifestFrom(swarm.daemons[0]!.host, sha1);
}, 120_000);

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await swarm?.close();
});

interface Report {
  peers: Array<{ host: string; bytes: number; strikes: number; banned: boolean }>;
}

describe("lying and broken peers", () => {
  it("the download completes from the honest peers, within a time bound, with the liars banned", async () => {
    const names = Object.keys(behaviours);
    const hostOf = new Map<string, string>();
    for (const [i, name] of names.entries()) {
      const host = `127.0.20.${10 + i}`;
      hostOf.set(name, host);
      await liar(host, behaviours[name]!);
      await announceAs(swarm.tracker.url, sha1, host, PEER_PORT, `liar-${i}`);
    }
    // And one whose manifest describes other chunks than the tracker recorded.
    const forged = JSON.parse(honestManifest.toString()) as { chunks: string[] };
    forged.chunks[0] = "0".repeat(64);
    await liar("127.0.20.30", behaviours["random"]!, Buffer.from(JSON.stringify(forged)));
    await announceAs(swarm.tracker.url, sha1, "127.0.20.30", PEER_PORT, "liar-manifest");

    const output = join(swarm.root, "from-liars.bin");
    const result = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--bind", swarm.downloaderHost, "--json", "--no-seed"], { timeoutMs: 90_000 });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.ms).toBeLessThan(60_000);
    expect(await sha1File(output)).toBe(sha1);
    expect(Buffer.compare(await readFile(output), await readFile(source))).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    // Every liar was banned at its first lie and gave nothing: it never got past its first window of
    // requests (two), each of which may have come back as a lie before the ban.
    for (const name of dataLiars) {
      const peer = report.peers.find((p) => p.host === hostOf.get(name));
      expect(peer, name).toBeDefined();
      expect(peer!.bytes, name).toBe(0);
      expect(peer!.strikes, name).toBeGreaterThanOrEqual(1);
      expect(peer!.strikes, name).toBeLessThanOrEqual(DEFAULT_SCHEDULER_OPTIONS.initialWindow);
      expect(peer!.banned, name).toBe(true);
    }
    // The forged manifest is never used; its peer, asked for chunks like any other, is banned at its first lie.
    expect(report.peers.find((p) => p.host === "127.0.20.30"), "forged manifest").toMatchObject({ bytes: 0, banned: true });
    for (const name of names) expect(report.peers.find((p) => p.host === hostOf.get(name))?.bytes ?? 0, name).toBe(0);
    expect(report.peers.filter((p) => p.bytes > 0).map((p) => p.host).sort()).toEqual(swarm.daemons.slice(0, 2).map((d) => d.host).sort());
    record({
      area: "lying peers",
      tried: `${names.length + 1} bad peers (${names.join(", ")}, a forged manifest) beside 2 honest daemons, 128 MiB`,
      outcome: `byte-identical; ${report.peers.filter((p) => p.banned).length} liars banned at their first lie, ${report.peers.filter((p) => !p.banned && p.bytes === 0).length} stalling or broken peers dropped, 0 bytes from any bad peer`,
      lost: "nothing",
      seconds: result.ms / 1000,
    });
  }, 120_000);

  it("with no honest peer it fails cleanly, keeps its state, and a later run with an honest peer finishes", async () => {
    for (const daemon of swarm.daemons.slice(0, 2)) await daemon.stop("SIGKILL");
    // The dead daemons' entries are still on the tracker (they never said stopped): connections refused.
    const output = join(swarm.root, "no-honest.bin");
    const failed = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--bind", swarm.downloaderHost, "--no-seed"], { timeoutMs: 90_000 });
    expect(failed.code === 4 || failed.code === 5, `exit ${failed.code}: ${failed.stderr}`).toBe(true);
    expect(failed.stderr).toMatch(/no peer is left|every peer that offered/);
    expect(failed.stderr).not.toMatch(STACK_FRAME);
    expect(failed.ms).toBeLessThan(60_000);
    await expect(readFile(output)).rejects.toThrow();
    expect(existsSync(join(swarm.downloaderDir, "downloads", `${sha1}.json`)), "the download's state is kept").toBe(true);

    const back = await startDaemon(swarm.daemons[0]!.host, swarm.daemons[0]!.dataDir, swarm.tracker.url);
    swarm.daemons[0] = back;
    const finished = await runCli([...swarm.downloaderArgs, "download", sha1, "-o", output, "--bind", swarm.downloaderHost, "--no-seed", "--json"], { timeoutMs: 90_000 });
    expect(finished.code, finished.stderr).toBe(0);
    expect(await sha1File(output)).toBe(sha1);
    record({
      area: "lying peers",
      tried: "only liars and dead daemons left",
      outcome: `exit ${failed.code} in ${(failed.ms / 1000).toFixed(1)} s, state kept; a later run with an honest peer byte-identical`,
      lost: "nothing",
      seconds: (failed.ms + finished.ms) / 1000,
    });
  }, 180_000);
});
