import { createHash } from "node:crypto";
import { unlink } from "node:fs/promises";
import { CHUNK_SIZE } from "../../common/constants.js";
import { DEFAULT_WAIT_MS } from "../config.js";
import { Errors, fromFsError } from "../errors.js";
import { orAfter } from "../time-limit.js";
import { chunkLength, manifestId as idOf, type Manifest } from "../manifest/manifest.js";
import { decodeBitfield, DownloadJournal, loadDownload, readJournal } from "../state/download-state.js";
import type { Share, ShareRegistry } from "../state/share-registry.js";
import { FileChunkStore } from "../storage/chunk-store.js";
import { PeerFinder, type PeerSource } from "../sources/peer-finder.js";
import { recordedManifestId, TrackerPeerSource } from "../sources/tracker-source.js";
import type { PeerEndpoint } from "../sources/peer-address.js";
import { userSources } from "../sources/user-source.js";
import type { ChunkSocketOptions } from "./chunk-socket.js";
import { TrackerClient } from "../tracker-client/tracker-client.js";
import type { ShareLink } from "../links/share-link.js";
import { unlessCancelled } from "./cancel.js";
import { partPathFor, refuseExisting, resolveDestination, unwritableDestination } from "./destination.js";
import { Run } from "./download-run.js";
import { adoptExisting, finishInPlace, type FinishedInPlace } from "./finish.js";
import { fetchManifest } from "./manifest-fetch.js";
import type { FetchLimits, PeerAddress } from "./peer-http.js";
import { PeerPool, type ReachFor } from "./peer-pool.js";
import type { PeerPath } from "../../common/rendezvous-wire.js";
import { reachWithoutDaemon } from "../connect/steps.js";
import type { SchedulerOptions } from "./scheduler.js";
import type { PartialFile } from "../swarm/partial-file.js";

/**
 * One download, start to finish: peers from every tracker (peer/sources/), a verified manifest, chunks from every peer at
 * once into a partial file (each checked against the manifest before it counts), progress saved so that a
 * rerun resumes, and at the end the whole file's SHA-1 checked before the file is renamed into place and
 * its share and record settled (finish.ts).
 */

export interface DownloadOptions {
  sha1: string;
  output?: string;
  force: boolean;
  dataDir: string;
  /** Every tracker, asked at once: for peers, merged (peer/sources/), and for the manifest id one recorded. */
  trackers: readonly TrackerClient[];
  /** host:port keys never to download from (this peer's own public address). */
  exclude?: ReadonlySet<string>;
  /** Peers the user named (`--peer`): a source beside the trackers, enough alone when no tracker knows the file. */
  peers?: readonly PeerEndpoint[];
  /**
   * A share link the download was asked by: its trackers are asked beside `trackers`, its peers beside the
   * user's (source `link`), and its manifest id is the one the manifest must have.
   */
  link?: ShareLink;
  /** More sources beside the trackers and the user's: the DHT, the LAN. */
  sources?: readonly PeerSource[];
  /** Told how many peers each source named for the first time (a daemon's `p2p status` counts). */
  onSourcePeers?: (source: string, peers: number) => void;
  /** A daemon's: its download limit, and its public port, stated to peers as `P2P-Port`. */
  connections?: ChunkSocketOptions;
  /**
   * Told of each verified chunk and the peer that sent it (a daemon's: its exchange ledger, and the credit
   * that earns that peer upload slots there).
   */
  onPeerChunk?: (peer: PeerAddress, bytes: number) => void;
  localAddress?: string;
  /** How to reach a peer a tracker found unreachable (a daemon's: connectivity.ts); punch and relay without one. */
  reach?: ReachFor;
  onProgress?: (progress: DownloadProgress) => void;
  /** Given, once the download has its peers, what reports them (a daemon's `GET /v1/downloads`). */
  onPeers?: (peers: () => PeerReport[]) => void;
  /** Cancels the download until its finishing step begins (progress `finishing`); from then on it completes. */
  signal?: AbortSignal;
  limits?: Partial<FetchLimits & { noPeersBudgetMs: number }>;
  /**
   * How long the start waits for a first peer, every source asked again and again, before it fails naming
   * what each source said (`--wait`); DEFAULT_WAIT_MS when absent.
   */
  waitMs?: number;
  /** Told once when the first look found nobody and the download waits (for the user: it is not stuck). */
  onWaiting?: (message: string) => void;
  scheduler?: Partial<SchedulerOptions>;
  /** Whether the finished file joins the data dir's shares; saved so that a resumed download knows. */
  seed: boolean;
  /** The registry the share goes into: a daemon's own, which it serves from; otherwise the data dir's file. */
  registry?: ShareRegistry;
  /**
   * Serves the download while it runs (a daemon's public port): called once the partial file is open, with
   * what it has verified so far; returns what ends the serving (called once the finished share is recorded,
   * or when the download stops).
   */
  serve?: (file: PartialFile) => () => void;
}

export interface DownloadProgress {
  name: string;
  size: number;
  verifiedBytes: number;
  bytesFetched: number;
  peers: number;
  /** Every chunk is verified and written: the download now completes even if cancelled. */
  finishing: boolean;
}

export interface PeerReport {
  host: string;
  port: number;
  /** How it was found (`tracker`, `user`, `exchange`), and every source that named it (`tracker:<url>`, `user`, `exchange:<peer>`). */
  source: string;
  sources: string[];
  bytes: number;
  /** How it was reached: direct, mapped (a port its router forwards), reversed, punched or relayed. */
  path: PeerPath;
  /**
   * Milliseconds from the download's start (its first look for peers) to the first byte of file data from
   * this peer, its way to it included; null before one.
   */
  firstByteMs: number | null;
  /** Bad chunks or broken answers it sent in this download. */
  strikes: number;
  banned: boolean;
}

export interface DownloadResult {
  sha1: string;
  path: string;
  name: string;
  size: number;
  manifestId: string;
  /** The manifest every byte was verified against (not part of any reply: it can be megabytes). */
  manifest: Manifest;
  bytesFetched: number;
  resumedBytes: number;
  peers: PeerReport[];
  /** The share recorded in the data dir, or null with `seed` false. */
  share: Share | null;
}

/**
 * What a download reports to a user or over the control API: its result without the manifest, whether the
 * file is recorded as shared, and whether it is served now (only a daemon serves).
 */
export type DownloadReply = Omit<DownloadResult, "manifest" | "share"> & { shared: boolean; seeding: boolean };

export function downloadReply(result: DownloadResult, servedByDaemon: boolean): DownloadReply {
  const { manifest: _manifest, share, ...reply } = result;
  return { ...reply, shared: share !== null, seeding: servedByDaemon && share !== null };
}

/**
 * Once peers are found, how much longer the manifest id a tracker recorded is waited for. Without it the
 * manifest is still checked (its SHA-1 field, its chunk list against the size, every chunk, the whole file).
 */
const MANIFEST_ID_GRACE_MS = 2000;

export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const { sha1, dataDir } = options;
  const linked = options.link?.trackers.filter((url) => !options.trackers.some((client) => client.baseUrl === url)) ?? [];
  const trackers = [...options.trackers, ...linked.map((url) => new TrackerClient(url, options.localAddress))];
  const limits: FetchLimits = { idleMs: options.limits?.idleMs ?? 5000, deadlineMs: options.limits?.deadlineMs ?? 30_000 };
  const noPeersBudgetMs = options.limits?.noPeersBudgetMs ?? 20_000;
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  let record = await loadDownload(dataDir, sha1);
  // Interrupted after its rename: only the bookkeeping is left, which needs neither the tracker nor a peer.
  const inPlace = record === null ? null : await finishInPlace(dataDir, record, options.output, options.seed, options.registry);
  if (record !== null && inPlace !== null) return settledEarlier(record.manifest, inPlace);
  const signal = options.signal;
  const sources = [
    ...options.trackers.map((client) => new TrackerPeerSource(client)),
    ...trackers.slice(options.trackers.length).map((client) => new TrackerPeerSource(client, undefined, true)),
    ...userSources(options.peers),
    ...userSources(options.link?.peers, "link"),
    ...(options.sources ?? []),
  ];
  const finder = new PeerFinder(sources, options.exclude ?? new Set(), undefined, Date.now, options.onSourcePeers);
  const pool = new PeerPool(sha1, finder, options.localAddress, options.connections, undefined, options.reach ?? reachWithoutDaemon(trackers, options.localAddress));
  // Ends the manifest-id look-ups still on their way when the download ends: a slow tracker holds nothing up.
  const lookups = new AbortController();
  const lookup = signal === undefined ? lookups.signal : AbortSignal.any([lookups.signal, signal]);
  try {
    const linkedId = options.link?.manifestId ?? null;
    // A link's manifest id is the sharer's word: no tracker need be asked for one.
    const recording = linkedId === null ? recordedManifestId(trackers, sha1, lookup) : Promise.resolve(linkedId);
    const listed = await unlessCancelled(pool.discover(waitMs, signal, options.onWaiting), signal);
    // Peers found: a tracker that is up has answered for the id by now or does within moments; one that is
    // down (a lost connection takes its full time limit) must not hold up peers the LAN or the DHT found.
    const recordedId = await unlessCancelled(orAfter(recording.catch(() => null), MANIFEST_ID_GRACE_MS, null), signal);
    if (record !== null && recordedId !== null && record.manifestId !== recordedId) record = null;
    const manifest: Manifest = record?.manifest ?? (await unlessCancelled(fetchManifest(sha1, recordedId, pool, listed, limits, { budgetMs: noPeersBudgetMs, ...(signal === undefined ? {} : { signal }) }), signal));
    const linkedSize = options.link?.size;
    if (linkedSize !== undefined && manifest.size !== linkedSize) {
      throw Errors.manifestMismatch(`the peers' manifest of ${sha1} says ${manifest.size} bytes; the share link says ${linkedSize}`, "the link or the peers are wrong: ask the sharer for the link again");
    }
    // Taken without the tracker's id (none answered in time): if one answers later with another id, the
    // manifest came from a peer that lied, and the download stops rather than fetch chunks that cannot match.
    const lateCheck = new AbortController();
    const late: { id: string | null } = { id: null };
    if (recordedId === null && linkedId === null && record === null) {
      void recording.then((id) => {
        if (id !== null && id !== idOf(manifest)) {
          late.id = id;
          lateCheck.abort();
        }
      });
    }
    const destination = await resolveDestination(options.output ?? (record === null ? undefined : record.destination), manifest.name, sha1);
    // Already the file (a run stopped in its last steps): settled as downloaded rather than refused.
    if (!options.force) {
      const found = await adoptExisting(dataDir, manifest, destination, record?.partPath ?? null, options.seed, options.registry);
      if (found !== null) return settledEarlier(manifest, found);
    }
    await refuseExisting(destination, options.force);
    if (record !== null && record.destination !== destination) {
      await unlink(record.partPath).catch(() => undefined);
      record = null;
    }
    const partPath = partPathFor(destination);
    const count = manifest.chunks.length;
    let store: FileChunkStore;
    let resumed: number[] = [];
    let journal: DownloadJournal;
    let reused: boolean;
    try {
      const opened = await FileChunkStore.open(partPath, manifest.size, CHUNK_SIZE, record !== null);
      store = opened.store;
      reused = opened.reused && record !== null;
    } catch (error) {
      throw await unwritableDestination(error, destination);
    }
    try {
      if (reused) resumed = await resumeChunks(dataDir, manifest, decodeBitfield(record!.verified, count), store);
      journal = await DownloadJournal.open(dataDir, sha1, !reused);
    } catch (error) {
      await store.close();
      throw fromFsError(error, partPath, "resuming the partial file");
    }
    const runSignal = signal === undefined ? lateCheck.signal : AbortSignal.any([signal, lateCheck.signal]);
    const run = new Run({ ...options, signal: runSignal }, manifest, destination, partPath, store, journal, pool, resumed, limits, noPeersBudgetMs);
    options.onPeers?.(() => run.peerReports());
    try {
      return await run.execute();
    } catch (error) {
      if (late.id !== null) throw Errors.manifestMismatch(`the manifest of ${sha1} a peer sent is not the one a tracker recorded (${late.id})`, "run the same command again: it takes the recorded one");
      throw error;
    }
  } finally {
    lookups.abort();
    pool.close();
  }
}

/** The result of a download that a rerun found already at its destination, with only its bookkeeping left. */
function settledEarlier(manifest: Manifest, inPlace: FinishedInPlace): DownloadResult {
  const { sha1, name, size } = manifest;
  return { sha1, path: inPlace.destination, name, size, manifestId: idOf(manifest), manifest, bytesFetched: 0, resumedBytes: size, peers: [], share: inPlace.share };
}

/**
 * The chunks a rerun can keep: the checkpoint's as they are, and the journal's after one more SHA-256
 * (only the few written since the last checkpoint).
 */
async function resumeChunks(dataDir: string, manifest: Manifest, checkpointed: number[], store: FileChunkStore): Promise<number[]> {
  const kept = new Set(checkpointed);
  for (const index of await readJournal(dataDir, manifest.sha1, manifest.chunks.length)) {
    if (kept.has(index)) continue;
    const data = await store.read(index, chunkLength(manifest, index));
    if (createHash("sha256").update(data).digest("hex") === manifest.chunks[index]) kept.add(index);
  }
  return [...kept];
}
