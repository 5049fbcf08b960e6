import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat, unlink } from "node:fs/promises";
import { fromFsError } from "../errors.js";
import type { Manifest } from "../manifest/manifest.js";
import { removeDownload, type DownloadRecord } from "../state/download-state.js";
import type { Share, ShareRegistry } from "../state/share-registry.js";
import { resolveDestination } from "./destination.js";
import { seedDownloaded } from "./seed.js";

/**
 * The end of a download, in an order that an interruption at any point (Ctrl-C, kill -9, power loss)
 * leaves something a rerun or a daemon start completes:
 *
 *   1. the verified partial file is fsynced and renamed into place (download-run.ts);
 *   2. the share is recorded in the data dir (when seeding);
 *   3. the download's record is removed, its checkpoint first: from then on the download is over.
 *
 * Before 1, the record and the partial file resume as any unfinished download does. Between 1 and 3, the
 * record remains and the partial file is gone: finishInPlace sees the file at its destination, checks it
 * against the manifest's SHA-1, and does 2 and 3 again (recording a share twice replaces it). After the
 * checkpoint is removed, only a journal or manifest may remain, which the next download of the file
 * overwrites.
 */

/** Steps 2 and 3: the share (or null when not seeding), then the record goes. */
export async function settle(dataDir: string, manifest: Manifest, destination: string, seed: boolean, registry?: ShareRegistry): Promise<Share | null> {
  const share = seed ? await seedDownloaded(dataDir, destination, manifest, registry) : null;
  await removeDownload(dataDir, manifest.sha1);
  return share;
}

export interface FinishedInPlace {
  destination: string;
  share: Share | null;
}

/**
 * A download interrupted between the rename and the removal of its record: its partial file is gone and
 * its destination holds the file. Settles it, or returns null when the record describes anything else: a
 * download to go on with, another destination, or a destination holding something else (which is then
 * refused, or replaced with --force, as any existing file is).
 */
export async function finishInPlace(
  dataDir: string,
  record: DownloadRecord,
  output: string | undefined,
  seed: boolean,
  registry?: ShareRegistry,
): Promise<FinishedInPlace | null> {
  const { manifest } = record;
  const destination = await resolveDestination(output ?? record.destination, manifest.name, manifest.sha1);
  if (destination !== record.destination) return null;
  if ((await stat(record.partPath).catch(() => null)) !== null) return null;
  return adoptExisting(dataDir, manifest, destination, null, seed, registry);
}

/**
 * A destination that exists when a download (without --force) would start: if it already is the file, it
 * is settled as downloaded, with whatever is left of a record of this file removed (a run stopped after its
 * rename whose checkpoint was already gone, or whose CLI was stopped before it heard; or a copy put there
 * by hand). Null when it is anything else, which the caller refuses.
 */
export async function adoptExisting(
  dataDir: string,
  manifest: Manifest,
  destination: string,
  leftoverPart: string | null,
  seed: boolean,
  registry?: ShareRegistry,
): Promise<FinishedInPlace | null> {
  if (!(await holdsFile(destination, manifest))) return null;
  if (leftoverPart !== null) await unlink(leftoverPart).catch(() => undefined);
  return { destination, share: await settle(dataDir, manifest, destination, seed, registry) };
}

/** Whether `path` is the manifest's file: its size, then (reading it once) its SHA-1. */
async function holdsFile(path: string, manifest: Manifest): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  if (info?.isFile() !== true || info.size !== manifest.size) return false;
  const sha1 = createHash("sha1");
  try {
    for await (const part of createReadStream(path)) sha1.update(part as Buffer);
  } catch (error) {
    throw fromFsError(error, path, "checking the downloaded file");
  }
  return sha1.digest("hex") === manifest.sha1;
}
