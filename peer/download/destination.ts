import { stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Errors, fromFsError, P2PError } from "../errors.js";
import { safeFileName } from "./safe-name.js";

/** Where a download lands: `-o` as a file path, `-o` as an existing folder, or the current folder. */
export async function resolveDestination(output: string | undefined, manifestName: string, sha1: string): Promise<string> {
  const name = safeFileName(manifestName, sha1);
  if (output === undefined) return resolve(process.cwd(), name);
  const target = resolve(output);
  const info = await stat(target).catch(() => null);
  if (info?.isDirectory() === true) return join(target, name);
  const folder = dirname(target);
  const parent = await stat(folder).catch((error: NodeJS.ErrnoException) => error);
  if (parent instanceof Error) {
    if (parent.code === "ENOENT") throw Errors.fileNotFound(`the folder ${folder} does not exist`, "create it first, or choose another -o");
    throw fromFsError(parent, folder, "looking for the folder to download into");
  }
  if (!parent.isDirectory()) throw Errors.usage(`${folder} is not a folder`, "choose another -o");
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

/**
 * Why the partial file could not be made, said of the destination the user gave (the hidden partial file
 * is ours, not theirs): a folder that is read-only or not ours to write, or one that takes no new files at
 * all (/proc answers ENOENT to a create in a folder that exists).
 */
export async function unwritableDestination(error: unknown, destination: string): Promise<P2PError> {
  if (error instanceof P2PError) return error;
  const folder = dirname(destination);
  const hint = "choose another -o, in a folder you can write to";
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case "EACCES":
    case "EPERM":
      return Errors.io(`cannot write ${destination}: the folder ${folder} is not writable (permission denied)`, hint);
    case "EROFS":
      return Errors.io(`cannot write ${destination}: the folder ${folder} is not writable (a read-only file system)`, hint);
    case "ENOENT":
    case "ENOTDIR":
      if ((await stat(folder).catch(() => null))?.isDirectory() !== true) {
        return Errors.fileNotFound(`cannot write ${destination}: the folder ${folder} no longer exists`, "create it, or choose another -o");
      }
      return Errors.io(`cannot write ${destination}: the folder ${folder} does not take new files`, hint);
    default:
      return fromFsError(error, destination, "creating its partial file");
  }
}
