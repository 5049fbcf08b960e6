import { Errors } from "../errors.js";
import { RateLimiter } from "./rate-limiter.js";
import { formatRate, rateFromJson } from "./rate.js";

/**
 * The daemon's two global limits: every byte its public port sends, every chunk byte its downloads read.
 * What the control API shows and changes (`GET`/`PUT /v1/limits`).
 */

export interface LimitsView {
  /** Bytes per second; 0 = no limit. */
  uploadRate: number;
  downloadRate: number;
  /** The same, as `p2p status` and `p2p limits` print them (`4 MiB/s`, `unlimited`). */
  upload: string;
  download: string;
}

export class TransferLimits {
  readonly upload: RateLimiter;
  readonly download: RateLimiter;

  constructor(uploadRate = 0, downloadRate = 0) {
    this.upload = new RateLimiter(uploadRate);
    this.download = new RateLimiter(downloadRate);
  }

  view(): LimitsView {
    const { rate: uploadRate } = this.upload;
    const { rate: downloadRate } = this.download;
    return { uploadRate, downloadRate, upload: formatRate(uploadRate), download: formatRate(downloadRate) };
  }

  /**
   * Applies `{uploadRate?, downloadRate?}` (numbers of bytes per second, or strings such as "2M"); both are
   * checked before either changes, so a bad value changes nothing.
   */
  change(body: Record<string, unknown>): LimitsView {
    const unknown = Object.keys(body).filter((key) => key !== "uploadRate" && key !== "downloadRate");
    if (unknown.length > 0) throw Errors.invalidRate(`unknown field ${JSON.stringify(unknown[0])}: the limits are uploadRate and downloadRate`);
    if (!("uploadRate" in body) && !("downloadRate" in body)) throw Errors.invalidRate("give uploadRate, downloadRate or both");
    const upload = "uploadRate" in body ? rateFromJson(body["uploadRate"], "uploadRate") : this.upload.rate;
    const download = "downloadRate" in body ? rateFromJson(body["downloadRate"], "downloadRate") : this.download.rate;
    if (upload !== this.upload.rate) this.upload.setRate(upload);
    if (download !== this.download.rate) this.download.setRate(download);
    return this.view();
  }
}
