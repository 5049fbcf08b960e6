// One `p2p share` hashing pass over a file, as a process of its own, for the share benchmark.
import { join } from "node:path";
import { rootDir } from "./lib.mjs";

const { hashFile } = await import(join(rootDir, "dist", "peer", "manifest", "hash-file.js"));
const { manifest } = await hashFile(process.argv[2]);
console.log(manifest.sha1, manifest.chunks.length);
