/**
 * Bencode (BEP 3), strict and bounded, for the DHT's packet checks (krpc-check.ts): what arrives over UDP is
 * decoded here before the DHT library sees it, so that a packet it would choke on is dropped instead. Pure.
 * Dictionaries decode to Maps keyed by the key's bytes as a latin1 string (byte order is string order).
 */

export type BValue = number | Buffer | BValue[] | BDict;
export type BDict = Map<string, BValue>;

/** Levels, values included: a KRPC message has four at most (a dict in a dict holding a list of strings). */
const MAX_DEPTH = 6;

class Malformed extends Error {}

/** The value `data` holds, nothing after it; null when it is not bencode or nests deeper than `maxDepth`. */
export function decode(data: Buffer, maxDepth = MAX_DEPTH): BValue | null {
  let at = 0;
  const fail = (): never => {
    throw new Malformed();
  };
  const readInteger = (end: number): number => {
    const text = data.toString("latin1", at, end);
    if (!/^(0|-?[1-9]\d*)$/.test(text)) fail();
    const value = Number(text);
    if (!Number.isSafeInteger(value)) fail();
    return value;
  };
  const value = (depth: number): BValue => {
    if (depth > maxDepth || at >= data.length) fail();
    const head = data[at]!;
    if (head === 0x69 /* i */) {
      const end = data.indexOf(0x65 /* e */, at + 1);
      if (end === -1) fail();
      at += 1;
      const integer = readInteger(end);
      at = end + 1;
      return integer;
    }
    if (head === 0x6c /* l */) {
      at += 1;
      const list: BValue[] = [];
      while (data[at] !== 0x65) list.push(value(depth + 1));
      at += 1;
      return list;
    }
    if (head === 0x64 /* d */) {
      at += 1;
      const dict: BDict = new Map();
      while (data[at] !== 0x65) {
        if (at >= data.length) fail();
        const key = string();
        if (dict.has(key.toString("latin1"))) fail();
        dict.set(key.toString("latin1"), value(depth + 1));
      }
      at += 1;
      return dict;
    }
    return string();
  };
  const string = (): Buffer => {
    const colon = data.indexOf(0x3a /* : */, at);
    if (colon === -1 || colon - at > 10) fail();
    const lengthText = data.toString("latin1", at, colon);
    if (!/^(0|[1-9]\d*)$/.test(lengthText)) fail();
    const length = Number(lengthText);
    const start = colon + 1;
    if (start + length > data.length) fail();
    at = start + length;
    return data.subarray(start, at);
  };
  try {
    const decoded = value(1);
    return at === data.length ? decoded : null;
  } catch (error) {
    if (error instanceof Malformed) return null;
    throw error;
  }
}

/** What encode takes: strings are UTF-8, plain objects are dicts too. */
export type Encodable = number | string | Buffer | Encodable[] | Map<string, Encodable> | { [key: string]: Encodable };

export function encode(value: Encodable): Buffer {
  const parts: Buffer[] = [];
  const put = (item: Encodable): void => {
    if (typeof item === "number") {
      if (!Number.isSafeInteger(item)) throw new RangeError("bencode integers are whole numbers");
      parts.push(Buffer.from(`i${item}e`, "latin1"));
    } else if (typeof item === "string" || Buffer.isBuffer(item)) {
      const bytes = typeof item === "string" ? Buffer.from(item, "utf8") : item;
      parts.push(Buffer.from(`${bytes.length}:`, "latin1"), bytes);
    } else if (Array.isArray(item)) {
      parts.push(Buffer.from("l", "latin1"));
      for (const element of item) put(element);
      parts.push(Buffer.from("e", "latin1"));
    } else {
      const entries = item instanceof Map ? [...item] : Object.entries(item);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      parts.push(Buffer.from("d", "latin1"));
      for (const [key, element] of entries) {
        put(Buffer.from(key, "latin1"));
        put(element);
      }
      parts.push(Buffer.from("e", "latin1"));
    }
  };
  put(value);
  return Buffer.concat(parts);
}

export function isDict(value: BValue | null | undefined): value is BDict {
  return value instanceof Map;
}
