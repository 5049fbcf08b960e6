import type { Hono } from "hono";
import { API_PREFIX } from "../common/constants.js";
import { mintRelayToken, relayTokenKey } from "../common/relay-token.js";
import {
  DERIVED_PEER_ID,
  MAX_RENDEZVOUS_BODY_BYTES,
  peerIdOfKey,
  type PunchReply,
  type RelayOfferReply,
  type RelayReply,
  type ReverseReply,
} from "../common/rendezvous-wire.js";
import { guarded, relays, rendezvous, type App } from "./bindings.js";
import { readJsonBody } from "./body.js";
import { connectionAddress } from "./client-address.js";
import { errors } from "./errors.js";
import { familyOf } from "./peer-table.js";
import { randomHex } from "./random-hex.js";
import type { RelayChoice } from "./relay-pick.js";
import type { RegistryResult } from "./relay-registry.js";
import { ADDRESS_HEADER, type RendezvousResult } from "./rendezvous.js";
import {
  parseBearerKey,
  parsePeerIdParam,
  parsePunchRequest,
  parseRelayOffer,
  parseRelayRequest,
  parseReverseRequest,
} from "./rendezvous-validate.js";

/**
 * The routes that connect peers through the tracker (docs/protocol.md §1.4): the Rendezvous socket, the three
 * orders, and relay offers. The address an order carries is always the asker's connection address
 * (CF-Connecting-IP), never one from a body, even under TRUST_CLIENT_IP: an order makes a peer dial, and a
 * claimed address would let anyone aim every unreachable peer at a host of their choice.
 */

function askerAddress(headers: Headers): string {
  const ip = connectionAddress(headers);
  if (ip === null) throw errors.noClientAddress();
  return ip;
}

function unwrap<T>(result: RendezvousResult<T>): T {
  if (result.ok) return result.value;
  switch (result.code) {
    case "peer_offline":
      throw errors.peerOffline();
    case "peer_silent":
      throw errors.peerSilent();
    case "peer_refused":
      throw errors.peerRefused(result.reason);
    case "order_limit":
      throw errors.orderLimit(result.retryAfter);
  }
}

function unwrapRegistry<T>(result: RegistryResult<T>): T {
  if (result.ok) return result.value;
  throw result.code === "relays_full" ? errors.relaysFull() : errors.tooManyFromAddress();
}

export const RENDEZVOUS_PATHS = [
  `${API_PREFIX}/peers/:peerId/socket`,
  `${API_PREFIX}/peers/:peerId/reverse`,
  `${API_PREFIX}/peers/:peerId/punch`,
  `${API_PREFIX}/peers/:peerId/relay`,
  `${API_PREFIX}/relays`,
];

export function addRendezvousRoutes(app: Hono<App>): void {
  app.get(`${API_PREFIX}/peers/:peerId/socket`, async (c) => {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") throw errors.upgradeRequired();
    const peerId = c.req.param("peerId");
    const key = parseBearerKey(c.req.header("Authorization"));
    if (!DERIVED_PEER_ID.test(peerId) || (await peerIdOfKey(key)) !== peerId) throw errors.keyNotOfPeer();
    const ip = askerAddress(c.req.raw.headers);
    // A fresh request: the object is told the address the Worker saw, and nothing else the client sent.
    const upgrade = new Request("https://rendezvous/socket", { headers: { Upgrade: "websocket", [ADDRESS_HEADER]: ip } });
    return guarded(() => rendezvous(c.env, peerId).fetch(upgrade));
  });

  app.post(`${API_PREFIX}/peers/:peerId/reverse`, async (c) => {
    const peerId = parsePeerIdParam(c.req.param("peerId"));
    const body = parseReverseRequest(await readJsonBody(c.req.raw, MAX_RENDEZVOUS_BODY_BYTES));
    const ip = askerAddress(c.req.raw.headers);
    const order = { type: "reverse", id: randomHex(), ip, port: body.port, nonce: body.nonce } as const;
    unwrap(await guarded<RendezvousResult<ReverseReply>>(() => rendezvous(c.env, peerId).order(order, ip)));
    return c.json({ sent: true } satisfies ReverseReply, 202);
  });

  app.post(`${API_PREFIX}/peers/:peerId/punch`, async (c) => {
    const peerId = parsePeerIdParam(c.req.param("peerId"));
    const body = parsePunchRequest(await readJsonBody(c.req.raw, MAX_RENDEZVOUS_BODY_BYTES));
    const ip = askerAddress(c.req.raw.headers);
    const order = { type: "punch", id: randomHex(), ip, port: body.port, nonce: body.nonce } as const;
    const reply = unwrap(await guarded<RendezvousResult<PunchReply>>(() => rendezvous(c.env, peerId).punch(order, ip)));
    return c.json(reply satisfies PunchReply);
  });

  app.post(`${API_PREFIX}/peers/:peerId/relay`, async (c) => {
    const peerId = parsePeerIdParam(c.req.param("peerId"));
    parseRelayRequest(await readJsonBody(c.req.raw, MAX_RENDEZVOUS_BODY_BYTES));
    const asker = askerAddress(c.req.raw.headers);
    const peer = rendezvous(c.env, peerId);
    const target = await guarded<string | null>(() => peer.address());
    if (target === null) throw errors.peerOffline();
    const choice = await guarded<RelayChoice | null>(() => relays(c.env).pick(familyOf(asker), familyOf(target), [asker, target]));
    if (choice === null) throw errors.noRelay();
    // A token only this relay takes, for about a minute (common/relay-token.ts): it carries no pair the tracker did not make.
    const token = await mintRelayToken(choice.tokenKey, Date.now());
    const order = { type: "relay", id: randomHex(), ip: choice.forTarget.ip, port: choice.forTarget.port, token } as const;
    unwrap(await guarded<RendezvousResult<ReverseReply>>(() => peer.order(order, asker)));
    return c.json({ ip: choice.forAsker.ip, port: choice.forAsker.port, token } satisfies RelayReply);
  });

  app.post(`${API_PREFIX}/relays`, async (c) => {
    const body = parseRelayOffer(await readJsonBody(c.req.raw, MAX_RENDEZVOUS_BODY_BYTES));
    if ((await peerIdOfKey(body.key)) !== body.peerId) throw errors.keyNotOfPeer();
    // Recorded and dialled at the connection's own address only: RelayOffer has no address field at all.
    const ip = askerAddress(c.req.raw.headers);
    // The relay's token key is kept, never its key: anyone holding the key could also pose as the relay's peer.
    const offer = { peerId: body.peerId, ip, port: body.port, tokenKey: await relayTokenKey(body.key), stopped: body.event === "stopped" };
    const reply = unwrapRegistry(await guarded<RegistryResult<RelayOfferReply>>(() => relays(c.env).offer(offer)));
    return c.json(reply satisfies RelayOfferReply);
  });
}
