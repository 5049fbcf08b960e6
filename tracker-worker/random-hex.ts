/** 32 lowercase hex characters of 128 random bits: an order id (SECRET_PATTERN); relay tokens are minted by common/relay-token.ts. */
export function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
