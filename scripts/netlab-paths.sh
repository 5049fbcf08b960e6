#!/usr/bin/env bash
# Every pair connects, on an emulated internet (root; nftables installed): the tracker and a downloader and a
# relay (`--relay`) on a public segment, and four home routers that map nothing: two keep ports (plain
# masquerade), two give every connection a random port (`masquerade random,fully-random`). A file is shared
# from behind each kind and fetched three ways: reversed (to the public downloader), punched (between the two
# routers that keep ports) and relayed (between the two that do not); each download prints the path it took
# and its time to first byte. Everything is removed at the end. Usage: sudo bash scripts/netlab-paths.sh [MiB]
# shellcheck source=scripts/netlab-common.sh
source "$(dirname "$0")/netlab-common.sh"

public_segment
plug dl 80.100.100.31
plug relay 80.100.100.32
router r1 1 && behind h1 r1 1
router r2 2 && behind h2 r2 2
router r3 3 random && behind h3 r3 3
router r4 4 random && behind h4 r4 4
start_tracker

head -c "$(( ${1:-8} * 1024 * 1024 ))" /dev/urandom > "$DIR/file.bin"
daemon h1 h1
daemon h3 h3
SHA1=$(on h1 $P2P --tracker $T --data-dir "$DIR/h1" share "$DIR/file.bin" 2>/dev/null | head -1)
on h3 $P2P --tracker $T --data-dir "$DIR/h3" share "$DIR/file.bin" >/dev/null 2>&1
echo "netlab: waiting for the sharers' rendezvous sockets (the tracker cannot reach them)..."
until on h1 $P2P --data-dir "$DIR/h1" status | grep -q "rendezvous: .* OPEN"; do sleep 0.5; done
until on h3 $P2P --data-dir "$DIR/h3" status | grep -q "rendezvous: .* OPEN"; do sleep 0.5; done
on h1 $P2P --data-dir "$DIR/h1" status | grep -E "^tracker|rendezvous"

fetch() { # label, host, data dir name, the sharer's public address: downloads through the host's daemon
  local out="$DIR/got-$3.bin"
  on "$2" $P2P --tracker $T --data-dir "$DIR/$3" download "$SHA1" -o "$out" --no-seed --json > "$DIR/$3.json"
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const p of r.peers.filter((p) => p.bytes > 0 && p.host === process.argv[3]))
      console.log(`netlab: ${process.argv[2]}: from ${p.host}:${p.port}, path ${p.path}, first byte after ${p.firstByteMs} ms, ${p.bytes} bytes`);
  ' "$DIR/$3.json" "$1" "$4"
  echo "netlab: sha1 $(sha1sum < "$out" | cut -c1-40) (shared $SHA1)"
}
daemon dl dl
fetch "public downloader, sharer behind r1" dl dl 80.100.100.1
daemon h2 h2
fetch "downloader behind r2, sharer behind r1 (both keep ports)" h2 h2 80.100.100.1
daemon relay relay --relay
until on relay $P2P --data-dir "$DIR/relay" status | grep -q "relay: .*(listed)"; do sleep 0.5; done
daemon h4 h4
fetch "downloader behind r4, sharer behind r3 (random ports)" h4 h4 80.100.100.3
on relay $P2P --data-dir "$DIR/relay" status | grep "^relay"
