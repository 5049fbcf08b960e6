import type { ServerResponse } from "node:http";

/**
 * The dashboard's live feed (server-sent events): a `snapshot` of everything when a page connects, then only
 * what changed. The daemon is looked at on a short tick while a page is connected, and nothing is done
 * while none is: the shares list, which can be 10,000 entries, only when the registry's change count moves
 * (sent as `shares` with what was added, removed or changed); the downloads (50 at most) twice a second;
 * the status every two seconds. Each is sent only when it differs from what was sent last.
 */

export interface FeedSource {
  status(): unknown;
  listShares(): Promise<unknown>;
  listDownloads(): Promise<unknown>;
  /** Moves whenever the list of shares changes. */
  sharesChanges(): number;
  /** Moves whenever a share's served bytes or peers change. */
  statsChanges(): number;
}

const TICK_MS = 250;
const DOWNLOADS_EVERY = 2;
const STATUS_EVERY = 8;
const STATS_EVERY = 4;
/** A comment line now and then, so that a proxy or the browser does not give up on a quiet stream. */
const KEEPALIVE_EVERY = 60;
const MAX_CLIENTS = 16;

interface ShareEntry {
  sha1: string;
}

export class Feed {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  private busy = false;
  private sharesSeen = -1;
  private statsSeen = -1;
  private shares = new Map<string, string>();
  private downloads = "";
  private status = "";

  constructor(private readonly source: FeedSource) {}

  get size(): number {
    return this.clients.size;
  }

  async open(res: ServerResponse, headers: Record<string, string>): Promise<void> {
    if (this.clients.size >= MAX_CLIENTS) {
      // The oldest goes: a page left open in a forgotten tab should not lock the newest out.
      const oldest = this.clients.values().next().value;
      if (oldest !== undefined) this.drop(oldest);
    }
    res.writeHead(200, { ...headers, "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no" });
    res.on("close", () => this.drop(res));
    this.clients.add(res);
    const shares = (await this.source.listShares()) as ShareEntry[];
    const downloads = await this.source.listDownloads();
    if (res.destroyed) return;
    // Every page gets the same base: the first snapshot also sets what later changes are measured from.
    if (this.clients.size === 1) this.remember(shares, downloads);
    send(res, "snapshot", { status: this.source.status(), shares, downloads });
    this.timer ??= setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  private remember(shares: readonly ShareEntry[], downloads: unknown): void {
    this.sharesSeen = this.source.sharesChanges();
    this.statsSeen = this.source.statsChanges();
    this.shares = new Map(shares.map((share) => [share.sha1, JSON.stringify(share)]));
    this.downloads = JSON.stringify(downloads);
  }

  private drop(res: ServerResponse): void {
    this.clients.delete(res);
    if (!res.destroyed) res.destroy();
    if (this.clients.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private broadcast(event: string, data: unknown): void {
    for (const res of this.clients) send(res, event, data);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.ticks++;
      const sharesMoved = this.source.sharesChanges() !== this.sharesSeen;
      const statsMoved = this.ticks % STATS_EVERY === 0 && this.source.statsChanges() !== this.statsSeen;
      if (sharesMoved || statsMoved) await this.sendShares();
      if (this.ticks % DOWNLOADS_EVERY === 0) {
        const downloads = JSON.stringify(await this.source.listDownloads());
        if (downloads !== this.downloads) {
          this.downloads = downloads;
          this.broadcastRaw("downloads", downloads);
        }
      }
      if (this.ticks % STATUS_EVERY === 0) {
        const status = JSON.stringify(this.source.status());
        if (status !== this.status) {
          this.status = status;
          this.broadcastRaw("status", status);
        }
      }
      if (this.ticks % KEEPALIVE_EVERY === 0) for (const res of this.clients) res.write(": keep-alive\n\n");
    } catch (error) {
      // The next tick tries again; a page is not the place to report the daemon's own trouble.
      process.stderr.write(`p2p daemon: dashboard feed: ${error instanceof Error ? error.message : String(error)}\n`);
    } finally {
      this.busy = false;
    }
  }

  private async sendShares(): Promise<void> {
    this.sharesSeen = this.source.sharesChanges();
    this.statsSeen = this.source.statsChanges();
    const list = (await this.source.listShares()) as ShareEntry[];
    const now = new Map(list.map((share) => [share.sha1, JSON.stringify(share)]));
    const removed = [...this.shares.keys()].filter((sha1) => !now.has(sha1));
    const changed: string[] = [];
    for (const [sha1, text] of now) if (this.shares.get(sha1) !== text) changed.push(text);
    this.shares = now;
    if (removed.length === 0 && changed.length === 0) return;
    this.broadcastRaw("shares", `{"removed":${JSON.stringify(removed)},"changed":[${changed.join(",")}]}`);
  }

  private broadcastRaw(event: string, json: string): void {
    for (const res of this.clients) res.write(`event: ${event}\ndata: ${json}\n\n`);
  }

  close(): void {
    for (const res of [...this.clients]) this.drop(res);
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
