import { Errors } from "../errors.js";

/**
 * A download's cancel (Ctrl-C, or the control connection of a daemon's download closing) has to end its
 * waits at once: a tracker that does not answer, a peer's manifest, a back-off. What was started goes on
 * until the download's connections are closed; only the waiting ends.
 */

export function cancelled(): Error {
  return Errors.cancelled("download cancelled");
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw cancelled();
}

/** `work`, unless `signal` aborts first: then a cancel error at once. */
export function unlessCancelled<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelled());
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Waits `ms`, or less if `signal` aborts; leaves no timer behind either way. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (signal?.aborted === true) done();
    else signal?.addEventListener("abort", done, { once: true });
  });
}
