import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decode, encode, type BValue, type Encodable } from "../../peer/discovery/dht/bencode.js";

const b = (text: string): Buffer => Buffer.from(text, "latin1");

/** Any bencodable value, as the decoder gives it back (Buffers, Maps keyed by latin1 strings). */
const value: fc.Arbitrary<BValue> = fc.letrec<{ value: BValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.maxSafeInteger(),
    fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.array(fc.tuple(fc.string({ maxLength: 8 }).map((key) => Buffer.from(key, "utf8").toString("latin1")), tie("value")), { maxLength: 4 }).map((entries) => new Map(entries)),
  ),
})).value;

describe("bencode", () => {
  it("decodes what it encodes, for any value", () => {
    fc.assert(
      fc.property(value, (original) => {
        expect(decode(encode(original as Encodable), 64)).toEqual(original);
      }),
    );
  });

  it("encodes dictionaries with their keys sorted, strings as UTF-8", () => {
    expect(encode({ y: "q", t: b("aa"), a: { id: b("x"), ro: 1 } }).toString("latin1")).toBe("d1:ad2:id1:x2:roi1ee1:t2:aa1:y1:qe");
  });

  it("never throws on bytes, and decodes random bytes to null or a value", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const decoded = decode(Buffer.from(bytes));
        expect(decoded === null || typeof decoded === "number" || Buffer.isBuffer(decoded) || Array.isArray(decoded) || decoded instanceof Map).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("refuses what is not strictly bencode: trailing bytes, leading zeros, -0, short strings, duplicate keys, deep nesting", () => {
    for (const bad of ["i5ee", "i05e", "i-0e", "ie", "i1.5e", "5:abc", "d1:a", "l", "d1:ai1e1:ai2ee", "di1ei2ee", "-1:", "01:a", `${"l".repeat(7)}${"e".repeat(7)}`, "i99999999999999999999e", ""]) {
      expect(decode(b(bad)), bad).toBeNull();
    }
    expect(decode(b(`${"l".repeat(6)}${"e".repeat(6)}`))).toEqual([[[[[[]]]]]]);
    // A 64 KiB datagram of list openers: refused at the depth cap, not by running out of stack.
    expect(decode(Buffer.alloc(65_000, "l"))).toBeNull();
  });
});
