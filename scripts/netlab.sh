#!/usr/bin/env bash
# An emulated internet on this machine (root; nftables and miniupnpd-nftables installed): a public segment
# 80.100.100.0/24 with the tracker on it, a home router (NAT, the real miniupnpd for UPnP and NAT-PMP/PCP)
# with a sharer behind it at 10.80.1.2, and a downloader on the public segment. The sharer's daemon maps its
# port, the tracker checks it from outside, the downloader fetches the file through the router. Everything
# is removed at the end, however the script ends. Usage: sudo bash scripts/netlab.sh [size-in-MiB]
# shellcheck source=scripts/netlab-common.sh
source "$(dirname "$0")/netlab-common.sh"

public_segment
plug dl 80.100.100.31
router r1 1
behind h1 r1 1
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

start_tracker

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
