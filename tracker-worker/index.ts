import { createApp } from "./app.js";

/**
 * The tracker Worker: the Hono app in front; behind it one Swarm Durable Object per file, one Rendezvous per
 * peer that keeps a socket open, and the one RelayRegistry.
 */
export { RelayRegistry } from "./relay-registry.js";
export { Rendezvous } from "./rendezvous.js";
export { Swarm } from "./swarm.js";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
