#!/usr/bin/env node
// The `p2p` command: the compiled CLI (built by `npm ci` through the prepare script).
import "../dist/peer/cli/main.js";
