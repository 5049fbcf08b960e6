import type { ServerResponse } from "node:http";
import type { RateLimiter } from "./rate-limiter.js";

/**
 * Upload pacing for the public server: bytes go out in slices as the limiter allows, each write waiting for
 * the socket to drain when it is full. Every slice asks the limiter again, so a limit set, changed or lifted
 * while a file is being sent applies to its next slice.
 */

/** Writes `data` and ends the reply, paced; stops quietly when the client goes away. */
export async function endPaced(res: ServerResponse, data: Buffer, limiter: RateLimiter): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const size = limiter.limited ? Math.min(limiter.slice, data.length - at) : data.length - at;
    const turn = limiter.take(size);
    if (turn !== null) await turn;
    if (res.destroyed) return;
    const room = res.write(data.subarray(at, at + size));
    at += size;
    if (!room && at < data.length && !(await drained(res))) return;
  }
  res.end();
}

/** Resolves true once `res` can take more, false if it closed first; leaves no listener behind. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/** A stage for `pipeline(file, paced(limiter), res)`: passes parts through, in slices while a limit is set. */
export function paced(limiter: RateLimiter): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    for await (const part of source) {
      for (let at = 0; at < part.length; ) {
        const size = limiter.limited ? Math.min(limiter.slice, part.length - at) : part.length - at;
        const turn = limiter.take(size);
        if (turn !== null) await turn;
        yield at === 0 && size === part.length ? part : part.subarray(at, at + size);
        at += size;
      }
    }
  };
}
