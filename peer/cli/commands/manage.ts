import type { Command } from "commander";
import { hostPort } from "../../../common/ip.js";
import type { PortMappingStatus } from "../../reach/port-mapping.js";
import { readdir } from "node:fs/promises";
import { controlJson, daemonRunning } from "../../daemon/control-client.js";
import { loadIdentity } from "../../daemon/identity.js";
import { Errors } from "../../errors.js";
import { shareIsIntact } from "../../server/share-file.js";
import { downloadsDir, loadDownload } from "../../state/download-state.js";
import { ShareRegistry } from "../../state/share-registry.js";
import { TrackerClient } from "../../tracker-client/tracker-client.js";
import { sha1Argument } from "../options.js";
import { globals, printJson } from "../context.js";
import { formatBytes } from "../progress.js";
import type { TrackerHealth } from "../../daemon/announcer.js";
import type { LimitsView } from "../../net/transfer-limits.js";
import { limitsLine } from "./limits.js";

/** ls, status and unshare: they work with a running daemon or, without one, on the data dir directly. */

interface ShareLine {
  sha1: string;
  name: string;
  path: string;
  size: number;
  intact: boolean;
  announced?: boolean;
}

async function listShares(dataDir: string): Promise<ShareLine[]> {
  if (await daemonRunning(dataDir)) return controlJson<ShareLine[]>(dataDir, "GET", "/v1/shares");
  const registry = await ShareRegistry.open(dataDir);
  return Promise.all(
    registry.list().map(async (s) => ({ sha1: s.sha1, name: s.manifest.name, path: s.path, size: s.size, intact: await shareIsIntact(s) })),
  );
}

/** A source other than a tracker, as the daemon's status reports it. */
interface SourceLine {
  name: string;
  ok: boolean | null;
  detail: string;
  peersGiven: number;
}

function peersGiven(n: number | undefined): string {
  return n === undefined ? "" : `; gave ${n} ${n === 1 ? "peer" : "peers"}`;
}

/** One line per tracker: `tracker:   URL  ok, last announce ...` or its last error, and how many peers it gave. */
function trackerLines(health: ReadonlyArray<TrackerHealth & { peersGiven?: number }>, daemonRuns: boolean): string[] {
  return health.map((h, i) => {
    const label = (i === 0 ? (health.length === 1 ? "tracker:" : "trackers:") : "").padEnd(11);
    // A dual-stack daemon announces to a tracker once per address family: one line each.
    const t = h.family === undefined ? h : { ...h, url: `${h.url} (IPv${h.family})` };
    if (!daemonRuns) return `${label}${t.url}`;
    if (t.ok === null) return `${label}${t.url}  no announce yet${peersGiven(t.peersGiven)}`;
    if (t.ok) return `${label}${t.url}  ok, last announce ${t.lastAnnounceAt ?? "?"}${seenAs(t.seenAs)}${peersGiven(t.peersGiven)}`;
    const worked = t.lastSuccessAt === null ? "never worked" : `last worked ${t.lastSuccessAt}`;
    return `${label}${t.url}  FAILING at ${t.lastAnnounceAt ?? "?"} (${worked}): ${t.lastError ?? "?"}${peersGiven(t.peersGiven)}`;
  });
}

/** How the tracker recorded this daemon, and whether its dial-back reached it. */
function seenAs(you: TrackerHealth["seenAs"]): string {
  if (you === undefined) return "";
  const verdict = you.reachable === null ? "reachability not checked yet" : you.reachable ? "reachable from outside" : "NOT reachable from outside";
  return `; lists this daemon as ${hostPort(you.ip, you.port)}, ${verdict}`;
}

/** What `status` says of the daemon's rendezvous sockets and relay (peer/daemon/connectivity.ts). */
interface ConnectView {
  rendezvous: { tracker: string; state: string; orders: Record<string, number>; lastError: string | null }[];
  relay: { pairs: number; pairsTotal: number; bytes: number; refused: number; offered: { url: string; reachable: boolean | null; lastError: string | null }[] } | null;
}

function connectLines(view: ConnectView): string[] {
  const lines = view.rendezvous.map((r) => {
    const orders = Object.entries(r.orders).map(([type, n]) => `${type} ${n}`).join(", ");
    return `rendezvous: ${r.tracker} ${r.state.toUpperCase()} (peers ask through it to connect: ${orders})${r.lastError === null ? "" : `; last error: ${r.lastError}`}`;
  });
  if (view.relay !== null) {
    const { pairs, pairsTotal, bytes, refused, offered } = view.relay;
    const where = offered.map((o) => `${o.url} ${o.reachable === true ? "(listed)" : o.reachable === false ? "(NOT reachable: not listed)" : "(not checked yet)"}${o.lastError === null ? "" : ` error: ${o.lastError}`}`).join(", ");
    lines.push(`relay:     on, ${pairs} pairs now, ${pairsTotal} in all, ${formatBytes(bytes)} carried, ${refused} refused; offered to ${where === "" ? "no tracker" : where}`);
  }
  return lines;
}

/** The home router's port mapping, for `p2p status`. */
function mappingLine(m: PortMappingStatus): string {
  if (m.state === "off") return `off: ${m.detail}`;
  if (m.state === "searching") return "searching for a router";
  if (m.state === "none") return `none: ${m.detail}`;
  const lease = m.lifetimeSeconds === 0 ? "permanent" : `lease ${m.lifetimeSeconds ?? "?"} s, until ${m.expiresAt ?? "?"}`;
  const renewals = `${m.renewals} ${m.renewals === 1 ? "renewal" : "renewals"}`;
  return `${m.protocol ?? "?"} via ${m.gateway ?? "?"}: ${m.externalIp ?? "?"}:${m.externalPort ?? "?"} -> port ${m.internalPort}, ${lease}, ${renewals}${m.detail === "" ? "" : ` (${m.detail})`}`;
}

/** One line per other source: the DHT, the LAN, peer exchange, links, peers given by hand. */
function sourceLines(sources: readonly SourceLine[]): string[] {
  return sources.map((source, i) => {
    const label = (i === 0 ? "sources:" : "").padEnd(11);
    const state = source.ok === null ? "starting" : source.ok ? "ok" : "FAILING";
    return `${label}${source.name}  ${state}${source.detail === "" ? "" : `, ${source.detail}`}${peersGiven(source.peersGiven)}`;
  });
}

export function registerManage(program: Command): void {
  program
    .command("ls")
    .description("list what this data dir shares")
    .option("--json", "print one JSON object on stdout")
    .action(async (_flags: unknown, command: Command) => {
      const { dataDir, json } = globals(command);
      const shares = await listShares(dataDir);
      if (json) return printJson({ shares });
      if (shares.length === 0) process.stderr.write("p2p: nothing shared yet (p2p share <file>)\n");
      for (const s of shares) process.stdout.write(`${s.sha1}  ${formatBytes(s.size).padStart(10)}  ${s.intact ? "" : "[changed] "}${s.path}\n`);
    });

  program
    .command("status")
    .description("show the daemon, shares and unfinished downloads of this data dir")
    .option("--json", "print one JSON object on stdout")
    .action(async (_flags: unknown, command: Command) => {
      const { dataDir, trackers, json } = globals(command);
      const running = await daemonRunning(dataDir);
      const daemon = running ? await controlJson<Record<string, unknown>>(dataDir, "GET", "/v1/status") : null;
      const shares = await listShares(dataDir);
      const pending = [];
      for (const name of await readdir(downloadsDir(dataDir)).catch(() => [] as string[])) {
        const record = await loadDownload(dataDir, name.replace(/\.json$/, ""));
        if (record !== null) pending.push({ sha1: record.sha1, destination: record.destination, size: record.manifest.size });
      }
      if (json) return printJson({ dataDir, trackers, daemon, shares: shares.length, unfinishedDownloads: pending });
      process.stdout.write(`data dir:  ${dataDir}\n`);
      // A running daemon's own trackers, with how its announces to each went; otherwise the configured ones.
      const health = daemon?.["trackers"] as TrackerHealth[] | undefined;
      for (const line of trackerLines(health ?? trackers.map((url) => ({ url, ok: null, lastAnnounceAt: null, lastSuccessAt: null, lastError: null })), daemon !== null)) {
        process.stdout.write(`${line}\n`);
      }
      const sources = daemon?.["sources"] as SourceLine[] | undefined;
      for (const line of sourceLines(sources ?? [])) process.stdout.write(`${line}\n`);
      const memory = daemon?.["memory"] as { rssBytes: number } | undefined;
      const rss = memory === undefined ? "" : `, ${formatBytes(memory.rssBytes)} in memory`;
      process.stdout.write(`daemon:    ${daemon === null ? "not running (p2p daemon)" : `running, pid ${String(daemon["pid"])}${rss}`}\n`);
      const mapping = daemon?.["portMapping"] as PortMappingStatus | undefined;
      if (mapping !== undefined) process.stdout.write(`mapping:   ${mappingLine(mapping)}\n`);
      const connect = daemon?.["connect"] as ConnectView | undefined;
      if (connect !== undefined) for (const line of connectLines(connect)) process.stdout.write(`${line}\n`);
      const limits = daemon?.["limits"] as LimitsView | undefined;
      if (limits !== undefined) process.stdout.write(`limits:    ${limitsLine(limits)}\n`);
      const slots = daemon?.["uploadSlots"] as { slots: number; holders: { client: string; optimistic: boolean }[]; waiting: number } | undefined;
      if (slots !== undefined) {
        const holders = slots.holders.map((h) => (h.optimistic ? `${h.client} (optimistic)` : h.client)).join(", ");
        process.stdout.write(`uploading: ${slots.holders.length} of ${slots.slots} slots${holders === "" ? "" : `: ${holders}`}; ${slots.waiting} waiting\n`);
      }
      process.stdout.write(`shares:    ${shares.length}\n`);
      process.stdout.write(`unfinished downloads: ${pending.length}\n`);
      for (const p of pending) process.stdout.write(`  ${p.sha1} -> ${p.destination}\n`);
    });

  program
    .command("unshare")
    .argument("<sha1>", "the SHA-1 of a shared file")
    .description("stop sharing a file (the file itself is left alone)")
    .option("--json", "print one JSON object on stdout")
    .action(async (rawSha1: string, _flags: unknown, command: Command) => {
      const { dataDir, trackers, json } = globals(command);
      const sha1 = sha1Argument(rawSha1);
      if (await daemonRunning(dataDir)) {
        await controlJson(dataDir, "DELETE", `/v1/shares/${sha1}`);
      } else {
        const registry = await ShareRegistry.open(dataDir);
        if (!(await registry.remove(sha1))) throw Errors.notShared(`${sha1} is not shared from ${dataDir}`);
        const identity = await loadIdentity(dataDir);
        // Best effort, every tracker at once: the entries would expire anyway.
        await Promise.all(
          trackers.map((url) =>
            new TrackerClient(url, undefined, 3000).announce(sha1, { peerId: identity.peerId, key: identity.key, port: 1, left: 0, event: "stopped" }).catch(() => undefined),
          ),
        );
      }
      if (json) printJson({ sha1, removed: true });
      else process.stderr.write(`p2p: no longer sharing ${sha1}\n`);
    });
}
