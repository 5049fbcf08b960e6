import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { peerIdOfKey } from "../../common/rendezvous-wire.js";
import { readJsonFile, writeFileAtomic } from "../state/atomic-file.js";

/**
 * This peer's id and the secret that proves to the tracker that its entries are its own; kept across restarts.
 * The id is derived from the key (common/rendezvous-wire.ts, peerIdOfKey), so that only this daemon can hold
 * the tracker's rendezvous socket of its id, which is how an unreachable peer is asked to connect out.
 */
export interface Identity {
  peerId: string;
  key: string;
}

export async function loadIdentity(dataDir: string): Promise<Identity> {
  const path = join(dataDir, "identity.json");
  const stored = await readJsonFile<Identity>(path).catch(() => null);
  if (stored !== null && typeof stored.peerId === "string" && typeof stored.key === "string" && stored.key.length >= 16) {
    const derived = await peerIdOfKey(stored.key);
    if (stored.peerId === derived) return stored;
    // An identity from before ids were derived keeps its key and takes the derived id: its old tracker
    // entries expire after one announce interval, and the new ones are owned by the same key.
    const migrated = { peerId: derived, key: stored.key };
    await writeFileAtomic(path, JSON.stringify(migrated));
    return migrated;
  }
  const key = randomBytes(24).toString("hex");
  const identity = { peerId: await peerIdOfKey(key), key };
  await writeFileAtomic(path, JSON.stringify(identity));
  return identity;
}
