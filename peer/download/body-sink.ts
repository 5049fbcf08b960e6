import { EventStreamReader } from "./event-stream.js";
import { PeerFault } from "./peer-fault.js";

/**
 * Where a GET's 200 body goes as it arrives (peer-http.ts): `part` may throw (a PeerFault, or any error,
 * which the request turns into a protocol fault), or say "stop" to end the reply early.
 */
export interface BodySink<T> {
  part(part: Buffer): "more" | "stop";
  end(): T;
}

/** The whole body, up to `maxBytes`. */
export function wholeBody(maxBytes: number): BodySink<Buffer> {
  const parts: Buffer[] = [];
  let received = 0;
  return {
    part: (part) => {
      received += part.length;
      if (received > maxBytes) throw new PeerFault("protocol", `sent more than ${maxBytes} bytes`);
      parts.push(part);
      return "more";
    },
    end: () => Buffer.concat(parts),
  };
}

/**
 * An event stream's events, each handed to `onEvent` as it completes (false: stop); a body of another type
 * is one event, whole.
 */
export function eventsBody(contentType: string, maxEventBytes: number, onEvent: (data: string) => boolean): BodySink<void> {
  if (!/^text\/event-stream\b/i.test(contentType)) {
    const whole = wholeBody(maxEventBytes);
    return { part: (part) => whole.part(part), end: () => void onEvent(whole.end().toString("utf8")) };
  }
  const reader = new EventStreamReader(maxEventBytes);
  return { part: (part) => (reader.push(part).every((data) => onEvent(data)) ? "more" : "stop"), end: () => undefined };
}
