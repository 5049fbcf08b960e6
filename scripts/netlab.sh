#!/usr/bin/env bash
# An emulated internet on this machine (root; nftables and miniupnpd-nftables installed): a public segment
# 80.100.100.0/24 with the tracker on it, a home router (NAT, the real miniupnpd for UPnP and NAT-PMP/PCP)
# with a sharer behind it at 10.80.1.2, and a downloader on the public segment. The sharer's daemon maps its
# port, the tracker checks it from outside, the downloader fetches the file through the router. Everything
# is removed at the end, however the script ends. Usage: sudo bash scripts/netlab.sh [size-in-MiB]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
P2P="node $ROOT/bin/p2p.js"
N="p2p-lab-$$"
DIR="$(mktemp -d /tmp/p2p-netlab-XXXXXX)"
export P2P_DHT=off P2P_LAN_DISCOVERY=off WRANGLER_SEND_METRICS=false
cleanup() {
  for ns in "$N-h1" "$N-r1" "$N-dl" "$N-pub"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
on() { local ns="$1"; shift; ip netns exec "$N-$ns" "$@"; }

for ns in pub r1 h1 dl; do ip netns add "$N-$ns"; ip -n "$N-$ns" link set lo up; done
ip -n "$N-pub" link add br0 type bridge && ip -n "$N-pub" addr add 80.100.100.20/24 dev br0 && ip -n "$N-pub" link set br0 up
plug() { # namespace, address
  ip link add eth0 netns "$N-$1" type veth peer name "$1" netns "$N-pub"
  ip -n "$N-pub" link set "$1" master br0 && ip -n "$N-pub" link set "$1" up
  ip -n "$N-$1" addr add "$2/24" dev eth0 && ip -n "$N-$1" link set eth0 up
}
plug r1 80.100.100.1
plug dl 80.100.100.31
ip link add lan0 netns "$N-r1" type veth peer name eth0 netns "$N-h1"
ip -n "$N-r1" addr add 10.80.1.1/24 dev lan0 && ip -n "$N-r1" link set lan0 up
ip -n "$N-h1" addr add 10.80.1.2/24 dev eth0 && ip -n "$N-h1" link set eth0 up && ip -n "$N-h1" route add default via 10.80.1.1
on r1 sysctl -qw net.ipv4.ip_forward=1
on r1 nft -f "$ROOT/scripts/home-router.nft"
cat > "$DIR/r1.conf" <<CONF
ext_ifname=eth0
listening_ip=lan0
http_port=5000
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
uuid=3e1b2c4d-0000-4000-8000-000000000001
lease_file=$DIR/r1.leases
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
min_lifetime=120
max_lifetime=86400
allow 1024-65535 10.80.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
on r1 miniupnpd -d -f "$DIR/r1.conf" -P "$DIR/r1.pid" 2>"$DIR/miniupnpd.log" &

echo "netlab: starting the tracker on the public segment (80.100.100.20:8787)..."
on pub $P2P tracker --host 80.100.100.20 --port 8787 --persist-to "$DIR/tracker" 2>"$DIR/tracker.log" &
until grep -q "tracker ready" "$DIR/tracker.log"; do sleep 0.5; done
T=http://80.100.100.20:8787

head -c "$(( ${1:-8} * 1024 * 1024 ))" /dev/urandom > "$DIR/file.bin"
on h1 env P2P_PORT_MAPPING=upnp $P2P --tracker $T --data-dir "$DIR/h1" daemon 2>"$DIR/daemon.log" &
until grep -q "port mapping: \|no port mapping" "$DIR/daemon.log"; do sleep 0.2; done
grep "port mapping" "$DIR/daemon.log"
SHA1=$(on h1 $P2P --tracker $T --data-dir "$DIR/h1" share "$DIR/file.bin" 2>/dev/null | head -1)
sleep 1.5
echo "netlab: the router's mappings:"; on r1 nft list chain inet miniupnpd prerouting_miniupnpd | grep dnat || true
echo "netlab: the tracker lists:"; on dl curl -s "$T/v1/files/$SHA1/peers"; echo
on h1 $P2P --data-dir "$DIR/h1" status | grep -E "tracker|mapping"
start=$(date +%s.%N)
on dl $P2P --tracker $T --data-dir "$DIR/dl" download "$SHA1" -o "$DIR/got.bin" --no-seed
echo "netlab: downloaded in $(echo "$(date +%s.%N) - $start" | bc) s; sha1 $(sha1sum < "$DIR/got.bin" | cut -c1-40) (shared $SHA1)"
# A clean stop (SIGINT to the daemon, the only process on h1): it tells the tracker and removes the mapping.
for pid in $(ip netns pids "$N-h1"); do kill -INT "$pid" 2>/dev/null || true; done
for _ in $(seq 50); do [ -z "$(ip netns pids "$N-h1")" ] && break; sleep 0.1; done
grep "removed" "$DIR/daemon.log" || true
echo "netlab: after the daemon's stop, the router's mappings:"; on r1 nft list chain inet miniupnpd prerouting_miniupnpd | grep dnat || echo "  (none)"
