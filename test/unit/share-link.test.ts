import fc from "fast-check";
import jsqr from "jsqr";
import { describe, expect, it } from "vitest";
import { P2PError } from "../../peer/errors.js";
import { base32Decode, base32Encode } from "../../peer/links/base32.js";
import { QR_MAX_BYTES, qrModules, qrTerminal } from "../../peer/links/qr.js";
import { formatShareLink, LINK_LIMITS, parseShareLink, type ShareLink } from "../../peer/links/share-link.js";

const sha1 = "a593bdd3c93ea5422ea99971efd4d54775f76999";
const full: ShareLink = {
  sha1,
  name: "holiday photos (2026) #1 & ü.tar",
  size: 3_000_000,
  trackers: ["http://127.0.0.1:8787", "https://tracker.example.workers.dev"],
  peers: [
    { host: "203.0.113.7", port: 5001 },
    { host: "2001:db8::7", port: 5001 },
  ],
  manifestId: "2214d5461465957511cfb7ad7039ebf6dabe42bb00f0c838e5dafa5a653c5e0a",
};

function invalid(raw: string): string {
  try {
    parseShareLink(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(P2PError);
    expect((error as P2PError).code).toBe("INVALID_LINK");
    return (error as P2PError).message;
  }
  throw new Error(`accepted ${raw}`);
}

/** jsQR is CommonJS whose types declare an ES default: the function is `.default` as typed, and the module itself at run time too. */
const decodeQr = jsqr.default;

describe("share links", () => {
  it("base32 is RFC 4648's (the SHA-1 of the empty string, as Gnutella writes it)", () => {
    expect(base32Encode(Buffer.from("da39a3ee5e6b4b0d3255bfef95601890afd80709", "hex"))).toBe("3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
    expect(Buffer.from(base32Decode("3i42h3s6nnfq2msvx7xzkyayscx5qbyj")!).toString("hex")).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(base32Decode("3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBY1")).toBeNull();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(Buffer.from(base32Decode(base32Encode(bytes))!).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it("a link reads back as what it was made from, every field", () => {
    const text = formatShareLink(full);
    expect(text.startsWith(`magnet:?xt=urn:sha1:${base32Encode(Buffer.from(sha1, "hex"))}&dn=`)).toBe(true);
    expect(text).toMatch(/^[\x21-\x7e]+$/);
    expect(parseShareLink(text)).toEqual(full);
    expect(parseShareLink(formatShareLink({ sha1, trackers: [], peers: [] }))).toEqual({ sha1, trackers: [], peers: [] });
  });

  it("takes the SHA-1 in hex too, ignores parameters it does not know, and drops repeated trackers and peers", () => {
    const link = parseShareLink(`  magnet:?xt=urn:sha1:${sha1.toUpperCase()}&foo=bar&tr=http://127.0.0.1:8787/&tr=http%3A%2F%2F127.0.0.1%3A8787&x.pe=127.0.0.1:5001&x.pe=127.0.0.1:5001  `);
    expect(link).toEqual({ sha1, trackers: ["http://127.0.0.1:8787"], peers: [{ host: "127.0.0.1", port: 5001 }] });
  });

  it("refuses whole any link with a part it cannot trust, naming the part", () => {
    const xt = `xt=urn:sha1:${sha1}`;
    expect(invalid("UWJ33U6JH2SUELVJTFY67VGVI527O2MZ")).toContain("magnet:?");
    expect(invalid("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a")).toContain("urn:btih");
    expect(invalid(`magnet:?xt=urn:sha1:${"a".repeat(40)}&xt=urn:sha1:${"b".repeat(40)}`)).toContain("two different files");
    expect(invalid(`magnet:?${xt}&tr=file:///etc/passwd`)).toContain("file:///etc/passwd");
    expect(invalid(`magnet:?${xt}&tr=${encodeURIComponent("unix:/var/run/docker.sock")}`)).toContain("not an http(s) tracker");
    expect(invalid(`magnet:?${xt}&tr=${encodeURIComponent("http://user:pw@127.0.0.1:8787")}`)).toContain("tracker");
    expect(invalid(`magnet:?${xt}&tr=${encodeURIComponent("http://127.0.0.1:8787/admin?x=1")}`)).toContain("tracker");
    expect(invalid(`magnet:?${xt}${"&tr=http://127.0.0.1:1".repeat(LINK_LIMITS.trackers + 1)}`)).toContain(`at most ${LINK_LIMITS.trackers}`);
    expect(invalid(`magnet:?${xt}${"&x.pe=127.0.0.1:1".repeat(LINK_LIMITS.peers + 1)}`)).toContain(`at most ${LINK_LIMITS.peers}`);
    expect(invalid(`magnet:?${xt}&x.pe=localhost:5001`)).toContain("x.pe");
    expect(invalid(`magnet:?${xt}&x.pe=224.0.0.1:5001`)).toContain("x.pe");
    expect(invalid(`magnet:?${xt}&xl=-1`)).toContain("xl");
    expect(invalid(`magnet:?${xt}&xl=99999999999999999999`)).toContain("xl");
    expect(invalid(`magnet:?${xt}&x.mi=abc`)).toContain("x.mi");
    expect(invalid(`magnet:?${xt}&dn=`)).toContain("dn");
    expect(invalid(`magnet:?${xt}&dn=${"a".repeat(LINK_LIMITS.chars)}`)).toContain("characters long");
  });

  it("never fails but with INVALID_LINK, whatever it is given (fuzzed)", () => {
    const part = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("xt=urn:sha1:", `xt=urn:sha1:${sha1}`, "tr=", "x.pe=", "xl=", "dn=", "x.mi=", "&", "=", "%", "%zz", "%00", "?", "#", "[::1]:1", "http://", "magnet:?"),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), (parts) => {
        const raw = `magnet:?${parts.join("")}`;
        try {
          const link = parseShareLink(raw);
          expect(link.sha1).toMatch(/^[0-9a-f]{40}$/);
        } catch (error) {
          expect(error).toBeInstanceOf(P2PError);
          expect((error as P2PError).code).toBe("INVALID_LINK");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("its QR code decodes to the link itself", () => {
    const text = formatShareLink(full);
    const modules = qrModules(text)!;
    const scale = 4;
    const size = modules.length * scale;
    const pixels = new Uint8ClampedArray(size * size * 4);
    for (let y = 0; y < size; y += 1) {
      for (let x = 0; x < size; x += 1) {
        const value = modules[Math.floor(y / scale)]![Math.floor(x / scale)]! ? 0 : 255;
        pixels.set([value, value, value, 255], (y * size + x) * 4);
      }
    }
    expect(decodeQr(pixels, size, size)?.data).toBe(text);
  });
});

describe("share links at their limits", () => {
  it("a daemon with more trackers than a link holds makes a link that reads back, with the first ten", () => {
    const trackers = Array.from({ length: 12 }, (_, i) => `http://127.0.0.${i + 1}:8787`);
    const link = parseShareLink(formatShareLink({ sha1, trackers, peers: [] }));
    expect(link.trackers).toEqual(trackers.slice(0, LINK_LIMITS.trackers));
  });

  it("refuses link-local peers and trackers (where cloud machines keep their metadata service)", () => {
    expect(invalid(`magnet:?xt=urn:sha1:${sha1}&x.pe=169.254.169.254:80`)).toContain("link-local");
    expect(invalid(`magnet:?xt=urn:sha1:${sha1}&x.pe=${encodeURIComponent("[fe80::1]:80")}`)).toContain("link-local");
    expect(invalid(`magnet:?xt=urn:sha1:${sha1}&tr=${encodeURIComponent("http://169.254.169.254")}`)).toContain("link-local");
  });

  it("a link too long for error correction M gets an L code that decodes; one too long for any is a typed error", () => {
    const long = `magnet:?xt=urn:sha1:${sha1}&dn=${"x".repeat(2500)}`;
    const modules = qrModules(long);
    expect(modules).not.toBeNull();
    const scale = 3;
    const size = modules!.length * scale;
    const pixels = new Uint8ClampedArray(size * size * 4);
    for (let y = 0; y < size; y += 1) {
      for (let x = 0; x < size; x += 1) {
        const value = modules![Math.floor(y / scale)]![Math.floor(x / scale)]! ? 0 : 255;
        pixels.set([value, value, value, 255], (y * size + x) * 4);
      }
    }
    expect(decodeQr(pixels, size, size)?.data).toBe(long);
    const tooLong = `${long}${"y".repeat(QR_MAX_BYTES)}`;
    expect(qrModules(tooLong)).toBeNull();
    expect(() => qrTerminal(tooLong)).toThrow(expect.objectContaining({ code: "LINK_TOO_LONG_FOR_QR" }));
  });
});
