import { unlink } from "node:fs/promises";
import { Errors, fromFsError, P2PError } from "../errors.js";
import { chunkLength, manifestId as idOf, type Manifest } from "../manifest/manifest.js";
import { encodeBitfield, removeDownload, saveDownload, type DownloadJournal, type DownloadRecord } from "../state/download-state.js";
import type { Share } from "../state/share-registry.js";
import type { FileChunkStore } from "../storage/chunk-store.js";
import { pause, throwIfCancelled } from "./cancel.js";
import { BufferPool, type PooledBuffer } from "./buffer-pool.js";
import { refuseExisting } from "./destination.js";
import type { DownloadOptions, DownloadResult, PeerReport } from "./downloader.js";
import { FileHasher } from "./file-hasher.js";
import { settle } from "./finish.js";
import { HashWorker } from "./hash-worker.js";
import { PeerFault, type FetchLimits } from "./peer-http.js";
import type { PeerPool } from "./peer-pool.js";
import { DEFAULT_SCHEDULER_OPTIONS, Scheduler } from "./scheduler.js";
import { SwarmLink } from "./swarm-link.js";

/**
 * The body of one download once its manifest, destination and partial file are settled (downloader.ts):
 * the request loop over the scheduler, verification on the hash thread, writes, the resume journal and
 * checkpoints, and the final check; then the end (finish.ts).
 */

const FLUSH_EVERY_MS = 500;
/** Early chunks that keep their buffers until the SHA-1 reaches them (file-hasher.ts). */
const MAX_HELD_FOR_SHA1 = 6;

/** Waits for `woke` or `ms`, whichever is first, and leaves no timer behind to hold the process open. */
async function wakeOrTick(woke: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([woke, new Promise((done) => (timer = setTimeout(done, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export class Run {
  private readonly scheduler: Scheduler;
  private readonly written: Uint8Array;
  private readonly hasher: FileHasher;
  private readonly aborts = new Map<string, () => void>();
  private readonly buffers: BufferPool;
  /** The second thread: verifies chunks (SHA-256) and hashes the file (SHA-1) while this one runs the network. */
  private readonly worker: HashWorker;
  private readonly id: string;
  private bytesFetched = 0;
  private readonly resumedBytes: number;
  private writing = new Set<Promise<void>>();
  private failure: Error | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private lastFlush = 0;
  private manifestSaved = false;
  private refilling = false;
  private refills = 0;
  private lastProgress = Date.now();
  private verifiedBytes: number;
  private finishing = false;
  private wake: () => void = () => undefined;
  /** Who has what, refusals, newcomers, and this download's chunks served while it runs. */
  private readonly swarm: SwarmLink;

  constructor(
    private readonly options: DownloadOptions,
    private readonly manifest: Manifest,
    private readonly destination: string,
    private readonly partPath: string,
    private readonly store: FileChunkStore,
    private readonly journal: DownloadJournal,
    private readonly pool: PeerPool,
    resumed: number[],
    private readonly limits: FetchLimits,
    private readonly noPeersBudgetMs: number,
  ) {
    const count = manifest.chunks.length;
    const schedulerOptions = { ...DEFAULT_SCHEDULER_OPTIONS, ...options.scheduler };
    this.scheduler = new Scheduler(count, resumed, schedulerOptions);
    // Room for every request in flight plus chunks being written and hashed behind them. Requests only start
    // on a free buffer, so early chunks held for the SHA-1 leave fewer in flight, never more memory.
    // One more for the SHA-1's read-backs, which it keeps.
    this.buffers = new BufferPool(manifest.chunkSize, Math.max(1, Math.min(count, schedulerOptions.maxInflight + 2)) + 1);
    const scratch = this.buffers.take();
    this.worker = new HashWorker(this.buffers.memory, manifest.chunkSize);
    this.written = new Uint8Array(count);
    for (const index of resumed) this.written[index] = 1;
    this.resumedBytes = resumed.reduce((sum, index) => sum + chunkLength(manifest, index), 0);
    this.verifiedBytes = this.resumedBytes;
    const maxHeld = Math.min(MAX_HELD_FOR_SHA1, this.buffers.available - 2);
    const lengthOf = (i: number): number => chunkLength(manifest, i);
    this.hasher = new FileHasher(count, lengthOf, (i) => this.written[i] === 1, this.worker, (i, target, length) => store.readInto(i, target, length), scratch, maxHeld);
    this.id = idOf(manifest);
    this.swarm = new SwarmLink(manifest, store, pool, this.scheduler, resumed, options.serve, options.signal, () => this.wake());
    for (const key of pool.connections.keys()) this.swarm.addPeer(key);
    // Peers a slower source names later (another tracker's answer) join at once, not at the next refill.
    pool.feed((keys) => {
      const taken = keys.filter((key) => this.swarm.addPeer(key)).length;
      if (taken > 0) this.wake();
      return taken;
    });
  }

  async execute(): Promise<DownloadResult> {
    // A cancel wakes the request loop at once rather than at its next tick.
    const wakeOnCancel = (): void => this.wake();
    this.options.signal?.addEventListener("abort", wakeOnCancel);
    let intact: boolean;
    try {
      intact = await this.fetchAll();
    } catch (error) {
      this.swarm.stopServing();
      this.hasher.release();
      await Promise.allSettled(this.writing);
      await this.flush(true).catch(() => undefined);
      await this.store.close();
      throw error;
    } finally {
      this.swarm.close();
      this.options.signal?.removeEventListener("abort", wakeOnCancel);
      await this.worker.close();
      await this.journal.close();
    }
    if (!intact) {
      this.swarm.stopServing();
      await this.discard();
      throw Errors.fileHashMismatch(
        `the assembled file's SHA-1 is not ${this.manifest.sha1}: the manifest the peers sent describes another file`,
        "nothing was written to the destination; the tracker's record for this file may be wrong",
      );
    }
    return this.finish();
  }

  /** Fetches, verifies and writes every chunk; true when the whole file's SHA-1 is then the manifest's. */
  private async fetchAll(): Promise<boolean> {
    // The first record (with the manifest) is saved while the first requests run: a kill before it is
    // saved leaves nothing a rerun would trust, so it starts afresh, and a failure to save ends the download.
    this.flush(true).catch((error: unknown) => this.fail(error, this.options.dataDir, "saving the download's progress"));
    await this.hasher.advance();
    await this.loop();
    if (this.failure !== null) this.hasher.release();
    await Promise.all(this.writing);
    if (this.failure !== null) throw this.failure;
    // A cancel before this point stops the download, even one that came as the last chunks landed (the loop
    // ends when they are all in, without looking at it again): whoever cancelled has not been told it was
    // finishing, and a CLI that said "interrupted" must not find the download completed behind it.
    throwIfCancelled(this.options.signal);
    // Every chunk is verified and on disk: from here on the download finishes, cancelled or not (a Ctrl-C
    // now would only cost a rerun its SHA-1), and says so (the CLI then lets it finish).
    this.finishing = true;
    this.report();
    // A small file can be whole before its first record is saved; that save must land before the record
    // is removed at the end, not after it.
    await this.flushing.catch(() => undefined);
    await this.hasher.advance();
    return this.hasher.complete && (await this.hasher.digest()) === this.manifest.sha1;
  }

  /** Moves the verified file into place, then settles its share and the record, in finish.ts's order. */
  private async finish(): Promise<DownloadResult> {
    try {
      await refuseExisting(this.destination, this.options.force);
      await this.store.publish(this.destination).catch((error: unknown) => {
        throw fromFsError(error, this.destination, "moving the finished file into place");
      });
    } catch (error) {
      // The partial file and the record stay: the same command (with --force, if the destination appeared) finishes it.
      this.swarm.stopServing();
      await this.store.close();
      throw error;
    }
    // Between the rename and the share's record, a request for a chunk is told to ask again in a second
    // (public-server.ts); from the record on, the share answers it.
    try {
      const share = await settle(this.options.dataDir, this.manifest, this.destination, this.options.seed, this.options.registry);
      return this.result(share);
    } finally {
      this.swarm.stopServing();
    }
  }

  private result(share: Share | null): DownloadResult {
    return {
      sha1: this.manifest.sha1,
      path: this.destination,
      name: this.manifest.name,
      size: this.manifest.size,
      manifestId: this.id,
      manifest: this.manifest,
      bytesFetched: this.bytesFetched,
      resumedBytes: this.resumedBytes,
      peers: this.peerReports(),
      share,
    };
  }

  /** Every peer of this download so far: where it came from, what it sent, its strikes. */
  peerReports(): PeerReport[] {
    return this.scheduler.stats().map((p) => {
      const connection = this.pool.get(p.key);
      const { ip, port } = connection.address;
      const firstByteMs = connection.firstByteAt === null ? null : Math.max(0, connection.firstByteAt - this.pool.startedAt);
      return { host: ip, port, ...this.pool.origin(p.key), path: connection.path, firstByteMs, bytes: p.bytes, strikes: p.strikes, banned: p.banned };
    });
  }

  /** Runs until every chunk is verified and written, or a failure that ends the download. */
  private async loop(): Promise<void> {
    while (!this.scheduler.done && this.failure === null) {
      throwIfCancelled(this.options.signal);
      const woke = new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      const now = Date.now();
      for (const { peer, index } of this.scheduler.assign(now, this.buffers.available)) this.request(peer, index);
      if (this.aborts.size === 0 && this.scheduler.usablePeers().length === 0 && !this.scheduler.done) {
        await this.refill();
        continue;
      }
      if (this.aborts.size === 0 && !this.scheduler.done && !this.scheduler.anyRefusing(now)) this.starved();
      this.swarm.lookAgain(false);
      await wakeOrTick(woke, 250);
    }
  }

  /**
   * Peers, but none has a chunk still missing (or none is asked for one: they are incomplete and their
   * news is awaited): the sources are asked again now and then, and with no chunk for as long as a download
   * waits for peers at all, it fails, its progress kept.
   */
  private starved(): void {
    // A peer that refused for want of a slot is there and will serve in turn (one that refuses everything
    // for 60 s is dropped): only the time since the last chunk or refusal counts.
    if (Date.now() - Math.max(this.lastProgress, this.swarm.lastRefusal) > this.noPeersBudgetMs) {
      const missing = this.scheduler.canProgress() ? "" : " (no peer has the chunks still missing)";
      throw Errors.noPeers(
        `no peer sent a chunk of ${this.manifest.sha1} for ${Math.round(this.noPeersBudgetMs / 1000)} s${missing}`,
        "the verified part is kept: run the same command again when a peer that has the rest is online",
      );
    }
    this.swarm.lookAgain(true);
  }

  /**
   * No request in flight and nobody to ask: get peers from the sources again. A peer that keeps failing is
   * revived by a refill, so the budget runs from the last chunk that arrived, not from this call.
   */
  private async refill(): Promise<void> {
    if (this.refilling) return;
    this.refilling = true;
    try {
      const budget = this.noPeersBudgetMs - (Date.now() - this.lastProgress);
      if (budget <= 0) throw this.pool.noPeersError([]);
      if (this.refills++ > 0) {
        const backoff = Math.min(250 * 2 ** this.refills, 5000, budget);
        await pause(backoff * (0.75 + Math.random() * 0.5), this.options.signal);
      }
      await this.pool.refill(budget, this.options.signal);
    } catch (error) {
      const peers = this.scheduler.stats();
      if (error instanceof P2PError && error.code === "NO_PEERS" && peers.length > 0 && peers.every((p) => p.banned)) {
        throw Errors.allPeersLied(
          `every peer that offered ${this.manifest.sha1} (${peers.length}) sent data that does not match its manifest, and was banned`,
          "the verified part is kept: run the same command again when an honest peer is online",
        );
      }
      throw error;
    } finally {
      this.refilling = false;
    }
  }

  private request(peer: string, index: number): void {
    const key = `${peer}#${index}`;
    const expected = chunkLength(this.manifest, index);
    const pooled = this.buffers.take();
    const { done, abort } = this.pool.get(peer).chunk(`/v1/files/${this.manifest.sha1}/chunks/${index}`, pooled.buffer, expected, this.limits);
    this.aborts.set(key, abort);
    done.then(
      (data) => this.received(peer, index, data, pooled),
      (error: unknown) => {
        this.buffers.give(pooled);
        // An answer the manifest contradicts (its length) is a lie like a bad hash; one that is not HTTP is broken.
        const kind = error instanceof PeerFault ? error.kind : "network";
        if (kind === "lie" || kind === "protocol") this.misbehaved(peer, index, kind === "lie" ? "lie" : "broken");
        else if (!this.swarm.refused(peer, index, error)) this.scheduler.failed(peer, index, kind === "aborted" ? "cancelled" : kind);
      },
    ).finally(() => {
      this.aborts.delete(key);
      this.wake();
    });
  }

  /** Verifies a delivered chunk on the hash worker, then writes it and feeds the file's SHA-1. */
  private received(peer: string, index: number, data: Buffer, pooled: PooledBuffer): void {
    const work = this.worker
      .sha256(pooled.slot, data.length)
      .then(async (digest) => {
        if (digest !== this.manifest.chunks[index]) {
          this.misbehaved(peer, index, "lie");
          return;
        }
        const { counted, cancel } = this.scheduler.succeeded(peer, index, data.length, Date.now());
        for (const other of cancel) this.aborts.get(`${other.peer}#${other.index}`)?.();
        // The peer's window has room again now: its next request goes out at once, not once this chunk is
        // written and reached by the file's SHA-1 (which, out of order, can be long after).
        this.wake();
        if (!counted) return;
        this.options.onPeerChunk?.(this.pool.get(peer).address, data.length);
        this.bytesFetched += data.length;
        this.lastProgress = Date.now();
        // The SHA-1 reads the buffer while it is written; it is given back when both are done with it.
        const hashed = this.hasher.offer(index, pooled.slot);
        await this.store.write(index, data);
        await this.journal.append(index);
        this.written[index] = 1;
        this.swarm.verified(index);
        this.verifiedBytes += data.length;
        // Not awaited: the pump may be reading back other chunks, and this buffer is free once `hashed` is.
        this.hasher.advance().catch((error: unknown) => this.fail(error));
        await hashed;
        this.report();
        if (Date.now() - this.lastFlush >= FLUSH_EVERY_MS) await this.flush(false);
      })
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.buffers.give(pooled);
        this.writing.delete(work);
        this.wake();
      });
    this.writing.add(work);
  }

  /** Ends the download with `error` (the first one wins); the partial state is kept. */
  private fail(error: unknown, path = this.partPath, doing = "writing a chunk"): void {
    this.failure ??= error instanceof P2PError ? error : fromFsError(error, path, doing);
    this.wake();
  }

  /** A peer sent something false; once banned, everything it still holds is asked of others. */
  private misbehaved(peer: string, index: number, how: "lie" | "broken"): void {
    if (this.scheduler.misbehaved(peer, index, how)) {
      for (const held of this.scheduler.inflightOf(peer)) this.aborts.get(`${peer}#${held}`)?.();
    }
  }

  private report(): void {
    this.options.onProgress?.({
      name: this.manifest.name,
      size: this.manifest.size,
      verifiedBytes: this.verifiedBytes,
      bytesFetched: this.bytesFetched,
      peers: this.scheduler.usablePeers().length,
      finishing: this.finishing,
    });
  }

  /** Saves which chunks are on disk: the data first (fdatasync), then the record that names them. */
  private flush(force: boolean): Promise<void> {
    this.lastFlush = Date.now();
    this.flushing = this.flushing.catch(() => undefined).then(async () => {
      await this.store.sync();
      const record: DownloadRecord = {
        sha1: this.manifest.sha1,
        manifest: this.manifest,
        manifestId: this.id,
        destination: this.destination,
        partPath: this.partPath,
        verified: encodeBitfield(this.manifest.chunks.length, (i) => this.written[i] === 1),
        seed: this.options.seed,
        updatedAt: new Date().toISOString(),
      };
      await saveDownload(this.options.dataDir, record, !this.manifestSaved);
      this.manifestSaved = true;
    });
    return force ? this.flushing : this.flushing.catch(() => undefined);
  }

  private async discard(): Promise<void> {
    await this.store.close();
    await unlink(this.partPath).catch(() => undefined);
    await removeDownload(this.options.dataDir, this.manifest.sha1);
  }
}
