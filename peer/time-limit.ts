/**
 * What `work` gives, or `fallback` once `ms` have passed without it; a rejection of `work` passes through.
 * No timer is left behind either way (the one place the daemon, downloads, the DHT, port mapping and the
 * tracker look-up bound a wait).
 */
export async function orAfter<T, F>(work: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
