import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { cookieName, csrfToken, forgeryCheck, hasSession, hostAllowed, hostOf, sessionCookie, type GuardSettings } from "../../peer/ui/guard.js";

const settings: GuardSettings = { secret: "s".repeat(43), port: 5002, allowHosts: ["p2p.home.arpa"] };

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

const session = { cookie: `other=1; ${cookieName(5002)}=${settings.secret}`, host: "127.0.0.1:5002" };

describe("the dashboard's guard", () => {
  it("takes loopback names and addresses and what --ui-allow-host adds; drops every other Host (DNS rebinding)", () => {
    for (const host of ["127.0.0.1:5002", "127.0.0.1", "localhost:5002", "LOCALHOST", "127.1.2.3:5002", "[::1]:5002", "p2p.home.arpa:5002"]) expect(hostAllowed(host, settings.allowHosts), host).toBe(true);
    for (const host of ["attacker.example:5002", "127.0.0.1.attacker.example", "localhost.attacker.example", "192.168.1.20:5002", "0.0.0.0:5002", "[::]:5002", "", "127.0.0.1:5002 x", "évil:1"]) {
      expect(hostAllowed(host, settings.allowHosts), host).toBe(false);
    }
    expect(hostAllowed(undefined, settings.allowHosts)).toBe(false);
    expect(hostOf("[::1]:5002")).toBe("[::1]");
  });

  it("a session is the cookie holding the secret, nothing else", () => {
    expect(hasSession(request(session), settings)).toBe(true);
    expect(hasSession(request({ cookie: `${cookieName(5002)}=${"t".repeat(43)}` }), settings)).toBe(false);
    expect(hasSession(request({ cookie: `${cookieName(5003)}=${settings.secret}` }), settings)).toBe(false);
    expect(hasSession(request({}), settings)).toBe(false);
    expect(sessionCookie(settings)).toMatch(/; HttpOnly; SameSite=Strict; Path=\/$/);
  });

  it("a change needs the session, the CSRF token, and no other origin or site", () => {
    const token = csrfToken(settings.secret);
    expect(forgeryCheck(request({ ...session, "x-p2p-csrf": token }), settings)).toBeNull();
    expect(forgeryCheck(request({ ...session, "x-p2p-csrf": token, origin: "http://127.0.0.1:5002", "sec-fetch-site": "same-origin" }), settings)).toBeNull();
    expect(forgeryCheck(request({ host: session.host, "x-p2p-csrf": token }), settings)).toMatch(/no session/);
    expect(forgeryCheck(request(session), settings)).toMatch(/x-p2p-csrf/);
    expect(forgeryCheck(request({ ...session, "x-p2p-csrf": csrfToken("another secret") }), settings)).toMatch(/x-p2p-csrf/);
    expect(forgeryCheck(request({ ...session, "x-p2p-csrf": token, origin: "http://attacker.example" }), settings)).toMatch(/another origin/);
    expect(forgeryCheck(request({ ...session, "x-p2p-csrf": token, origin: "null" }), settings)).toMatch(/another origin/);
    expect(forgeryCheck(request({ ...session, "x-p2p-csrf": token, "sec-fetch-site": "cross-site" }), settings)).toMatch(/another site/);
    expect(forgeryCheck(request({ ...session, "x-p2p-csrf": token, "sec-fetch-site": "same-site" }), settings)).toMatch(/another site/);
  });
});
