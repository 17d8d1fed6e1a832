# tests/vm/band_test.sh — the accuracy test's band (lottery_band in lib.sh),
# on the host with busybox sh: a scheduler that alternates two tasks (1:1)
# when 3:1 was asked fails it, an exact 3:1 split passes, and n is capped by
# CPU time / slice. Run as: busybox sh tests/vm/band_test.sh
dir=$(dirname "$0")
eval "$(sed -n '/^AWK_SQRT=/p' "$dir/lib.sh")"
eval "$(sed -n '/^lottery_band() {/,/^}/p' "$dir/lib.sh")"
fail() { echo "FAIL: $*"; exit 1; }
inside() { awk "BEGIN { exit !($2 >= $6 && $2 <= $7) }"; }

# 500 draws of 20 ms, 3:1 tickets
alt=$(lottery_band 300 100 5000000000 5000000000 250 250 20000 4.5)
exact=$(lottery_band 300 100 7500000000 2500000000 375 125 20000 4.5)
# wins claim 5000 draws but the CPU time only covers 500 slices
capped=$(lottery_band 300 100 7500000000 2500000000 3750 1250 20000 4.5)
echo "alternating: $alt"
echo "exact:       $exact"
echo "capped:      $capped"
! inside $alt || fail "alternation (share 0.5) lies inside the 3:1 band"
inside $exact || fail "an exact 3:1 split lies outside the 3:1 band"
set -- $capped
[ "$3" = 500 ] || fail "n was not capped by CPU time / slice (n=$3)"
echo "PASS: band"
