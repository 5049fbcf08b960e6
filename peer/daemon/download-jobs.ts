import { readdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Errors, P2PError } from "../errors.js";
import type { DownloadProgress, PeerReport } from "../download/downloader.js";
import { chunkLength } from "../manifest/manifest.js";
import { decodeBitfield, downloadsDir, loadDownload, removeDownload, type DownloadRecord } from "../state/download-state.js";
import type { DownloadBody } from "./control-server.js";

/**
 * The daemon's downloads as the control API shows and steers them (`GET /v1/downloads`, pause, resume,
 * cancel): the running ones, those paused or stopped (a record in <data-dir>/downloads/), and the last ones
 * that ended. A pause stops the download where it is: its verified chunks and record stay, and a resume
 * starts from them. A pause survives a restart (a `<sha1>.paused` marker beside the record).
 */

export type DownloadState = "running" | "waiting" | "finishing" | "paused" | "failed" | "done";

export interface DownloadView {
  sha1: string;
  name: string | null;
  size: number | null;
  state: DownloadState;
  destination: string | null;
  verifiedBytes: number;
  bytesFetched: number;
  /** Bytes per second fetched over the last few seconds. */
  rate: number;
  etaSeconds: number | null;
  peers: PeerReport[];
  waiting?: string;
  path?: string;
  error?: ReturnType<P2PError["toJSON"]>;
}

export interface Job {
  body: DownloadBody;
  progress: DownloadProgress | null;
  /** The control request that waits for it (the CLI's), if any: closing it cancels the download. */
  request: AbortSignal | undefined;
  /** Aborted by a pause or a cancel. */
  own: AbortController;
  ended: Promise<void>;
  peers: () => PeerReport[];
  waiting: string | null;
  samples: { at: number; bytes: number }[];
}

/** How many ended downloads (finished or failed) the list keeps, the latest first. */
const MAX_ENDED = 50;
const RATE_WINDOW_MS = 5000;

function markerPath(dataDir: string, sha1: string): string {
  return join(downloadsDir(dataDir), `${sha1}.paused`);
}

export function isPausedMarker(name: string): boolean {
  return name.endsWith(".paused");
}

function failureOf(error: unknown): ReturnType<P2PError["toJSON"]> {
  return error instanceof P2PError ? error.toJSON() : { code: "INTERNAL", kind: "internal", message: String(error) };
}

function verifiedOf(record: DownloadRecord): number {
  const count = record.manifest.chunks.length;
  return decodeBitfield(record.verified, count).reduce((sum, index) => sum + chunkLength(record.manifest, index), 0);
}

export class DownloadJobs {
  readonly runs = new Map<string, Job>();
  /** Downloads that ended while this daemon ran, and how: kept for the list, and for a retry of a failed one. */
  private readonly ended = new Map<string, { body: DownloadBody; view: DownloadView }>();

  constructor(private readonly dataDir: string) {}

  /** A new run of `body`, registered until `end` is called. */
  begin(body: DownloadBody, request: AbortSignal | undefined): { job: Job; end: () => void } {
    let end = (): void => undefined;
    const job: Job = {
      body,
      progress: null,
      request,
      own: new AbortController(),
      ended: new Promise<void>((resolve) => (end = resolve)),
      peers: () => [],
      waiting: null,
      samples: [],
    };
    this.runs.set(body.sha1, job);
    this.ended.delete(body.sha1);
    void unlink(markerPath(this.dataDir, body.sha1)).catch(() => undefined);
    return {
      job,
      end: () => {
        if (this.runs.get(body.sha1) === job) this.runs.delete(body.sha1);
        end();
      },
    };
  }

  progressed(job: Job, progress: DownloadProgress): void {
    job.progress = progress;
    job.waiting = null;
    const now = Date.now();
    const last = job.samples.at(-1);
    if (last === undefined || now - last.at >= 500) job.samples.push({ at: now, bytes: progress.bytesFetched });
    while (job.samples.length > 2 && now - job.samples[0]!.at > RATE_WINDOW_MS) job.samples.shift();
  }

  /** Records how a run ended: finished, failed (kept with its error), or stopped by a pause or cancel. */
  finished(job: Job, outcome: { path: string } | { error: unknown }, daemonStopping: boolean): void {
    if (job.own.signal.aborted || daemonStopping) return;
    const view = this.viewOf(job);
    const ended: DownloadView = "path" in outcome ? { ...view, state: "done", path: outcome.path, rate: 0, etaSeconds: null } : { ...view, state: "failed", rate: 0, etaSeconds: null, error: failureOf(outcome.error) };
    this.ended.set(job.body.sha1, { body: job.body, view: ended });
    while (this.ended.size > MAX_ENDED) this.ended.delete(this.ended.keys().next().value!);
  }

  private viewOf(job: Job): DownloadView {
    const progress = job.progress;
    const first = job.samples[0];
    const last = job.samples.at(-1);
    const seconds = first !== undefined && last !== undefined ? (last.at - first.at) / 1000 : 0;
    const rate = seconds > 0 ? Math.max(0, (last!.bytes - first!.bytes) / seconds) : 0;
    const left = progress === null ? null : progress.size - progress.verifiedBytes;
    return {
      sha1: job.body.sha1,
      name: progress?.name ?? null,
      size: progress?.size ?? null,
      state: progress?.finishing === true ? "finishing" : job.waiting !== null ? "waiting" : "running",
      destination: job.body.output ?? null,
      verifiedBytes: progress?.verifiedBytes ?? 0,
      bytesFetched: progress?.bytesFetched ?? 0,
      rate: Math.round(rate),
      etaSeconds: left !== null && rate > 0 ? Math.ceil(left / rate) : null,
      peers: job.peers(),
      ...(job.waiting === null ? {} : { waiting: job.waiting }),
    };
  }

  /** Running first, then paused (records on disk), then those that ended here, the latest first. */
  async list(): Promise<DownloadView[]> {
    const views = [...this.runs.values()].map((job) => this.viewOf(job));
    const names = await readdir(downloadsDir(this.dataDir)).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const sha1 = name.slice(0, -".json".length);
      if (this.runs.has(sha1)) continue;
      const record = await loadDownload(this.dataDir, sha1);
      if (record === null) continue;
      const failed = this.ended.get(sha1)?.view;
      const verifiedBytes = verifiedOf(record);
      views.push({
        sha1,
        name: record.manifest.name,
        size: record.manifest.size,
        state: failed?.state === "failed" && !names.includes(`${sha1}.paused`) ? "failed" : "paused",
        destination: record.destination,
        verifiedBytes,
        bytesFetched: 0,
        rate: 0,
        etaSeconds: null,
        peers: [],
        ...(failed?.error === undefined ? {} : { error: failed.error }),
      });
    }
    const listed = new Set(views.map((view) => view.sha1));
    views.push(...[...this.ended.values()].reverse().map((entry) => entry.view).filter((view) => !listed.has(view.sha1)));
    return views;
  }

  /** Stops a running download, keeping what it verified; a paused one stays paused, across restarts too. */
  async pause(sha1: string): Promise<{ sha1: string; state: "paused" }> {
    const job = this.runs.get(sha1);
    const record = await loadDownload(this.dataDir, sha1);
    if (job === undefined && record === null) throw Errors.noSuchDownload(`${sha1} is not being downloaded here`, "see the daemon's downloads with `p2p status`");
    await writeFile(markerPath(this.dataDir, sha1), "");
    if (job !== undefined) {
      job.own.abort();
      await job.ended;
    }
    this.ended.delete(sha1);
    return { sha1, state: "paused" };
  }

  /** What a resume runs: the same request again, or, for a download left by an earlier run, its record's. */
  async resumeBody(sha1: string): Promise<DownloadBody | null> {
    if (this.runs.has(sha1)) return null;
    const body = this.ended.get(sha1)?.body;
    const record = await loadDownload(this.dataDir, sha1);
    if (body === undefined && record === null) throw Errors.noSuchDownload(`${sha1} has no paused or stopped download here`, "start it again with its SHA-1 or link");
    await unlink(markerPath(this.dataDir, sha1)).catch(() => undefined);
    // A record knows its destination: the request's output (a folder) is not needed again.
    return record !== null ? { sha1, force: false, seed: record.seed } : body!;
  }

  /** Stops a download and removes its partial file and record; also forgets an ended one. */
  async cancel(sha1: string): Promise<{ sha1: string; cancelled: true }> {
    const job = this.runs.get(sha1);
    if (job !== undefined) {
      job.own.abort();
      await job.ended;
    }
    const record = await loadDownload(this.dataDir, sha1);
    const known = this.ended.delete(sha1);
    if (job === undefined && record === null && !known) throw Errors.noSuchDownload(`${sha1} is not being downloaded here`, "see the daemon's downloads with `p2p status`");
    if (record !== null) {
      await unlink(record.partPath).catch(() => undefined);
      await removeDownload(this.dataDir, sha1);
    }
    await unlink(markerPath(this.dataDir, sha1)).catch(() => undefined);
    return { sha1, cancelled: true };
  }

  /** Whether a download left by an earlier run was paused (then a start does not resume it). */
  async isPaused(sha1: string): Promise<boolean> {
    const names = await readdir(downloadsDir(this.dataDir)).catch(() => [] as string[]);
    return names.includes(`${sha1}.paused`);
  }
}
