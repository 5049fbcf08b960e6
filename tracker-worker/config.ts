import type { TRACKER_VARS } from "../common/constants.js";

/** The tracker's settings, read from wrangler.toml [vars] (or --var in tests and benchmarks). */

export interface TrackerConfig {
  intervalSeconds: number;
  graceSeconds: number;
  trustClientIp: boolean;
  maxPeersPerFile: number;
  maxPeersPerAddress: number;
  /** 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** Dial back announcing peers (dial-back.ts); off with DIAL_BACK=false. */
  dialBack: boolean;
  /** Dial private and reserved addresses too: local and test trackers only. */
  dialBackPrivate: boolean;
  dialBackTimeoutMs: number;
}

export type TrackerVars = Pick<Env, (typeof TRACKER_VARS)[number]>;

function whole(raw: string | undefined, fallback: number, min: number): number {
  const value = Number(raw);
  return raw !== undefined && Number.isSafeInteger(value) && value >= min ? value : fallback;
}

export function readConfig(vars: Partial<TrackerVars>): TrackerConfig {
  return {
    intervalSeconds: whole(vars.ANNOUNCE_INTERVAL_SECONDS, 120, 1),
    graceSeconds: whole(vars.ANNOUNCE_GRACE_SECONDS, 60, 0),
    trustClientIp: vars.TRUST_CLIENT_IP === "true",
    maxPeersPerFile: whole(vars.MAX_PEERS_PER_FILE, 10_000, 1),
    maxPeersPerAddress: whole(vars.MAX_PEERS_PER_ADDRESS, 8, 1),
    rateLimitPerMinute: whole(vars.RATE_LIMIT_PER_MINUTE, 600, 0),
    dialBack: vars.DIAL_BACK !== "false",
    dialBackPrivate: vars.DIAL_BACK_PRIVATE === "true",
    dialBackTimeoutMs: Math.min(whole(vars.DIAL_BACK_TIMEOUT_MS, 3000, 100), 10_000),
  };
}
