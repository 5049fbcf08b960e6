import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { Errors, fromFsError } from "../errors.js";
import type { Share } from "../state/share-registry.js";

/**
 * Opens a shared file for serving, only if it is still the file that was hashed: same device and inode
 * (a path swapped for a symlink or another file is not followed), same size and mtime (an edited file is
 * not served until it is shared again).
 */
export async function openSharedFile(share: Share): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(share.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw Errors.fileChanged(`${share.path} is now a symbolic link; it is not served`);
    throw fromFsError(error, share.path, "opening the shared file");
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.dev !== share.dev || stat.ino !== share.ino) {
      throw Errors.fileChanged(`${share.path} is no longer the file that was shared; share it again`);
    }
    if (stat.size !== share.size || stat.mtimeMs !== share.mtimeMs) {
      throw Errors.fileChanged(`${share.path} changed since it was shared (size or time); share it again`);
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Whether the share's file is still as hashed, without keeping it open. */
export async function shareIsIntact(share: Share): Promise<boolean> {
  try {
    const handle = await openSharedFile(share);
    await handle.close();
    return true;
  } catch {
    return false;
  }
}
