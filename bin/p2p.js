#!/usr/bin/env node
// The `p2p` command: the compiled CLI (built by `npm ci` through the prepare script).
import { setFlagsFromString } from "node:v8";

// Before the CLI loads: a download allocates at a steady rate, and V8 answers by doubling its young
// generation (to 8, then 16 MiB) partway through a big file. Kept at its starting size, the process's
// memory stays flat in the file's size, at no measured cost in speed (docs/benchmarks.md).
setFlagsFromString("--semi-space-growth-factor=1");
await import("../dist/peer/cli/main.js");
