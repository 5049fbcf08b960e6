import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SOCKET_BAD_FRAMES } from "../../common/rendezvous-wire.js";
import { parseAnswer } from "../../tracker-worker/answer-frame.js";
import { identity, openSocket, post } from "./rendezvous-helpers.js";

const hex32 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 32, maxLength: 32 });

/** Bodies near the valid ones (right fields, wrong types or ranges) and far from them (anything JSON). */
const body = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      port: fc.oneof(fc.integer({ min: -2, max: 70000 }), fc.double(), fc.string(), fc.constant(null)),
      nonce: fc.oneof(hex32, fc.string({ maxLength: 40 }), fc.integer()),
      peerId: fc.oneof(fc.string({ maxLength: 40 }), hex32.map((h) => `p2p-${h}`)),
      key: fc.string({ maxLength: 140 }),
      event: fc.oneof(fc.constant("stopped"), fc.string({ maxLength: 8 })),
    },
    { requiredKeys: [] },
  ),
);

const frame = fc.oneof(
  fc.string({ maxLength: 1500 }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        type: fc.constantFrom("punch-ready", "refused", "reverse", "x"),
        id: fc.oneof(hex32, fc.string({ maxLength: 40 })),
        port: fc.oneof(fc.integer({ min: -1, max: 70000 }), fc.string()),
        reason: fc.string({ maxLength: 300 }),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
);

let asker = 0;
const nextAsker = (): string => `10.50.${Math.floor(asker / 250) % 250}.${(asker++ % 250) + 1}`;

describe("fuzz: rendezvous input", () => {
  it("parseAnswer never throws, and what it accepts is a well-formed answer", () => {
    fc.assert(
      fc.property(frame, (text) => {
        const answer = parseAnswer(text);
        if (answer === null) return;
        expect(answer.id).toMatch(/^[0-9a-f]{32}$/);
        if (answer.type === "punch-ready") expect(Number.isInteger(answer.port) && answer.port >= 1 && answer.port <= 65535).toBe(true);
        else expect(answer.type).toBe("refused");
      }),
      { numRuns: 2000 },
    );
  });

  it("every body to every new route gets a JSON reply with a stable code or the success shape, never a 500", async () => {
    const { peerId } = await identity("fuzz-offline-peer");
    const routes = [`/v1/peers/${peerId}/reverse`, `/v1/peers/${peerId}/punch`, `/v1/peers/${peerId}/relay`, "/v1/relays"];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, async (route, value) => {
        const response = await post(route, value, nextAsker());
        const reply = await response.json<Record<string, unknown>>();
        expect(response.status).not.toBe(500);
        if (response.status >= 400) {
          expect(reply).toMatchObject({ error: { code: expect.stringMatching(/^[a-z_A-Z]+$/) as unknown } });
          expect([400, 403, 404, 413, 429, 503]).toContain(response.status);
        } else {
          // Only a relay offer can succeed here: the peer holds no socket.
          expect(route).toBe("/v1/relays");
        }
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it("frames of any shape never break the object: a socket sent up to 5 of them still answers, more close it with 1008", async () => {
    const { key, peerId } = await identity("fuzz-frames");
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 9 }), async (frames) => {
        const socket = await openSocket(peerId, key, "10.51.0.1");
        for (const text of frames) socket.ws.send(text);
        socket.ws.send("ping");
        const bad = frames.filter((text) => parseAnswer(text) === null).length;
        if (bad <= 5) {
          expect(await socket.next()).toBe("pong");
          socket.ws.close(1000);
        } else {
          expect(await socket.closed).toBe(SOCKET_BAD_FRAMES);
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
