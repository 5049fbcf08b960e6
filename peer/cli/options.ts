import { InvalidArgumentError } from "commander";

/** Parsers for commander options: bad values become commander's usage errors (exit 2 via main.ts). */

export function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError("a port is 0-65535");
  return port;
}

export function parsePositiveInt(raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError("must be a whole number of 1 or more");
  return value;
}
