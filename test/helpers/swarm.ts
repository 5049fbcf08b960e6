import { afterAll, beforeAll } from "vitest";
import { join } from "node:path";
import { http, postJson } from "./http.js";
import { startDaemon, type Daemon, PEER_PORT } from "./cli.js";
import { tempDir } from "./files.js";
import { startTestTracker, type TestTracker } from "./tracker.js";

/**
 * A whole local network for a test: the tracker in workerd and three daemons on <subnet>.2, .3 and .4, each
 * on PEER_PORT (cli.ts) with its own data dir; the downloader uses <subnet>.5. Each test file takes its own subnet
 * of 127.0.0.0/8, so that files can run side by side.
 */
export interface Swarm {
  tracker: TestTracker;
  daemons: Daemon[];
  root: string;
  subnet: string;
  downloaderHost: string;
  downloaderDir: string;
  /** Args every CLI call of the downloader takes. */
  downloaderArgs: string[];
  shareEverywhere(path: string): Promise<void>;
  close(): Promise<void>;
}

export async function startSwarm(subnet: string, trackerVars: Record<string, string> = {}): Promise<Swarm> {
  const root = await tempDir("swarm");
  const tracker = await startTestTracker(trackerVars);
  const daemons: Daemon[] = [];
  try {
    for (const last of [2, 3, 4]) daemons.push(await startDaemon(`${subnet}.${last}`, join(root.path, `peer${last}`), tracker.url));
  } catch (error) {
    await Promise.all(daemons.map((d) => d.stop("SIGKILL")));
    await tracker.dispose();
    throw error;
  }
  const downloaderDir = join(root.path, "downloader");
  const swarm: Swarm = {
    tracker,
    daemons,
    root: root.path,
    subnet,
    downloaderHost: `${subnet}.5`,
    downloaderDir,
    downloaderArgs: ["--tracker", tracker.url, "--data-dir", downloaderDir],
    async shareEverywhere(path: string) {
      const { runCli } = await import("./cli.js");
      for (const daemon of daemons) {
        const result = await runCli(["--tracker", tracker.url, "--data-dir", daemon.dataDir, "share", path]);
        if (result.code !== 0) throw new Error(`share on ${daemon.host} failed: ${result.stderr}`);
      }
    },
    async close() {
      await Promise.all(daemons.map((d) => d.stop("SIGKILL")));
      // The tracker a test put in place (a restarted one) is the one to stop, not the first.
      await Promise.all([tracker.dispose(), swarm.tracker.dispose()]);
      await root.remove();
    },
  };
  return swarm;
}

/** Announces an address to the tracker as if it were a peer that has the whole file. */
export async function announceAs(trackerUrl: string, sha1: string, host: string, port: number, peerId: string): Promise<void> {
  const reply = await postJson(`${trackerUrl}/v1/files/${sha1}/peers`, { peerId, port, key: `${peerId}-secret-key-0123`, left: 0, event: "started" }, host);
  if (reply.status !== 200) throw new Error(`announce as ${host} failed: ${reply.status} ${reply.body.toString()}`);
}

export async function manifestFrom(host: string, sha1: string): Promise<Buffer> {
  const reply = await http(`http://${host}:${PEER_PORT}/v1/files/${sha1}/manifest`);
  if (reply.status !== 200) throw new Error(`no manifest from ${host}`);
  return reply.body;
}

/**
 * Starts a swarm before a test file's tests and closes it after them; `set` receives it (a test file keeps
 * it in its own `let swarm`).
 */
export function useSwarm(subnet: string, set: (swarm: Swarm) => void): void {
  let started: Swarm | undefined;
  beforeAll(async () => {
    started = await startSwarm(subnet);
    set(started);
  });
  afterAll(async () => {
    await started?.close();
  });
}
