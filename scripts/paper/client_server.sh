#!/bin/sh
# scripts/paper/client_server.sh — experiment 4, client-server computation
# with ticket transfers (W&W '94, section 5.3).
#
# A server (`lotto-paper server`) with one thread per client and a fixed CPU
# burst (5 ms of CPU time) per request; three clients with tickets 800:300:100
# send requests one after the other and wait for each answer. Everything is
# pinned to one CPU. The server holds no tickets of its own (1 per thread,
# lotto's least). The top client stops before the others; the clients'
# request rates are measured with all three and after it has gone.
#
#   sh scripts/paper/client_server.sh run|report DIR|check DIR   (scripts/paper/lib.sh)
#
# Modes (PAPER_CS_MODES, each a separate run):
#   transfers  the paper's experiment: lotto-host --transfers, the core lends
#              a client's tickets, while it sleeps waiting for the answer, to
#              the server thread its request woke
#   none       no transfers, for contrast: each server thread competes with
#              its 1 ticket, so the clients are served about 1:1:1 whatever
#              their tickets
#   manual     the transfer done by hand, for reference: each server thread
#              is given its client's tickets with lotto-shell (`tickets TID
#              N`); since a thread serves one client only, that is what a
#              transfer gives it
# Default "transfers manual none".
#
# Full: 60 s, the top client stops at 40 s. --quick: 7 s, stops at 4 s.
# Paper (Mach with transfers): throughput 7.69:2.51:1 for 8:3:1; 2.91:1 for
# the two left after the top client finished.
. "$(dirname "$0")/lib.sh"
DATA="client_server client_server-phases"
TICKETS="800 300 100"

modes() { echo "${PAPER_CS_MODES:-transfers manual none}"; }

run() {
	paper_run_init
	secs=$(pick 60 7)
	top=$(pick 40 4)
	: >"$WORK/rows"
	: >"$WORK/phases"
	for m in $(modes); do
		one_mode "$m"
	done
	emit client_server "mode,client,t,requests,response_s" "$WORK/rows"
	emit client_server-phases "mode,tickets_set,top_end,end" "$WORK/phases"
}

one_mode() {
	mode=$1
	case $mode in
	none | manual) paper_lotto_start ;;
	transfers) paper_lotto_start --transfers ;;
	*) fail "client_server: unknown mode '$mode' (none, manual, transfers)" ;;
	esac
	# the previous mode's files would answer the waits below before this
	# mode's processes (their redirections run in the background) empty them
	rm -f "$WORK/server" "$WORK/client.1" "$WORK/client.2" "$WORK/client.3"
	T0=$(now)
	bg_task server "$WORK/server" 0 "$LOTTO_PAPER" server --socket "$WORK/sock" --work-us 5000
	for k in 1 2 3; do
		s=$secs
		[ $k != 1 ] || s=$top
		bg_task pid "$WORK/client.$k" 0 "$LOTTO_PAPER" client --socket "$WORK/sock" --every-ms 250 --seconds $s --delay-ms 1500
		eval "client_$k=\$pid"
	done
	# each client first prints the id of the server thread that serves it
	for k in 1 2 3; do
		wait_for 30 grep -qs '^server [0-9]' "$WORK/client.$k" ||
			fail "client $k got no server thread: $(head -c 200 "$WORK/client.$k")"
		eval "thread_$k=\$(sed -n 's/^server \([0-9]*\)$/\1/p' \"\$WORK/client.$k\")"
		eval "[ -n \"\$thread_$k\" ]" || fail "client $k: no thread id in '$(head -c 200 "$WORK/client.$k")'"
	done
	# all through lotto-host (lotto-shell): a pin the host thinks is in force
	# already is not written again, so mixing in lotto-ctl could leave one stale
	set -- $TICKETS
	shell "tickets $client_1 $1; tickets $client_2 $2; tickets $client_3 $3; tickets $server 1"
	if [ "$mode" = manual ]; then
		shell "tickets $thread_1 $1; tickets $thread_2 $2; tickets $thread_3 $3"
	else
		shell "tickets $thread_1 1; tickets $thread_2 1; tickets $thread_3 1"
	fi
	# the clients wait 1.5 s after connecting: the tickets above are set while
	# every client and server thread sleeps, before the first request, so
	# that no draw of the measured traffic is made with the default tickets
	wait_for 10 grep -q '^[0-9]' "$WORK/client.3" || fail "client 3 did not start"
	set_t=$(since)
	say "client_server $mode: clients $client_1 $client_2 $client_3, server threads $thread_1 $thread_2 $thread_3"
	# for the log, a second before the top client stops (a server thread ends
	# with its client): how long each server thread waited at most, and
	# whether the starvation guard had to move it (a transfer that did not
	# happen leaves a server thread racing on its 1 ticket)
	sleep $((top - 1))
	for k in 1 2 3; do
		eval "_t=\$thread_$k"
		"$LOTTO_CTL" get "$_t" 2>/dev/null | tr ' ' '\n' |
			awk -v k=$k -v m="$mode" -F= '$1 ~ /^(tickets|wins|waits|wait_max_ns|rescues|funded_by|funded_tickets)$/ { s = s " " $0 }
				END { print "# client_server " m ": server thread " k ":" s }'
	done
	"$LOTTO_CTL" stats 2>/dev/null | grep -iE 'xfer|transfer|rescue' | sed "s/^/# client_server $mode: /"
	wait $client_1 $client_2 $client_3
	kill $server
	wait $server 2>/dev/null
	lotto_stop
	for k in 1 2 3; do rel "$WORK/client.$k" | sed "s/^/$mode,$k,/"; done >>"$WORK/rows"
	top_end=$(rel "$WORK/client.1" | tail -n 1 | cut -d, -f1)
	end=$(rel "$WORK/client.2" | tail -n 1 | cut -d, -f1)
	echo "$mode,$set_t,$top_end,$end" >>"$WORK/phases"
}

# per mode and phase: each client's requests and mean response time; phase 1
# from 0.5 s after the tickets were set to the top client's end, phase 2 from
# 0.5 s after that to the end
summary() {
	awk -F, '
	FNR == 1 { f++; next }
	f == 1 { k = $1 SUBSEP $2; n[k]++; t[k, n[k]] = $3; c[k, n[k]] = $4; r[k, n[k]] = $5 }
	f == 2 { mode[++nm] = $1; a1[$1] = $2 + 0.5; b1[$1] = $3; a2[$1] = $3 + 0.5; b2[$1] = $4 }
	function at(k, x, v,   i, y) {	# v = "c" requests or "r" response sum, at time x
		for (i = 2; i <= n[k]; i++)
			if (x <= t[k, i]) {
				y = (x - t[k, i - 1]) / (t[k, i] - t[k, i - 1]); if (y < 0) y = 0
				return v == "c" ? c[k, i - 1] + (c[k, i] - c[k, i - 1]) * y : r[k, i - 1] + (r[k, i] - r[k, i - 1]) * y
			}
		return v == "c" ? c[k, n[k]] : r[k, n[k]]
	}
	END {
		for (j = 1; j <= nm; j++) {
			m = mode[j]
			for (p = 1; p <= 2; p++) {
				a = p == 1 ? a1[m] : a2[m]; b = p == 1 ? b1[m] : b2[m]
				for (q = (p == 1 ? 1 : 2); q <= 3; q++) {
					k = m SUBSEP q
					dc = at(k, b, "c") - at(k, a, "c"); dr = at(k, b, "r") - at(k, a, "r")
					rate[q] = dc / (b - a)
					printf "rate %s %d %d %.3f %.2f\n", m, p, q, rate[q], dc ? 1000 * dr / dc : 0
				}
				if (p == 1) printf "ratio %s 1 %.2f %.2f 1\n", m, rate[1] / rate[3], rate[2] / rate[3]
				else printf "ratio %s 2 - %.2f 1\n", m, rate[2] / rate[3]
			}
		}
	}' "$(csv client_server)" "$(csv client_server-phases)"
}

# ideal MODE: "t,client1,client2,client3": where each client's requests
# would be if the requests made in each phase were shared as the tickets
# (8:3:1, then 3:1; without transfers 1:1:1, then 1:1), straight lines from
# the tickets being set to the top client's end and from there to the end
ideal() {
	awk -F, -v m="$1" '
	FNR == 1 { f++; next }
	f == 1 && $1 == m { k = $2; n[k]++; t[k, n[k]] = $3; c[k, n[k]] = $4 }
	f == 2 && $1 == m { a = $2; b = $3; e = $4 }
	function at(k, x,   i, y) {
		for (i = 2; i <= n[k]; i++)
			if (x <= t[k, i]) {
				y = (x - t[k, i - 1]) / (t[k, i] - t[k, i - 1]); if (y < 0) y = 0
				return c[k, i - 1] + (c[k, i] - c[k, i - 1]) * y
			}
		return c[k, n[k]]
	}
	END {
		if (m == "none") { s1[1] = s1[2] = s1[3] = 1 / 3; s2[2] = s2[3] = 1 / 2 }
		else { s1[1] = 8 / 12; s1[2] = 3 / 12; s1[3] = 1 / 12; s2[2] = 3 / 4; s2[3] = 1 / 4 }
		for (k = 1; k <= 3; k++) d1 += at(k, b) - at(k, a)
		for (k = 2; k <= 3; k++) d2 += at(k, e) - at(k, b)
		for (k = 1; k <= 3; k++) { ia[k] = at(k, a); ib[k] = ia[k] + s1[k] * d1 }
		printf "%.3f,%.1f,%.1f,%.1f\n", a, ia[1], ia[2], ia[3]
		printf "%.3f,%.1f,%.1f,%.1f\n", b, ib[1], ib[2], ib[3]
		printf "%.3f,NaN,%.1f,%.1f\n", e, ib[2] + s2[2] * d2, ib[3] + s2[3] * d2
	}' "$(csv client_server)" "$(csv client_server-phases)"
}

label() {
	case $1 in
	none) echo "no transfers (server threads 1 ticket each)" ;;
	manual) echo "transfer by hand (server thread = its client's tickets)" ;;
	transfers) echo "lotto-host --transfers (server threads 1 ticket each)" ;;
	*) echo "$1" ;;
	esac
}

report() {
	ms=$(modes_of "$(csv client_server-phases)")
	nm=$(echo $ms | wc -w)
	{
		printf '%s\n' "set multiplot layout $nm,1 title \"Client-server: three clients with tickets 8:3:1, one server thread each, the server without tickets\nWith transfers the server works for each client on its tickets, 8:3:1; without, the clients are served alike\""
		echo 'set ylabel "requests done"'
		echo 'set key outside right top'
		i=0
		for m in $ms; do
			i=$((i + 1))
			echo 'set xlabel "time (s); dotted: the top client stops"'
			mark "$(phase_of "$(csv client_server-phases)" "$m" 3)"
			echo "set title \"$(label "$m")\""
			for k in 1 2 3; do
				awk -F, -v m="$m" -v k=$k '$1 == m && $2 == k { print $3 "," $4 }' "$(csv client_server)" >"$T/client_server-$m-$k.csv"
			done
			ideal "$m" >"$T/client_server-$m-ideal.csv"
			set -- $TICKETS
			echo "plot \"$T/client_server-$m-1.csv\" using 1:2 with lines lw 2 lc rgb '#1f77b4' title \"client 1 ($1 tickets)\", \\"
			echo "     \"$T/client_server-$m-2.csv\" using 1:2 with lines lw 2 lc rgb '#ff7f0e' title \"client 2 ($2)\", \\"
			echo "     \"$T/client_server-$m-3.csv\" using 1:2 with lines lw 2 lc rgb '#2ca02c' title \"client 3 ($3)\", \\"
			echo "     \"$T/client_server-$m-ideal.csv\" using 1:2 with lines dt 2 lc rgb '#555555' title 'ideal share of the requests', \\"
			echo "     '' using 1:3 with lines dt 2 lc rgb '#555555' notitle, '' using 1:4 with lines dt 2 lc rgb '#555555' notitle"
		done
		echo 'unset multiplot'
	} | plot "$DIR/client_server.png" 1200,$((260 + 300 * nm))
	secs=$(awk -F, 'NR > 1 { printf "%d", $4; exit }' "$(csv client_server-phases)")
	top=$(awk -F, 'NR > 1 { printf "%d", $3; exit }' "$(csv client_server-phases)")
	dg=$(for m in $ms; do
		awk -v m="$m" -v l="$m" '$1 == "ratio" && $2 == m && $3 == 1 { printf "%s %s:%s:1", l, $4, $5 }
			$1 == "ratio" && $2 == m && $3 == 2 { printf ", then %s:1; ", $5 }' "$S"
	done)
	digest 4 "Client-server, 8:3:1" "7.69:2.51:1, then 2.91:1 (with transfers)" "${dg%; }"
	cat <<EOF
## 4. Client-server computation (ticket transfers)

**Paper (§5.3).** Three clients with an 8:3:1 allocation send queries to a
multithreaded database server that holds no tickets of its own: each client
transfers its tickets to the server thread working for it while it waits.
Observed throughput 7.69:2.51:1; after the top client finished, the other
two 2.91:1 (allocation 3:1).

**Run here.** \`lotto-paper server\`: one thread per client, 5 ms of CPU
time per request; three \`lotto-paper client\`s with 800, 300 and 100 tickets,
each sending its next request as soon as it has the answer; everything pinned
to one CPU; ${secs} s, the top client stops at ${top} s. The server's threads
have 1 ticket (lotto's least: "no tickets of its own"). With
\`lotto-host --transfers\`, a task that sleeps lends its tickets to its
partner in its last wake-up (the task it woke, or the one that woke it),
for as long as that task has not slept since: a client that
sends a request and waits for the answer funds the server thread working
on it, and that thread's funding ends when it blocks for the next request.
The run without transfers is the same with lotto-host at its defaults, and
the run "by hand" gives each server thread its client's tickets for good
with \`lotto-shell\` (what a transfer gives a thread that serves one client
only). Rates are measured
from 0.5 s after the tickets were set to the top client's end, and from 0.5 s
after that to the end.

![client-server](paper/client_server.png)

| run | throughput, 3 clients (8:3:1) | after the top client ends (3:1) | mean response time, ms (3 clients) |
| --- | --- | --- | --- |
EOF
	for m in $ms; do
		r1=$(awk -v m="$m" '$1 == "ratio" && $2 == m && $3 == 1 { print $4 ":" $5 ":1" }' "$S")
		r2=$(awk -v m="$m" '$1 == "ratio" && $2 == m && $3 == 2 { print $5 ":1" }' "$S")
		rt=$(awk -v m="$m" '$1 == "rate" && $2 == m && $3 == 1 { printf "%s%.1f", sep, $6; sep = " / " }' "$S")
		echo "| $(label "$m") | $r1 | $r2 | $rt |"
	done
	cat <<EOF
| Mach with transfers (paper) | 7.69:2.51:1 | 2.91:1 | |

**Why.** A client spends nearly all its time blocked waiting for the
server, so its own tickets hardly matter: what decides its rate is the share
of the server thread that works for it. Without transfers the three server
threads compete with equal tickets and the clients are served about equally,
the ~1:1:1 that transfers exist to fix. With transfers each server thread
runs on its waiting client's tickets, 800, 300 and 100, and the request
rates follow the clients' allocation as on Mach; when the top client stops,
the other two share the server 3:1. Each pair (a client and its server
thread) has one runnable thread at a time, so the rates are a lottery over
the pairs' draws and scatter like one.
EOF
	# the server threads as lotto saw them (run.log), a second before the top
	# client stopped
	if [ -s "$DIR/run.log" ] && grep -q '^# client_server [a-z]*: server thread' "$DIR/run.log"; then
		cat <<EOF

The server threads as lotto's table showed them a second before the top
client stopped (\`lotto-ctl get\`; "funded" is what its last draw counted):

| run | server thread | wins | waits | longest wait (ms) | funded by / tickets at its last draw |
| --- | --- | --- | --- | --- | --- |
EOF
		awk '$1 == "#" && $2 == "client_server" && $4 == "server" && $5 == "thread" {
			m = $3; sub(/:$/, "", m); k = $6; sub(/:$/, "", k)
			for (i = 7; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			printf "| %s | of client %s | %s | %s | %.0f | %s |\n", m, k, v["wins"], v["waits"], v["wait_max_ns"] / 1e6,
				v["funded_by"] == 0 ? "none" : "pid " v["funded_by"] " / " v["funded_tickets"]
			if (m == "transfers") xw[k] = v["wait_max_ns"]
			else if (v["wait_max_ns"] > base) base = v["wait_max_ns"]
		}
		# a transfers server thread that waited longer than 0.5 s and longer
		# than any thread of the runs without transfers (which shows what the
		# host and the lottery themselves cause)
		END {
			for (k = 1; k <= 3; k++)
				if (xw[k] > 500e6 && xw[k] > base) { slow = slow sep k; sep = ", "; if (xw[k] > worst) worst = xw[k] }
			if (slow != "") printf "SLOW %s %.1f %.1f\n", slow, worst / 1e9, base / 1e9
		}' "$DIR/run.log" >"$T/threads"
		grep -v '^SLOW' "$T/threads"
		slow=$(sed -n 's/^SLOW //p' "$T/threads")
		if [ -n "$slow" ]; then
			set -- $slow
			cat <<EOF

**A problem this run shows.** With \`--transfers\`, the server thread of
client $1 waited up to $2 s at a time, longer than any server thread of the
runs without transfers (at most $3 s): a thread funded by a 300- or
800-ticket client waits a few quanta at most, one racing on its own single
ticket against a thousand waits seconds. So for some of its requests no
transfer took effect (the wake-up was not recorded as that client's, or the
redraw when the client went to sleep did not happen), and that client's rate
falls short of its allocation. It is intermittent (3 of 13 quick runs made
while this was written showed it, each time for one client, for seconds at
a stretch) and a
matter of lotto's core, not of the workload: the run by hand, where each
server thread simply holds its client's tickets, shows the allocation with
the same clients and server.
EOF
		fi
	fi
}

check() {
	for m in $(modes_of "$(csv client_server-phases)"); do
		set -- $(awk -v m="$m" '$1 == "ratio" && $2 == m && $3 == 1 { print $4, $5 }' "$S")
		r13=$1 r23=$2
		r2=$(awk -v m="$m" '$1 == "ratio" && $2 == m && $3 == 2 { print $5 }' "$S")
		case $m in
		none)
			verdict "client_server none: client 1 / client 3 (1:1:1)" "$r13" 0.6 1.6
			verdict "client_server none: client 2 / client 3" "$r23" 0.6 1.6 ;;
		*)
			verdict "client_server $m: client 1 / client 3 (8)" "$r13" 4 16
			verdict "client_server $m: client 2 / client 3 (3)" "$r23" 1.7 5
			verdict "client_server $m: after the top client, 2 / 3 (3)" "$r2" 1.7 5 ;;
		esac
	done
}

paper_main "$@"
