# v3 backup adopts the master's interval: a (priority 200, 0.5 s) masters b (100, 1 s).
#   t=0    both start; a becomes master
#   t=6    a's VRRP process frozen (no priority-0 advert): b takes over after
#          3 x 0.5 s + (256-100) x 0.5/256 s = 1.805 s (its own 1 s would give 3.609 s)
#   t=10   b stopped; a thawed and stopped by the cleanup
ka $A "$cfg/a.conf" a; kaa=$!
ka $B "$cfg/b.conf" b; kab=$!
sleep 6
frozen=$(vrrp_child a); kill -STOP "$frozen"
sleep 4
kill -TERM $kab; sleep 1
