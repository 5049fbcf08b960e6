import { hasBit } from "../state/bitfield.js";

/**
 * Which peer has which chunk, and how many peers have each: the input of rarest-first (scheduler.ts).
 * Plain values, no I/O. A complete peer is one flag, not a bitfield, so a download from seeds alone costs
 * nothing here; an incomplete peer's bitfield arrives with its `/have` answer and grows as it follows it.
 * A peer nobody has heard from yet has nothing.
 */
export class Availability {
  private readonly complete = new Set<string>();
  private readonly partial = new Map<string, Uint8Array>();
  /** How many incomplete peers have each chunk (complete ones are `complete.size` on top). */
  private readonly partialCounts: Uint16Array;

  constructor(readonly chunkCount: number) {
    this.partialCounts = new Uint16Array(chunkCount);
  }

  /** The peer has every chunk. */
  setComplete(peer: string): void {
    this.forget(peer);
    this.complete.add(peer);
  }

  /** The peer has exactly these chunks (a bitfield from its `/have`, one bit per chunk, high bit first). */
  setBitfield(peer: string, bits: Uint8Array): void {
    this.forget(peer);
    const have = new Uint8Array(this.chunkCount);
    for (let i = 0; i < this.chunkCount; i++) {
      if (hasBit(bits, i)) {
        have[i] = 1;
        this.partialCounts[i]!++;
      }
    }
    this.partial.set(peer, have);
  }

  /** The peer now has chunk `index` too. Out-of-range indices are ignored (they come from the network). */
  add(peer: string, index: number): void {
    if (this.complete.has(peer) || !Number.isInteger(index) || index < 0 || index >= this.chunkCount) return;
    let have = this.partial.get(peer);
    if (have === undefined) {
      have = new Uint8Array(this.chunkCount);
      this.partial.set(peer, have);
    }
    if (have[index] === 1) return;
    have[index] = 1;
    this.partialCounts[index]!++;
  }

  /**
   * The peer turned out not to have chunk `index` (it answered `chunk_missing`): it is asked for that chunk
   * no more until it says it has it. A peer thought complete becomes one with every other chunk.
   */
  lacks(peer: string, index: number): void {
    if (index < 0 || index >= this.chunkCount) return;
    if (this.complete.delete(peer)) {
      const have = new Uint8Array(this.chunkCount).fill(1);
      for (let i = 0; i < this.chunkCount; i++) this.partialCounts[i]!++;
      this.partial.set(peer, have);
    }
    const have = this.partial.get(peer);
    if (have?.[index] !== 1) return;
    have[index] = 0;
    this.partialCounts[index]!--;
  }

  /** The peer no longer counts (banned, dropped, gone). */
  forget(peer: string): void {
    this.complete.delete(peer);
    const have = this.partial.get(peer);
    if (have === undefined) return;
    for (let i = 0; i < this.chunkCount; i++) if (have[i] === 1) this.partialCounts[i]!--;
    this.partial.delete(peer);
  }

  has(peer: string, index: number): boolean {
    return this.complete.has(peer) || this.partial.get(peer)?.[index] === 1;
  }

  isComplete(peer: string): boolean {
    return this.complete.has(peer);
  }

  /** How many known peers have chunk `index`. */
  count(index: number): number {
    return this.complete.size + (this.partialCounts[index] ?? 0);
  }

  /** Whether any known peer is incomplete: only then does one chunk differ from another in rarity. */
  get mixed(): boolean {
    return this.partial.size > 0;
  }
}
