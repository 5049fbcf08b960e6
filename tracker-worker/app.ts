import { Hono, type Context } from "hono";
import { API_PREFIX, MAX_ANNOUNCE_BYTES } from "../common/constants.js";
import type { HealthReply } from "../common/wire.js";
import { guarded, swarm, type App } from "./bindings.js";
import { readJsonBody } from "./body.js";
import { connectionAddress, peerAddress } from "./client-address.js";
import { readConfig } from "./config.js";
import { errors, TrackerError } from "./errors.js";
import { RateLimiter } from "./rate-limit.js";
import { addRendezvousRoutes, RENDEZVOUS_PATHS } from "./rendezvous-routes.js";
import type { SwarmResult } from "./swarm.js";
import { parseAnnounce, parseFileId, parseLimit } from "./validate.js";

let limiter: { perMinute: number; limiter: RateLimiter } | null = null;

function rateLimiter(perMinute: number): RateLimiter {
  if (limiter === null || limiter.perMinute !== perMinute) limiter = { perMinute, limiter: new RateLimiter(perMinute) };
  return limiter.limiter;
}

async function call<T>(run: () => Promise<SwarmResult<T>>, sha1: string): Promise<T> {
  const result = await guarded(run);
  if (result.ok) return result.value;
  switch (result.code) {
    case "key_mismatch":
      throw errors.forbiddenKey();
    case "swarm_full":
      throw errors.swarmFull();
    case "address_limit":
      throw errors.tooManyFromAddress();
    case "unknown_file":
      throw errors.unknownFile(sha1);
  }
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function errorReply(c: Context<App>, err: TrackerError): Response {
  if (err.retryAfterSeconds !== undefined) c.header("Retry-After", String(err.retryAfterSeconds));
  return c.json(err.toBody(), err.status);
}

export function createApp(): Hono<App> {
  const app = new Hono<App>();

  app.use("*", async (c, next) => {
    const config = readConfig(c.env);
    const address = connectionAddress(c.req.raw.headers);
    if (address !== null) {
      const wait = rateLimiter(config.rateLimitPerMinute).take(address, Date.now());
      if (wait > 0) throw errors.rateLimited(wait);
    }
    await next();
  });

  app.get(`${API_PREFIX}/health`, async (c) => {
    const ok = await swarm(c.env, "health").ping();
    if (!ok) throw errors.overloaded();
    return c.json({ ok: true, storage: "ok" } satisfies HealthReply);
  });

  app.post(`${API_PREFIX}/files/:sha1/peers`, async (c) => {
    const sha1 = parseFileId(c.req.param("sha1"));
    const body = parseAnnounce(await readJsonBody(c.req.raw, MAX_ANNOUNCE_BYTES));
    const config = readConfig(c.env);
    const ip = peerAddress(c.req.raw.headers, body.ip, config.trustClientIp);
    // Dialled back only where the announce came from: a claimed address (TRUST_CLIENT_IP) is recorded, never dialled.
    const from = connectionAddress(c.req.raw.headers);
    const keyHash = await sha256Hex(body.key);
    const limit = parseLimit(c.req.query("limit"));
    const reply = await call(
      () =>
        swarm(c.env, sha1).announce({
          peerId: body.peerId,
          keyHash,
          ip,
          port: body.port,
          complete: body.left === 0,
          stopped: body.event === "stopped",
          mapped: body.mapped === true,
          limit,
          ...(from !== null && from === ip ? { dialIp: from } : {}),
          ...(body.file === undefined ? {} : { file: body.file }),
        }),
      sha1,
    );
    return c.json(reply);
  });

  app.get(`${API_PREFIX}/files/:sha1/peers`, async (c) => {
    const sha1 = parseFileId(c.req.param("sha1"));
    const limit = parseLimit(c.req.query("limit"));
    return c.json(await call(() => swarm(c.env, sha1).peers(limit), sha1));
  });

  app.get(`${API_PREFIX}/files/:sha1`, async (c) => {
    const sha1 = parseFileId(c.req.param("sha1"));
    return c.json(await call(() => swarm(c.env, sha1).stats(sha1), sha1));
  });

  addRendezvousRoutes(app);

  for (const path of [`${API_PREFIX}/health`, `${API_PREFIX}/files/:sha1/peers`, `${API_PREFIX}/files/:sha1`, ...RENDEZVOUS_PATHS]) {
    app.all(path, (c) => {
      throw errors.methodNotAllowed(c.req.method, c.req.path);
    });
  }

  app.notFound((c) => errorReply(c, errors.notFound(c.req.path)));

  app.onError((err, c) => {
    if (err instanceof TrackerError) return errorReply(c, err);
    console.error("tracker: internal error", err);
    return c.json({ error: { code: "internal", message: "internal error" } }, 500);
  });

  return app;
}
