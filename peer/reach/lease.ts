/**
 * When a mapping is renewed, and when a failed attempt is tried again: plain functions of their inputs.
 * Renewal comes at half the lease (RFC 6886 §3.3 and RFC 6887 §11.2.1 say between half and five eighths), so
 * a renewal that fails has the other half to be retried in; retries back off with jitter.
 */

/** What is asked of a router: two hours, renewed every hour. */
export const DEFAULT_LEASE_SECONDS = 7200;
/** With no mapping at all (no router answered), how long until the whole search is tried again. */
export const SEARCH_AGAIN_MS = 5 * 60_000;

/** Milliseconds until a mapping granted for `lifetimeSeconds` is renewed; null for a permanent one (0). */
export function renewDelayMs(lifetimeSeconds: number): number | null {
  if (lifetimeSeconds === 0) return null;
  return Math.max(1000, (lifetimeSeconds * 1000) / 2);
}

/**
 * After `failures` failed renewals in a row: 1 s, 2 s, 4 s, ... at most 60 s, with up to 10% less at random,
 * and never later than half the time the lease has left, so that a few tries fit before it ends.
 */
export function retryDelayMs(failures: number, msLeft: number, random: number = Math.random()): number {
  const backoff = Math.min(1000 * 2 ** Math.max(0, failures - 1), 60_000) * (0.9 + random * 0.1);
  return Math.max(500, Math.min(backoff, msLeft / 2));
}

/**
 * The lease to ask for: `requested` seconds, at least 2 (1 is below what routers grant), at most a day, and
 * what a router grants is believed only up to a day too: a router claiming years must still be asked again.
 */
export function clampLease(seconds: number): number {
  if (!Number.isFinite(seconds)) return DEFAULT_LEASE_SECONDS;
  return Math.min(86_400, Math.max(2, Math.floor(seconds)));
}
