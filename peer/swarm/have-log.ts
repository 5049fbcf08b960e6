import { bitfieldBytes, hasBit, setBit } from "../state/bitfield.js";

/**
 * The chunks a download in progress has verified, for the peers that follow it (`/have`): a bitfield and
 * the order in which chunks arrived, so that a follower at position `seq` is told exactly what came since.
 * Plain values; memory is one bit per chunk, and the arrival order grows with the chunks that arrive.
 */
export class HaveLog {
  private readonly bits: Uint8Array;
  private readonly order: number[] = [];

  constructor(
    readonly chunkCount: number,
    verified: Iterable<number> = [],
  ) {
    this.bits = bitfieldBytes(chunkCount);
    for (const index of verified) this.add(index);
  }

  /** Records a verified chunk; false if it was already there (or is out of range). */
  add(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.chunkCount || this.has(index)) return false;
    setBit(this.bits, index);
    this.order.push(index);
    return true;
  }

  has(index: number): boolean {
    return index >= 0 && index < this.chunkCount && hasBit(this.bits, index);
  }

  /** How many chunks have arrived: the position a follower continues from. */
  get seq(): number {
    return this.order.length;
  }

  get complete(): boolean {
    return this.order.length === this.chunkCount;
  }

  /** One bit per chunk, the first chunk in the high bit of the first byte (as BitTorrent's bitfield). */
  bitfield(): Buffer {
    return Buffer.from(this.bits);
  }

  /**
   * The chunks that arrived after position `seq` (at most `max`), and the position after them. A position
   * beyond the log (a follower that lies or restarted against another run) starts again from 0.
   */
  since(seq: number, max: number): { seq: number; added: number[] } {
    const from = Number.isInteger(seq) && seq >= 0 && seq <= this.order.length ? seq : 0;
    const to = Math.min(this.order.length, from + Math.max(0, max));
    return { seq: to, added: this.order.slice(from, to) };
  }
}
