import type { DownloadProgress } from "../download/downloader.js";

/** A one-line progress bar on stderr, redrawn at most 10 times a second, only when stderr is a terminal. */

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class ProgressBar {
  private readonly started = Date.now();
  private lastDraw = 0;
  private startBytes: number | null = null;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return this.stream.isTTY;
  }

  update(progress: DownloadProgress): void {
    if (!this.enabled) return;
    const now = Date.now();
    this.startBytes ??= progress.verifiedBytes - progress.bytesFetched;
    if (now - this.lastDraw < 100 && progress.verifiedBytes < progress.size) return;
    this.lastDraw = now;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = progress.bytesFetched / seconds;
    const fraction = progress.size === 0 ? 1 : progress.verifiedBytes / progress.size;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
    const eta = rate > 0 ? (progress.size - progress.verifiedBytes) / rate : Number.POSITIVE_INFINITY;
    const line = `[${bar}] ${(fraction * 100).toFixed(1).padStart(5)}% ${formatBytes(progress.verifiedBytes)}/${formatBytes(progress.size)} ${formatBytes(rate)}/s ${progress.peers} peers ETA ${formatEta(eta)}`;
    this.stream.write(`\r${line.slice(0, (this.stream.columns || 100) - 1)}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.stream.write("\n");
    this.drawn = false;
  }
}
