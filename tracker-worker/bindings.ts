import type { RelayRegistry } from "./relay-registry.js";
import type { Rendezvous } from "./rendezvous.js";
import type { Swarm } from "./swarm.js";
import { errors } from "./errors.js";

/**
 * The Worker's Durable Objects, one stub each. `npm run types:worker` types the bindings through
 * import("./index"), which typescript-eslint's project service does not resolve (it sees an error type), so
 * each namespace is named here with its class.
 */

export type App = { Bindings: Env };

export function swarm(env: Env, sha1: string): DurableObjectStub<Swarm> {
  const namespace = env.SWARM as unknown as DurableObjectNamespace<Swarm>;
  return namespace.get(namespace.idFromName(sha1));
}

export function rendezvous(env: Env, peerId: string): DurableObjectStub<Rendezvous> {
  const namespace = env.RENDEZVOUS as unknown as DurableObjectNamespace<Rendezvous>;
  return namespace.get(namespace.idFromName(peerId));
}

/** One registry for the whole tracker: relays are few (MAX_RELAYS) and every asker needs to see them all. */
export function relays(env: Env): DurableObjectStub<RelayRegistry> {
  const namespace = env.RELAYS as unknown as DurableObjectNamespace<RelayRegistry>;
  return namespace.get(namespace.idFromName("relays"));
}

/**
 * A Durable Object that is overloaded, or was reset (its runtime ran out of a resource, or it is being
 * moved), says so on the error: the client should come back, which is a 503, not our bug.
 */
function isOverload(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const flags = err as { overloaded?: unknown; retryable?: unknown; durableObjectReset?: unknown };
  return flags.overloaded === true || flags.retryable === true || flags.durableObjectReset === true;
}

/** Runs one call to a Durable Object, turning its overload into `503 overloaded`. */
export async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (isOverload(err)) throw errors.overloaded();
    throw err;
  }
}
