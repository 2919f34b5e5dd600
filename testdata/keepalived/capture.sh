#!/bin/bash
# Record golden VRRP packets from the real keepalived (Debian's, `keepalived -v`).
# Usage (root): testdata/keepalived/capture.sh SCENARIO   (SCENARIO = a directory name below)
#
# Two namespaces vcka-a / vcka-b joined by a veth pair (vcka0 <-> vckb0), addresses
# 10.77.0.1 / 10.77.0.2 and fd77::1 / fd77::2 (DAD off so link-locals are usable at once).
# Default timeline (one capture on node a's side sees both directions); a scenario may
# bring its own SCENARIO/timeline.sh using the helpers below:
#   t=0   keepalived a (a.conf, lower priority) starts: master after master-down
#   t=5   keepalived b (b.conf, higher priority) starts: preempts a
#   t=11  b gets SIGTERM: priority-0 advert, a takes over after Skew
#   t=14  a gets SIGTERM: priority-0 advert
# Output: testdata/keepalived-SCENARIO.pcap (VRRP, ARP and ICMPv6 NA frames) and the
# two keepalived logs in $WORK. Only processes started here are signalled, by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sc=${1:?scenario}
cfg=$here/$sc
out=$here/../keepalived-$sc.pcap
WORK=${WORK:-/tmp/vcka-$sc}
rm -rf "$WORK"; mkdir -p "$WORK"
A=vcka-a B=vcka-b
pids=()
cleanup() {
  [ -n "${frozen:-}" ] && kill -CONT "$frozen" 2>/dev/null || true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT
ip netns add $A; ip netns add $B
ip link add vcka0 netns $A type veth peer name vckb0 netns $B
for ns in $A $B; do
  ip netns exec $ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip netns exec $A sysctl -qw net.ipv6.conf.vcka0.accept_dad=0
ip netns exec $B sysctl -qw net.ipv6.conf.vckb0.accept_dad=0
ip -n $A link set lo up; ip -n $B link set lo up
ip -n $A link set vcka0 address 02:77:00:00:00:01 up
ip -n $B link set vckb0 address 02:77:00:00:00:02 up
ip -n $A addr add 10.77.0.1/24 dev vcka0; ip -n $A addr add fd77::1/64 dev vcka0 nodad
ip -n $B addr add 10.77.0.2/24 dev vckb0; ip -n $B addr add fd77::2/64 dev vckb0 nodad
sleep 1
ip netns exec $A tcpdump -i vcka0 -U -w "$WORK/cap.pcap" 'ip proto 112 or ip proto 51 or ip6 proto 112 or arp or icmp6' >"$WORK/tcpdump.log" 2>&1 &
pids+=($!); tcpd=$!
sleep 1
ka() { # ns conf tag
  ip netns exec "$1" keepalived -n -l -D -P -f "$2" -p "$WORK/$3.pid" -r "$WORK/$3-vrrp.pid" >"$WORK/$3.log" 2>&1 &
  pids+=($!)
}
# Drop incoming VRRP in a namespace (a partition as seen by that node) and lift it again.
block() { ip netns exec "$1" nft 'table inet vcka { chain vin { type filter hook input priority 0; meta l4proto 112 drop; }; }'; }
unblock() { ip netns exec "$1" nft delete table inet vcka; }
# Freeze / thaw the VRRP child of a keepalived we started (a hung node: no priority-0 advert).
vrrp_child() { cat "$WORK/$1-vrrp.pid"; }
if [ -f "$cfg/timeline.sh" ]; then
  . "$cfg/timeline.sh"
else
  ka $A "$cfg/a.conf" a; kaa=$!
  sleep 5
  ka $B "$cfg/b.conf" b; kab=$!
  sleep 6
  kill -TERM $kab; sleep 3
  kill -TERM $kaa; sleep 2
fi
kill -INT $tcpd; sleep 0.5
cp "$WORK/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes); logs in $WORK"
