/** File ids (SHA-1 of the file) and other hex digests as they travel on the wire. */

const SHA1_HEX = /^[0-9a-fA-F]{40}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** True for 40 hex characters in either case. */
export function isSha1Hex(value: unknown): value is string {
  return typeof value === "string" && SHA1_HEX.test(value);
}

/** True for 64 hex characters in either case. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === "string" && SHA256_HEX.test(value);
}

/** The canonical form of a file id: lowercase hex, or null when it is not a SHA-1. */
export function normalizeSha1(value: unknown): string | null {
  return isSha1Hex(value) ? value.toLowerCase() : null;
}
