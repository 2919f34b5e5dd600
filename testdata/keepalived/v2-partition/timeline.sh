# Equal priorities (100) behind a partition, then healed; then node b hangs.
#   t=0    both start with incoming VRRP dropped on both: both become master
#   t=6    partition healed: the lower address (a) yields, b answers a's advert at once
#   t=10   b's VRRP process frozen (SIGSTOP: no priority-0 advert): a takes over after
#          3 x 1 s + (256-100)/256 s from b's last advert
#   t=16   a stopped; b thawed and stopped by the cleanup
block $A; block $B
ka $A "$cfg/a.conf" a; kaa=$!
ka $B "$cfg/b.conf" b; kab=$!
sleep 6
unblock $A; unblock $B
sleep 4
frozen=$(vrrp_child b); kill -STOP "$frozen"
sleep 6
kill -TERM $kaa; sleep 1
