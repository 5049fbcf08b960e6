import { createApp } from "./app.js";

/** The tracker Worker: the Hono app in front, one Swarm Durable Object per file behind it. */
export { Swarm } from "./swarm.js";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
