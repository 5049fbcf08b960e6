import type { Server } from "node:http";
import { orAfter } from "../time-limit.js";
import { readdir } from "node:fs/promises";
import { mkdir } from "node:fs/promises";
import { hostPort } from "../../common/ip.js";
import { download, downloadReply, type DownloadReply } from "../download/downloader.js";
import { Errors, P2PError } from "../errors.js";
import { createPublicServer } from "../server/public-server.js";
import { shareIsIntact } from "../server/share-file.js";
import { downloadsDir, loadDownload } from "../state/download-state.js";
import { DownloadJobs } from "./download-jobs.js";
import { ShareRegistry, type Share } from "../state/share-registry.js";
import { announceFamilies } from "../tracker-client/announce-families.js";
import { TrackerClient } from "../tracker-client/tracker-client.js";
import { Announcer, type InProgress } from "./announcer.js";
import type { PartialFile } from "../swarm/partial-file.js";
import { DEFAULT_UPLOAD_SLOTS, UploadSlots } from "../swarm/upload-slots.js";
import { SuperSeeding } from "./super-seeding.js";
import { Announcers } from "./announcers.js";
import { daemonRunning, socketPath } from "./control-client.js";
import { startControlServer, type ControlHandlers, type DownloadBody } from "./control-server.js";
import { startDashboard, UI_HOST } from "../ui/start-dashboard.js";
import type { UiServer } from "../ui/ui-server.js";
import { relayTokenKey } from "../../common/relay-token.js";
import { loadIdentity } from "./identity.js";
import { Connectivity } from "./connectivity.js";
import { makeShare } from "./make-share.js";
import { TransferLimits } from "../net/transfer-limits.js";
import { ExchangeLedger } from "../swarm/exchange-ledger.js";
import { ledgerHooks } from "../server/exchange-route.js";
import { NO_DISCOVERY, type DiscoverySettings } from "../discovery/discovery.js";
import { closeDiscoveries, startDiscoveries } from "../discovery/start-discoveries.js";
import { sourceKind } from "../sources/candidate-table.js";
import { Publishing } from "./publishing.js";
import { formatShareLink } from "../links/share-link.js";
import { SeenFromOutside } from "./seen-from-outside.js";
import { offStatus, PortMapping, type PortMappingChoice } from "../reach/port-mapping.js";
import { addressScope } from "../sources/address-scope.js";

/**
 * The peer daemon: serves what this user shares on the public port, keeps every tracker told, runs downloads
 * for the CLI, and resumes what it was doing after a restart. One per data dir.
 */

/** The caps of the relay a daemon runs with `--relay`. */
export interface RelaySettings {
  maxPairs: number;
  maxBytesPerPair: number;
  maxSecondsPerPair: number;
}

export interface DaemonOptions {
  host: string;
  port: number;
  /** Every tracker, each announced to on its own (announcers.ts) and asked for peers at once. */
  trackers: readonly string[];
  dataDir: string;
  /** The address the tracker should record, where it must differ from the connection's (LAN, tests). */
  announceHost?: string;
  /** Clients sent file data at once (swarm/upload-slots.ts); 8 by default. */
  uploadSlots?: number;
  /** Bytes per second sent by the public port, and read by downloads; 0 or absent: no limit. */
  maxUploadRate?: number;
  maxDownloadRate?: number;
  /** The dashboard (peer/ui/): its loopback port (0: any free one) and extra Host names; none when absent. */
  ui?: { port: number; allowHosts: readonly string[] };
  /** The DHT and LAN discovery; both off when absent (the CLI turns them on by default). */
  discovery?: DiscoverySettings;
  /**
   * Asking the home router to forward the public port (peer/reach/): off when absent (the CLI turns it on by
   * default); `lifetimeSeconds` is the lease asked for (tests use a short one).
   */
  portMapping?: { choice: PortMappingChoice; lifetimeSeconds?: number };
  /** `--relay`: relay between peers that reach nothing else (peer/connect/relay-server.ts), with these caps. */
  relay?: RelaySettings | null;
  log?: (line: string) => void;
}

/** How often the trackers' word on this daemon's reachability is passed on to the discoveries. */
const REACHABILITY_CHECK_MS = 2_000;

/** How long a stop waits for running downloads to end (each checks its signal at least every 250 ms). */
const DOWNLOADS_STOP_GRACE_MS = 2000;
/**
 * How long a request for a file waits for the download of it whose control connection closed (Ctrl-C) to
 * end: the same command run again at once must not be refused while that download is still stopping.
 */
const CANCELLED_DOWNLOAD_WAIT_MS = 5000;
/** The time limit of a `stopped` announce: a tracker that does not answer must not hold a stop for long. */
const STOPPED_ANNOUNCE_LIMIT_MS = 2000;
/** The longest a detached download request waits for the download's first sign of life before answering. */
const DETACHED_ANSWER_MS = 5000;

export interface RunningDaemon {
  publicPort: number;
  /** The address the public port listens on: `--host`, or 0.0.0.0 where `::` could not be had (no IPv6). */
  publicHost: string;
  /** The dashboard's port, or null without one. */
  uiPort: number | null;
  registry: ShareRegistry;
  /** The share link of a file shared here: its trackers, and this daemon's address when it has one to give. */
  link(share: Share): string;
  addShare(path: string): Promise<{ share: Share; announced: boolean }>;
  close(): Promise<void>;
}

/** What the daemon holds, for `p2p status` and the tests that watch it for leaks. */
function memory(): { rssBytes: number; heapUsedBytes: number; externalBytes: number } {
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rssBytes: rss, heapUsedBytes: heapUsed, externalBytes: external };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // `::` is both families (ipv6Only false: an IPv4 client appears as ::ffff:a.b.c.d, normalised where used).
    server.listen({ port, host, ipv6Only: false }, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

/**
 * Listens on `host`; `::` (the default, both families) falls back to 0.0.0.0 on a machine without IPv6 (a
 * kernel booted with ipv6.disable=1 has no `::`). Resolves with the host and port listened on.
 */
async function listenDualStack(server: Server, port: number, host: string, log: (line: string) => void): Promise<{ host: string; port: number }> {
  try {
    return { host, port: await listen(server, port, host) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (host !== "::" || (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL")) throw error;
    log(`no IPv6 on this machine (${code}): the public port listens on IPv4 only (0.0.0.0)`);
    return { host: "0.0.0.0", port: await listen(server, port, "0.0.0.0") };
  }
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const log = options.log ?? ((line: string) => process.stderr.write(`p2p daemon: ${line}\n`));
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  if (await daemonRunning(options.dataDir)) {
    throw Errors.daemonRunning(`a daemon already runs for ${options.dataDir}`, "stop it first, or use another --data-dir");
  }
  const registry = await ShareRegistry.open(options.dataDir);
  const identity = await loadIdentity(options.dataDir);
  const localAddress = options.host === "0.0.0.0" || options.host === "::" ? undefined : options.host;
  const trackers = options.trackers.map((url) => new TrackerClient(url, localAddress));

  let uploadedBytes = 0;
  /** Bytes sent of each file shared here (the dashboard's shares), and a count of their changes. */
  const served = new Map<string, number>();
  let servedChanges = 0;
  let downloadedBytes = 0;
  const limits = new TransferLimits(options.maxUploadRate, options.maxDownloadRate);
  /** Who this daemon exchanged chunks with, per file: its `/peers` answers (peer exchange). */
  const ledger = new ExchangeLedger();
  /** Downloads in progress that serve what they have (those that will be shared: not `--no-seed`). */
  const partials = new Map<string, PartialFile>();
  /** ...and are announced as downloads, until they end. */
  const downloading = new Map<string, InProgress>();
  const slots = new UploadSlots({ ...DEFAULT_UPLOAD_SLOTS, slots: options.uploadSlots ?? DEFAULT_UPLOAD_SLOTS.slots }, Date.now());
  const superSeeding = new SuperSeeding(trackers, (sha1) => announcer.otherSeeds(sha1), log, (client, now) => slots.wouldAdmit(client, now));
  /** Reversals, punches and relays (connectivity.ts); made once the public port listens. */
  let connectivity: Connectivity | null = null;
  const publicServer = createPublicServer({
    onUpgrade: (req, socket, head) => connectivity?.onUpgrade(req, socket, head) ?? false,
    lookup: (sha1) => registry.get(sha1),
    partial: (sha1) => partials.get(sha1),
    superSeed: superSeeding.of,
    slots,
    limiter: limits.upload,
    exchange: ledgerHooks(ledger),
    onSent: (bytes, _client, sha1) => {
      uploadedBytes += bytes;
      served.set(sha1, (served.get(sha1) ?? 0) + bytes);
      servedChanges++;
    },
    onChanged: (share) => {
      if (!announcer.isAnnouncing(share.sha1)) return;
      log(`${share.path} changed since it was shared; it is no longer served (share it again)`);
      void announcer.stop(share);
    },
  });
  const { host: publicHost, port: publicPort } = await listenDualStack(publicServer, options.port, options.host, log).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "EADDRINUSE"
      ? Errors.daemonRunning(`port ${options.port} on ${options.host} is in use`, "stop what uses it, or pass --port")
      : error;
  });
  const discoveries = await startDiscoveries(options.discovery ?? NO_DISCOVERY, {
    host: publicHost,
    publicPort,
    dataDir: options.dataDir,
    log,
    ...(options.announceHost === undefined ? {} : { announceHost: options.announceHost }),
  }).catch((error: unknown) => {
    publicServer.close();
    throw error;
  });
  // One announcer per tracker and address family: a dual-stack daemon is listed under both its addresses.
  const families = await Promise.all(trackers.map((tracker) => announceFamilies(tracker.baseUrl, localAddress ?? options.announceHost)));
  const announcer = new Publishing(
    new Announcers(
      trackers.flatMap((tracker, i) =>
        families[i]!.map((family) => {
          const client = family === undefined ? tracker : new TrackerClient(tracker.baseUrl, localAddress, undefined, family);
          const stopTracker = new TrackerClient(tracker.baseUrl, localAddress, STOPPED_ANNOUNCE_LIMIT_MS, family);
          return new Announcer(client, stopTracker, identity, publicPort, options.announceHost, shareIsIntact, log);
        }),
      ),
    ),
    discoveries,
  );
  connectivity = new Connectivity({
    identity,
    trackers,
    relayTrackers: trackers.map((tracker) => ({ tracker, stopTracker: new TrackerClient(tracker.baseUrl, localAddress, STOPPED_ANNOUNCE_LIMIT_MS) })),
    server: publicServer,
    publicPort,
    // The relay takes only tokens a tracker minted with this key, derived from the key it offers itself with.
    relay: options.relay === undefined || options.relay === null ? null : { ...options.relay, tokenKey: await relayTokenKey(identity.key) },
    log,
    ...(localAddress === undefined ? {} : { localAddress }),
  });
  const connect = connectivity;
  /**
   * The trackers' dial-backs say whether others reach this daemon: the discoveries are told (the DHT goes
   * read-only when not), and a tracker that cannot reach it gets a rendezvous socket (connectivity.ts).
   */
  const noteReachability = (): void => {
    announcer.noteReachability();
    connect.noteVerdicts(announcer.trackerStatus().map((health) => ({ url: health.url, reachable: health.seenAs?.reachable ?? null })));
  };
  const reachabilityTimer = setInterval(noteReachability, REACHABILITY_CHECK_MS);
  reachabilityTimer.unref();
  /**
   * The home router's mapping of the public port: once granted, every tracker is told the external port (the
   * address it records is the connection's, which behind the router is already the router's public one).
   */
  const mappingChoice = options.portMapping?.choice ?? "off";
  const portMapping =
    mappingChoice === "off" || (localAddress !== undefined && addressScope(localAddress) === "loopback")
      ? null
      : new PortMapping({
          internalPort: publicPort,
          choice: mappingChoice,
          ...(options.portMapping?.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: options.portMapping.lifetimeSeconds }),
          log,
          onChange: (mapping) => {
            announcer.setPort(mapping?.externalPort ?? publicPort, mapping !== null);
            connect.setPort(mapping?.externalPort ?? publicPort);
          },
        });
  void portMapping?.start();
  const mappingStatus = () =>
    portMapping?.status() ?? offStatus(publicPort, mappingChoice === "off" ? "turned off (--no-port-mapping or P2P_PORT_MAPPING=off)" : "the public port listens on loopback only");
  /** How many peers each source named to this daemon's downloads: per tracker, and per other kind. */
  const peersFrom = new Map<string, number>();
  const countPeers = (source: string, peers: number): void => {
    // A share link's trackers count as the link: the daemon's own trackers are the ones shown one by one.
    const own = trackers.some((tracker) => source === `tracker:${tracker.baseUrl}`);
    const name = own ? source : source.startsWith("tracker:") ? "link" : sourceKind(source);
    peersFrom.set(name, (peersFrom.get(name) ?? 0) + peers);
  };
  const self = new Set([hostPort(options.announceHost ?? localAddress ?? "127.0.0.1", publicPort)]);
  const seen = new SeenFromOutside(() => announcer.trackerStatus(), options.announceHost ?? localAddress, publicPort);
  /** How downloads reach peers the trackers found unreachable: reversal only where they reach this daemon. */
  const reachFor = connect.ladders((tracker) => seen.reversalPort(tracker));
  const link = (share: Share): string => {
    const peer = seen.linkPeer();
    return formatShareLink({
      sha1: share.sha1,
      name: share.manifest.name,
      size: share.size,
      trackers: trackers.map((tracker) => tracker.baseUrl),
      peers: peer === undefined ? [] : [peer],
      manifestId: share.manifestId,
    });
  };
  /** The downloads running now, paused and ended (download-jobs.ts). */
  const jobs = new DownloadJobs(options.dataDir);

  const addShare = async (path: string): Promise<{ share: Share; announced: boolean }> => {
    const share = await makeShare(path);
    await registry.add(share);
    return { share, announced: await announcer.start(share) };
  };

  const runDownload = async (body: DownloadBody, emit?: (event: unknown) => void, signal?: AbortSignal, request?: AbortSignal): Promise<DownloadReply> => {
    const previous = jobs.runs.get(body.sha1);
    if (previous !== undefined) {
      // Another command still waits for that download: this one is refused. One whose command is gone
      // (its connection closed: Ctrl-C), or that was paused, is being stopped, and its end is only a moment away.
      if (previous.request?.aborted !== true && !previous.own.signal.aborted) throw Errors.daemonRunning(`${body.sha1} is already being downloaded by this daemon`);
      await settled(new Set([previous.ended]), CANCELLED_DOWNLOAD_WAIT_MS);
      if (jobs.runs.has(body.sha1)) {
        throw Errors.daemonRunning(`${body.sha1} is already being downloaded by this daemon (an interrupted download of it is still stopping)`, "run the same command again in a moment");
      }
    }
    const { job, end } = jobs.begin(body, request);
    const stop = signal === undefined ? job.own.signal : AbortSignal.any([signal, job.own.signal]);
    /**
     * While it runs, a download that will be shared serves the chunks it has and is announced with its
     * `left`, so that other downloaders use it; a `--no-seed` one does neither.
     */
    const serve = (file: PartialFile): (() => void) => {
      partials.set(file.sha1, file);
      if (registry.get(file.sha1) === undefined) {
        const item: InProgress = { sha1: file.sha1, path: body.output ?? file.manifest.name, left: () => file.left() };
        downloading.set(file.sha1, item);
        void announcer.start(item);
      }
      return () => {
        if (partials.get(file.sha1) === file) partials.delete(file.sha1);
      };
    };
    try {
      const result = await download({
        sha1: body.sha1,
        force: body.force,
        seed: body.seed,
        registry,
        dataDir: options.dataDir,
        trackers,
        sources: discoveries.map((discovery) => discovery.source),
        onSourcePeers: countPeers,
        exclude: self,
        reach: reachFor,
        connections: { limiter: limits.download, statedPort: publicPort, onRead: (bytes) => (downloadedBytes += bytes) },
        onPeerChunk: (peer, bytes) => {
          ledger.record(body.sha1, peer.ip, peer.port, Date.now());
          slots.credit(peer.ip, bytes, Date.now());
        },
        ...(body.peers === undefined ? {} : { peers: body.peers }),
        ...(body.link === undefined ? {} : { link: body.link }),
        ...(body.waitMs === undefined ? {} : { waitMs: body.waitMs }),
        onWaiting: (message) => {
          job.waiting = message;
          emit?.({ type: "waiting", message });
        },
        onPeers: (peers) => (job.peers = peers),
        ...(body.output === undefined ? {} : { output: body.output }),
        ...(localAddress === undefined ? {} : { localAddress }),
        signal: stop,
        ...(body.seed ? { serve } : {}),
        onProgress: (progress) => {
          jobs.progressed(job, progress);
          emit?.({ type: "progress", ...progress });
        },
      });
      // The download recorded the share in `registry` before removing its record (finish.ts): served now,
      // and the trackers told it completed.
      const announced = downloading.get(body.sha1);
      downloading.delete(body.sha1);
      if (result.share !== null) void announcer.start(result.share, announced === undefined ? "started" : "completed");
      else if (announced !== undefined) void announcer.stop(announced);
      jobs.finished(job, { path: result.path }, stopping.signal.aborted);
      return downloadReply(result, true);
    } catch (error) {
      jobs.finished(job, { error }, stopping.signal.aborted);
      // Stopped or failed: no longer a peer of this swarm (unless the file is also shared here).
      const announced = downloading.get(body.sha1);
      downloading.delete(body.sha1);
      if (announced !== undefined && registry.get(body.sha1) === undefined && !stopping.signal.aborted) void announcer.stop(announced);
      throw error;
    } finally {
      end();
    }
  };

  /** Aborted when the daemon stops: running downloads end where they are, their progress kept for a resume. */
  const stopping = new AbortController();
  const running = new Set<Promise<void>>();

  /** Runs a download unless the daemon is stopping, and lets close() end it and wait for it. */
  const runTracked = (body: DownloadBody, emit?: (event: unknown) => void, signal?: AbortSignal): Promise<DownloadReply> => {
    if (stopping.signal.aborted) {
      return Promise.reject(Errors.daemonUnreachable("the daemon is stopping", "run the same command again once it has stopped: without a daemon it runs the download itself"));
    }
    const run = runDownload(body, emit, signal === undefined ? stopping.signal : AbortSignal.any([signal, stopping.signal]), signal).catch((error: unknown) => {
      if (stopping.signal.aborted && error instanceof P2PError && error.code === "CANCELLED") {
        throw Errors.daemonUnreachable("the daemon stopped during the download", "what it verified is kept: the next `p2p daemon` resumes it, or run the same command again");
      }
      throw error;
    });
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    running.add(settled);
    void settled.then(() => running.delete(settled));
    return run;
  };

  /**
   * A download the daemon owns (the dashboard's, `detach`): answered once it has begun (its first progress,
   * or waiting for a first peer) or failed; after that it runs on whatever becomes of the request.
   */
  const startDetached = (body: DownloadBody): Promise<{ sha1: string; state: string }> =>
    new Promise((resolve, reject) => {
      let answered = false;
      const answer = (state: string): void => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        resolve({ sha1: body.sha1, state });
      };
      const timer = setTimeout(() => answer("running"), DETACHED_ANSWER_MS);
      runTracked(body, (event) => answer((event as { type?: string }).type === "waiting" ? "waiting" : "running")).then(
        (reply) => {
          answer("done");
          log(`finished ${reply.path}`);
        },
        (error: unknown) => {
          // Paused or cancelled before its first sign of life: that is what the request is answered.
          if (error instanceof P2PError && error.code === "CANCELLED" && !stopping.signal.aborted) answer("stopped");
          if (!answered) {
            answered = true;
            clearTimeout(timer);
            reject(error instanceof Error ? error : new Error(String(error)));
          } else log(`download of ${body.sha1} stopped: ${error instanceof Error ? error.message : String(error)}`);
        },
      );
    });

  /** The dashboard, once started: null without one (`--no-ui`, or its port taken). */
  let ui: UiServer | null = null;
  const handlers: ControlHandlers = {
    status: () => ({
      pid: process.pid,
      dataDir: options.dataDir,
      trackers: announcer.trackerStatus().map((health) => ({ ...health, peersGiven: peersFrom.get(`tracker:${health.url}`) ?? 0 })),
      sources: [
        ...announcer.discoveryStatus().map((status) => ({ ...status, peersGiven: peersFrom.get(status.name) ?? 0 })),
        ...[...peersFrom].filter(([name]) => !name.startsWith("tracker:") && !discoveries.some((d) => d.name === name)).map(([name, peersGiven]) => ({ name, ok: true, detail: "", peersGiven })),
      ],
      public: { host: publicHost, port: publicPort },
      portMapping: mappingStatus(),
      connect: connect.status(),
      shares: registry.list().length,
      uploadedBytes,
      uploadSlots: slots.status(),
      downloadedBytes,
      limits: limits.view(),
      memory: memory(),
      downloads: [...jobs.runs.entries()].map(([sha1, { progress }]) => ({ sha1, ...progress })),
      ui: ui === null ? null : { host: UI_HOST, port: ui.port },
    }),
    listShares: async () =>
      Promise.all(
        registry.list().map(async (share) => ({
          sha1: share.sha1,
          name: share.manifest.name,
          path: share.path,
          size: share.size,
          intact: await shareIsIntact(share),
          announced: announcer.isAnnouncing(share.sha1),
          link: link(share),
          servedBytes: served.get(share.sha1) ?? 0,
          peers: ledger.list(share.sha1, Date.now(), 1000).length,
        })),
      ),
    addShare: async (path) => {
      const { share, announced } = await addShare(path);
      return { sha1: share.sha1, name: share.manifest.name, path: share.path, size: share.size, manifestId: share.manifestId, announced, link: link(share) };
    },
    removeShare: async (sha1) => {
      const share = registry.get(sha1);
      if (share === undefined) throw Errors.notShared(`${sha1} is not shared here`);
      await announcer.stop(share);
      await registry.remove(sha1);
      superSeeding.forget(sha1);
      return { sha1, removed: true };
    },
    download: (body, emit, signal) => runTracked(body, emit, signal),
    listDownloads: () => jobs.list(),
    startDownload: (body) => startDetached(body),
    pauseDownload: (sha1) => jobs.pause(sha1),
    resumeDownload: async (sha1) => {
      const body = await jobs.resumeBody(sha1);
      return body === null ? { sha1, state: "running" } : startDetached(body);
    },
    cancelDownload: (sha1) => jobs.cancel(sha1),
    limits: () => limits.view(),
    setLimits: (body) => limits.change(body),
  };
  const control = await startControlServer(socketPath(options.dataDir), handlers);
  ui = options.ui === undefined ? null : await startDashboard(options.ui, options.dataDir, handlers, {
    sharesChanges: () => registry.changes,
    statsChanges: () => servedChanges,
  }, (sha1) => {
    const share = registry.get(sha1);
    return share === undefined ? undefined : link(share);
  }, log);

  for (const share of registry.list()) void announcer.start(share);
  void resumeDownloads(options.dataDir, (sha1, seed) => runTracked({ sha1, force: false, seed }), log, (sha1) => jobs.isPaused(sha1));

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      superSeeding.logUnfinished();
      // From here nothing new starts: no announce, no download, no control request, no upload.
      clearInterval(reachabilityTimer);
      // No tracker order is carried out from here, the relay closes its pairs and withdraws its offers.
      const disconnecting = connect.close();
      announcer.close();
      stopping.abort();
      control.close();
      ui?.close();
      publicServer.close();
      publicServer.closeAllConnections();
      const told = registry.list();
      // Every download running, also one that has not yet announced itself: an earlier run of this daemon,
      // killed, may have left it listed (the same peer id), and a clean stop should leave nothing behind.
      const unfinished = [...jobs.runs.keys()].filter((sha1) => registry.get(sha1) === undefined).map((sha1): InProgress => downloading.get(sha1) ?? { sha1, path: sha1, left: () => 0 });
      const telling = announcer.stopAll([...told, ...unfinished]);
      // The router is asked to remove the mapping meanwhile (at most 2 s): a clean stop leaves no open port.
      const unmapping = portMapping?.close() ?? Promise.resolve();
      // A download that finishes meanwhile joins the shares (announced at the next start); the tracker is
      // told `stopped` for it too, with any other share added during the stop.
      await settled(running, DOWNLOADS_STOP_GRACE_MS);
      // One turn of the loop first, for the control API to write the replies of the downloads that just ended.
      await new Promise((resolve) => setImmediate(resolve));
      control.closeAllConnections();
      const added = registry.list().filter((share) => !told.some((t) => t.sha1 === share.sha1));
      await Promise.all([telling, announcer.stopAll(added), closeDiscoveries(discoveries), unmapping, disconnecting]);
      // An announce sent just before the stop (a download that had just started) that lands after it is
      // followed by its own `stopped`, which must go out before the process exits.
      await settled(new Set([announcer.idle()]), STOPPED_ANNOUNCE_LIMIT_MS);
    })();
    return closing;
  };
  return { publicPort, publicHost, uiPort: ui?.port ?? null, registry, link, addShare, close };
}

/** Resolves when every promise has settled, or after `limitMs`, whichever comes first. */
async function settled(promises: ReadonlySet<Promise<void>>, limitMs: number): Promise<void> {
  await orAfter(Promise.all(promises), limitMs, undefined);
}

/** Downloads a killed daemon (or CLI) left unfinished continue in the background. */
async function resumeDownloads(
  dataDir: string,
  run: (sha1: string, seed: boolean) => Promise<unknown>,
  log: (line: string) => void,
  paused: (sha1: string) => Promise<boolean>,
): Promise<void> {
  const names = await readdir(downloadsDir(dataDir)).catch(() => [] as string[]);
  for (const name of names) {
    const sha1 = name.replace(/\.json$/, "");
    const record = await loadDownload(dataDir, sha1);
    if (record === null) continue;
    if (await paused(sha1)) {
      log(`the download of ${sha1} to ${record.destination} stays paused (resume it from the dashboard: p2p ui)`);
      continue;
    }
    log(`resuming the download of ${sha1} to ${record.destination}`);
    run(sha1, record.seed).then(
      () => log(`finished ${record.destination}`),
      (error: unknown) => log(`download of ${sha1} stopped: ${error instanceof Error ? error.message : String(error)}`),
    );
  }
}
