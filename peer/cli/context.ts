import type { Command } from "commander";
import { resolve } from "node:path";
import { DEFAULT_TRACKER_URL } from "../../common/constants.js";
import { Errors } from "../errors.js";
import { splitTrackerList, trackerUrls } from "./options.js";

/** The options every command shares, as the program parsed them (flag, then environment, then default). */
export interface GlobalOptions {
  /** Every tracker, in the order given; each is its own tier, all are used at once. Never empty. */
  trackers: string[];
  dataDir: string;
  json: boolean;
}

export function globals(command: Command): GlobalOptions {
  const all = command.optsWithGlobals<{ tracker?: string[]; dataDir: string; json?: boolean }>();
  // The flags or P2P_TRACKER: checked here rather than by commander, so that both are checked alike.
  const env = process.env["P2P_TRACKER"];
  const [raws, from] =
    all.tracker !== undefined && all.tracker.length > 0
      ? [all.tracker, "--tracker"]
      : env !== undefined
        ? [splitTrackerList(env), "P2P_TRACKER"]
        : [[DEFAULT_TRACKER_URL], "the tracker URL"];
  const parsed = trackerUrls(raws);
  if ("bad" in parsed) {
    const what = parsed.bad === "" ? `${from} names no tracker` : `${from} ${JSON.stringify(parsed.bad)} is not a tracker URL`;
    throw Errors.usage(what, "give each tracker's base URL with its scheme, e.g. http://127.0.0.1:8787 or https://tracker.example.workers.dev (P2P_TRACKER: several, comma-separated)");
  }
  return { trackers: parsed.urls, dataDir: resolve(all.dataDir), json: all.json === true };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
