/**
 * Relay tokens already used (a pair made, or its wait over), so that one token makes one pair: two peers
 * cannot start afresh when their pair hits a cap. Bounded: the oldest are forgotten first. Only tokens that
 * passed the relay's check get here, and those expire about a minute after the tracker minted them
 * (common/relay-token.ts), which also budgets how many it mints, so a token forgotten is one that no longer
 * checks anyway unless thousands were spent within that minute.
 */
export class SpentTokens {
  private readonly tokens = new Set<string>();

  constructor(private readonly capacity = 16_384) {}

  has(token: string): boolean {
    return this.tokens.has(token);
  }

  add(token: string): void {
    this.tokens.add(token);
    if (this.tokens.size <= this.capacity) return;
    // A Set iterates in insertion order: its first is the oldest.
    const oldest = this.tokens.values().next();
    if (oldest.done !== true) this.tokens.delete(oldest.value);
  }
}
