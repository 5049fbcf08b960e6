/**
 * One bit per chunk, chunk 0 in the high bit of the first byte (BitTorrent's order): the download record's
 * checkpoint, `/have` answers and a peer's availability all use it.
 */
export function bitfieldBytes(count: number): Uint8Array {
  return new Uint8Array(Math.ceil(count / 8));
}

export function hasBit(bits: Uint8Array, index: number): boolean {
  return ((bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}

export function setBit(bits: Uint8Array, index: number): void {
  bits[index >> 3]! |= 0x80 >> (index & 7);
}
