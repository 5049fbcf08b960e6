import type { FileHandle } from "node:fs/promises";

/**
 * Reads `length` bytes at file `position` into buffer[offset..], in as many reads as it takes. Returns how
 * many it got: fewer than `length` only if the file ended first, which each caller reports in its own words.
 */
export async function readFully(handle: FileHandle, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, offset + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
