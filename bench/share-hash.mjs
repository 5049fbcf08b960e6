// Sharing a 1 GiB file: p2p's one read (SHA-1 of the file + SHA-256 of every chunk) beside sha1sum alone.
//   npm run bench:share -- [--size-gib 1] [--runs 3] [--dir /tmp]
import { join } from "node:path";
import { parseArgs } from "node:util";
import { benchFile, GiB, MB, median, printTable, rootDir, timed } from "./lib.mjs";

const { values } = parseArgs({ options: { "size-gib": { type: "string", default: "1" }, runs: { type: "string", default: "3" }, dir: { type: "string", default: "/tmp" } } });
const size = Number(values["size-gib"]) * GiB;
const runs = Number(values.runs);
const file = benchFile(values.dir, size);
const hashScript = join(rootDir, "bench", "hash-once.mjs");

const ours = [];
const reference = [];
for (let i = 0; i < runs; i++) {
  reference.push(timed("sha1sum", [file]).seconds);
  ours.push(timed(process.execPath, [hashScript, file]).seconds);
}
const rows = [
  { what: "sha1sum (SHA-1 only)", "median s": median(reference), "MB/s": Math.round(size / MB / median(reference)) },
  { what: "p2p share hashing (SHA-1 + SHA-256 per chunk)", "median s": median(ours), "MB/s": Math.round(size / MB / median(ours)) },
];
printTable(`Share of a ${values["size-gib"]} GiB file from the page cache, ${runs} runs each, whole process`, rows);
console.log(`\np2p / sha1sum time: ${(median(ours) / median(reference)).toFixed(2)}x (target 0.8x or less)`);
