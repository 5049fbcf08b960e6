import { describe, expect, it } from "vitest";
import { EventStreamReader } from "../../peer/download/event-stream.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("EventStreamReader", () => {
  it("hands on each event's data once its blank line comes, however the body is cut", () => {
    const body = 'data: {"seq":1}\n\n: idle\n\ndata: {"seq":2,\ndata: "added":[3]}\r\n\r\nevent: x\nid: 4\ndata:{"seq":3}\n\n';
    const whole = new EventStreamReader(1024).push(bytes(body));
    expect(whole).toEqual(['{"seq":1}', '{"seq":2,\n"added":[3]}', '{"seq":3}']);
    // Byte by byte, a multi-byte character split too: the same events, in the same order.
    const reader = new EventStreamReader(1024);
    const events: string[] = [];
    for (const byte of bytes(body + "data: é\n\n")) events.push(...reader.push(Uint8Array.of(byte)));
    expect(events).toEqual([...whole, "é"]);
  });

  it("keeps an unfinished event until its end, and gives nothing for comments alone", () => {
    const reader = new EventStreamReader(1024);
    expect(reader.push(bytes(": idle\n\n: idle\n\ndata: {"))).toEqual([]);
    expect(reader.push(bytes("}\n"))).toEqual([]);
    expect(reader.push(bytes("\n"))).toEqual(["{}"]);
  });

  it("refuses an event or a line past its limit", () => {
    expect(() => new EventStreamReader(16).push(bytes(`data: ${"x".repeat(17)}\n\n`))).toThrow(RangeError);
    expect(() => new EventStreamReader(16).push(bytes("data: 1234567890\ndata: 1234567890\n"))).toThrow(RangeError);
    expect(() => new EventStreamReader(16).push(bytes(": ".repeat(20)))).toThrow(RangeError);
  });
});
