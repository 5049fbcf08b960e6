import { stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Errors } from "../errors.js";
import { safeFileName } from "./safe-name.js";

/** Where a download lands: `-o` as a file path, `-o` as an existing folder, or the current folder. */
export async function resolveDestination(output: string | undefined, manifestName: string, sha1: string): Promise<string> {
  const name = safeFileName(manifestName, sha1);
  if (output === undefined) return resolve(process.cwd(), name);
  const target = resolve(output);
  const info = await stat(target).catch(() => null);
  if (info?.isDirectory() === true) return join(target, name);
  const parent = await stat(dirname(target)).catch(() => null);
  if (parent?.isDirectory() !== true) throw Errors.usage(`${dirname(target)} is not a folder`, "create it first, or choose another -o");
  return target;
}

export async function refuseExisting(destination: string, force: boolean): Promise<void> {
  if (force) return;
  const info = await stat(destination).catch(() => null);
  if (info !== null) {
    throw Errors.destinationExists(`${destination} already exists`, "choose another -o, or pass --force to replace it");
  }
}

/** The partial file lives beside the destination, so that the final rename stays on one file system. */
export function partPathFor(destination: string): string {
  return join(dirname(destination), `.${basename(destination)}.p2p-part`);
}
