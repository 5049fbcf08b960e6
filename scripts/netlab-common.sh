# Shared by scripts/netlab.sh and scripts/netlab-paths.sh (sourced, not run): an emulated internet of network
# namespaces. A public segment (bridge br0 in "$N-pub", 80.100.100.0/24, the tracker at .20), home routers
# (NAT with the rules of scripts/home-router.nft), hosts behind them and on the public segment. Every
# namespace made is removed at the end, with its processes, however the script ends.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
P2P="node $ROOT/bin/p2p.js"
N="p2p-lab-$$"
DIR="$(mktemp -d /tmp/p2p-netlab-XXXXXX)"
T=http://80.100.100.20:8787
export P2P_DHT=off P2P_LAN_DISCOVERY=off WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
MADE=()
cleanup() {
  for ((i = ${#MADE[@]} - 1; i >= 0; i--)); do
    ns="${MADE[$i]}"
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
on() { local ns="$1"; shift; ip netns exec "$N-$ns" "$@"; }
netns() { ip netns add "$N-$1"; MADE+=("$N-$1"); ip -n "$N-$1" link set lo up; }
public_segment() {
  netns pub
  ip -n "$N-pub" link add br0 type bridge && ip -n "$N-pub" addr add 80.100.100.20/24 dev br0 && ip -n "$N-pub" link set br0 up
}
plug() { # namespace, address: a veth named eth0 there, on the public bridge
  netns "$1"
  ip link add eth0 netns "$N-$1" type veth peer name "$1" netns "$N-pub"
  ip -n "$N-pub" link set "$1" master br0 && ip -n "$N-pub" link set "$1" up
  ip -n "$N-$1" addr add "$2/24" dev eth0 && ip -n "$N-$1" link set eth0 up
}
router() { # name, number K, [random]: WAN 80.100.100.K, LAN 10.80.K.1/24, NAT; "random": random,fully-random ports
  plug "$1" "80.100.100.$2"
  on "$1" sysctl -qw net.ipv4.ip_forward=1
  if [ "${3:-}" = random ]; then
    sed 's/oifname "eth0" masquerade/oifname "eth0" masquerade random,fully-random/' "$ROOT/scripts/home-router.nft" | on "$1" nft -f -
  else
    on "$1" nft -f "$ROOT/scripts/home-router.nft"
  fi
}
behind() { # host name, router name, router number K: the host at 10.80.K.2
  netns "$1"
  ip link add lan0 netns "$N-$2" type veth peer name eth0 netns "$N-$1"
  ip -n "$N-$2" addr add "10.80.$3.1/24" dev lan0 && ip -n "$N-$2" link set lan0 up
  ip -n "$N-$1" addr add "10.80.$3.2/24" dev eth0 && ip -n "$N-$1" link set eth0 up && ip -n "$N-$1" route add default via "10.80.$3.1"
}
start_tracker() {
  echo "netlab: starting the tracker on the public segment (80.100.100.20:8787)..."
  on pub $P2P tracker --host 80.100.100.20 --port 8787 --persist-to "$DIR/tracker" 2>"$DIR/tracker.log" &
  until grep -q "tracker ready" "$DIR/tracker.log"; do sleep 0.5; done
}
daemon() { # host, data dir name, extra options...: a daemon without port mapping, ready
  local host="$1" data="$2"; shift 2
  on "$host" $P2P --tracker $T --data-dir "$DIR/$data" daemon --no-port-mapping "$@" 2>"$DIR/$data.log" &
  until grep -q "daemon ready" "$DIR/$data.log"; do sleep 0.2; done
}
