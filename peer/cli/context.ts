import type { Command } from "commander";
import { resolve } from "node:path";
import { Errors } from "../errors.js";
import { trackerUrlOrNull } from "./options.js";

/** The options every command shares, as the program parsed them (flag, then environment, then default). */
export interface GlobalOptions {
  tracker: string;
  dataDir: string;
  json: boolean;
}

export function globals(command: Command): GlobalOptions {
  const all = command.optsWithGlobals<{ tracker: string; dataDir: string; json?: boolean }>();
  const tracker = trackerUrlOrNull(all.tracker);
  if (tracker === null) {
    // The flag or P2P_TRACKER: checked here rather than by commander, so that both are checked alike.
    const from = command.getOptionValueSourceWithGlobals("tracker") === "cli" ? "--tracker" : process.env["P2P_TRACKER"] !== undefined ? "P2P_TRACKER" : "the tracker URL";
    throw Errors.usage(`${from} ${JSON.stringify(all.tracker)} is not a tracker URL`, "give the tracker's base URL with its scheme, e.g. http://127.0.0.1:8787 or https://tracker.example.workers.dev");
  }
  return { tracker, dataDir: resolve(all.dataDir), json: all.json === true };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
