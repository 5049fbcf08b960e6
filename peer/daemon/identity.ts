import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { readJsonFile, writeFileAtomic } from "../state/atomic-file.js";

/** This peer's id and the secret that proves to the tracker that its entries are its own; kept across restarts. */
export interface Identity {
  peerId: string;
  key: string;
}

export async function loadIdentity(dataDir: string): Promise<Identity> {
  const path = join(dataDir, "identity.json");
  const stored = await readJsonFile<Identity>(path).catch(() => null);
  if (stored !== null && typeof stored.peerId === "string" && typeof stored.key === "string") return stored;
  const identity = { peerId: `p2p-${randomBytes(8).toString("hex")}`, key: randomBytes(24).toString("hex") };
  await writeFileAtomic(path, JSON.stringify(identity));
  return identity;
}
