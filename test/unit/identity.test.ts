import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DERIVED_PEER_ID, peerIdOfKey } from "../../common/rendezvous-wire.js";
import { loadIdentity } from "../../peer/daemon/identity.js";

describe("a daemon's identity", () => {
  let dir = "";
  afterEach(async () => {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("derives its peer id from its key, keeps both, and moves an old random id to the derived one", async () => {
    dir = await mkdtemp(join(tmpdir(), "p2p-identity-"));
    const made = await loadIdentity(dir);
    expect(made.peerId).toMatch(DERIVED_PEER_ID);
    expect(made.peerId).toBe(await peerIdOfKey(made.key));
    expect(await loadIdentity(dir)).toEqual(made);
    // An identity written before ids were derived: the key stays, the id becomes the derived one, on disk too.
    await writeFile(join(dir, "identity.json"), JSON.stringify({ peerId: "p2p-4a1f9c2e7b3d5a60", key: "c0ffee".repeat(8) }));
    const moved = await loadIdentity(dir);
    expect(moved).toEqual({ peerId: await peerIdOfKey("c0ffee".repeat(8)), key: "c0ffee".repeat(8) });
    expect(JSON.parse(await readFile(join(dir, "identity.json"), "utf8"))).toEqual(moved);
    // A known vector: SHA-256("abc") begins ba7816bf8f01cfea414140de5dae2223.
    expect(await peerIdOfKey("abc")).toBe("p2p-ba7816bf8f01cfea414140de5dae2223");
  });
});
