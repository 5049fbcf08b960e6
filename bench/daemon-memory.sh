#!/usr/bin/env bash
# What one daemon holds at peak while it serves 16 peers and runs 4 downloads, on loopback:
# daemon D (127.0.44.2) shares a 256 MiB file that 16 clients (127.0.45.1-16, curl) fetch chunk by chunk
# in a loop, while it downloads 4 other 256 MiB files, each from its own sharer (127.0.44.11-14).
# Prints D's peak RSS (VmHWM), what it uploaded meanwhile, and whether the 4 downloads are byte-identical.
# Usage: bash bench/daemon-memory.sh   (needs curl; about a minute; leaves nothing behind)
set -euo pipefail
# Nothing beyond this machine: no DHT (public bootstrap nodes by default), no LAN multicast, no port mapping;
# no dashboard port.
export P2P_DHT=off P2P_LAN_DISCOVERY=off P2P_PORT_MAPPING=off P2P_UI=off
P="$(cd "$(dirname "$0")/.." && pwd)/bin/p2p.js"
WORK="$(mktemp -d /tmp/p2p-daemon-memory-XXXXXX)"
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
T=http://127.0.44.1:48788
node "$P" tracker --host 127.0.44.1 --port 48788 > tracker.log 2>&1 &
until curl -sf "$T/v1/health" > /dev/null; do sleep 0.5; done
node "$P" --tracker $T --data-dir d daemon --host 127.0.44.2 --port 45001 > d.log 2>&1 &
DPID=$!
for i in 1 2 3 4; do node "$P" --tracker $T --data-dir s$i daemon --host 127.0.44.1$i --port 45001 > s$i.log 2>&1 & done
until grep -q "daemon ready" d.log && [ "$(grep -l "daemon ready" s*.log | wc -l)" = 4 ]; do sleep 0.3; done
head -c 268435456 /dev/urandom > f0.bin
S0=$(node "$P" --tracker $T --data-dir d share f0.bin 2>/dev/null)
SHAS=()
for i in 1 2 3 4; do head -c 268435456 /dev/urandom > f$i.bin; SHAS+=("$(node "$P" --tracker $T --data-dir s$i share f$i.bin 2>/dev/null)"); done
for c in $(seq 1 16); do
  (while true; do for k in $(seq 0 255); do curl -s -o /dev/null --interface 127.0.45.$c "http://127.0.44.2:45001/v1/files/$S0/chunks/$k" || exit 0; done; done) &
done
START=$(date +%s.%N)
PIDS=()
for i in 0 1 2 3; do node "$P" --tracker $T --data-dir d download "${SHAS[$i]}" -o o$i.bin > /dev/null 2>&1 & PIDS+=($!); done
wait "${PIDS[@]}"
END=$(date +%s.%N)
echo "peak RSS of the daemon: $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' /proc/$DPID/status)"
node "$P" --data-dir d status --json | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const j=JSON.parse(s).daemon;console.log(`uploaded meanwhile: ${(j.uploadedBytes/2**20).toFixed(0)} MiB to ${j.uploadSlots.holders.length} slot holders and ${j.uploadSlots.waiting} waiting`)})'
echo "4 downloads of 256 MiB took $(echo "$END - $START" | bc) s"
for i in 1 2 3 4; do cmp -s f$i.bin o$((i - 1)).bin && echo "download $i: byte-identical" || echo "download $i: DIFFERENT"; done
