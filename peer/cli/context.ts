import type { Command } from "commander";
import { resolve } from "node:path";

/** The options every command shares, as the program parsed them (flag, then environment, then default). */
export interface GlobalOptions {
  tracker: string;
  dataDir: string;
  json: boolean;
}

export function globals(command: Command): GlobalOptions {
  const all = command.optsWithGlobals<{ tracker: string; dataDir: string; json?: boolean }>();
  return { tracker: all.tracker, dataDir: resolve(all.dataDir), json: all.json === true };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
