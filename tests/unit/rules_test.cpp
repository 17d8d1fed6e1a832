// Unit tests of bpf/lotto_rules.h, the decisions around the draw that the
// BPF core and the sim share: quantum length, whether a CPU draws, catch-up,
// which CPU a wake-up makes draw early, whom a transfer goes to.
extern "C" {
#include "lotto_abi.h"
#include "lotto_rules.h"
}

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

constexpr uint64_t kUs = 1000, kMs = 1000 * kUs;

} // namespace

TEST_CASE("a quantum is the latency shared among the tasks waiting per CPU, within min run and slice",
	  "[rules][slice]")
{
	const uint64_t lat = 10 * kMs, min = 1 * kMs, max = 20 * kMs;
	// nothing waits: the longest quantum (a wake-up ends it early anyway)
	CHECK(lotto_slice_ns(lat, min, max, 0, 0, 4, false) == max);
	// one waiting on one CPU: a round of two takes the latency
	CHECK(lotto_slice_ns(lat, min, max, 1, 0, 1, false) == 5 * kMs);
	CHECK(lotto_slice_ns(lat, min, max, 0, 1, 4, false) == 5 * kMs);
	// shared waiters are spread over the CPUs (rounded up): 6 on 4 CPUs = 2
	CHECK(lotto_slice_ns(lat, min, max, 6, 0, 4, false) == lat / 3);
	CHECK(lotto_slice_ns(lat, min, max, 4, 0, 4, false) == lat / 2);
	// pinned waiters count in full, on top
	CHECK(lotto_slice_ns(lat, min, max, 4, 1, 4, false) == lat / 3);
	// clamped below by the minimum run, above by the slice
	CHECK(lotto_slice_ns(lat, min, max, 1000, 0, 1, false) == min);
	CHECK(lotto_slice_ns(100 * kMs, min, max, 1, 0, 1, false) == max);
	// a woken task heads a queue: the minimum run, so it draws again soon
	CHECK(lotto_slice_ns(lat, min, max, 1, 0, 1, true) == min);
	CHECK(lotto_slice_ns(lat, 5 * max, max, 1, 0, 1, true) == max);
	CHECK(lotto_slice_ns(lat, min, max, 0, 0, 1, true) == max);	// nothing waits after all
	// no CPUs reported: as one
	CHECK(lotto_slice_ns(lat, min, max, 1, 0, 0, false) == 5 * kMs);
}

TEST_CASE("the task whose quantum ended keeps its CPU without a draw only alone or on a credit", "[rules][prev]")
{
	// nothing else may run here: no draw, whatever the credit
	CHECK(lotto_prev_action(false, false, 0, true) == LOTTO_PREV_ALONE);
	CHECK(lotto_prev_action(false, false, 3, false) == LOTTO_PREV_ALONE);
	// a credit is spent on a quantum that expired by itself
	CHECK(lotto_prev_action(true, false, 1, true) == LOTTO_PREV_CREDIT);
	// never on an early draw (wake-up, yield), never where pinned tasks wait
	CHECK(lotto_prev_action(true, false, 1, false) == LOTTO_PREV_DRAW);
	CHECK(lotto_prev_action(true, true, 5, true) == LOTTO_PREV_DRAW);
	CHECK(lotto_prev_action(true, false, 0, true) == LOTTO_PREV_DRAW);
}

TEST_CASE("catch-up counts nothing when the clock did not move or there is no room", "[rules][catchup]")
{
	lotto_rng g{1};
	for (int i = 0; i < 1000; i++) {
		CHECK(lotto_catchup(0, 100, LOTTO_COMP_ONE, LOTTO_CATCHUP_MAX, &g) == 0);
		CHECK(lotto_catchup(~0ull >> 2, 100, LOTTO_COMP_ONE, 0, &g) == 0);
	}
	// a huge move fills one step's worth, no more
	CHECK(lotto_catchup(~0ull >> 2, 100, LOTTO_COMP_ONE, LOTTO_CATCHUP_MAX, &g) == LOTTO_CATCHUP_STEP);
	CHECK(lotto_catchup(~0ull >> 2, 100, LOTTO_COMP_ONE, 3, &g) == 3);
}

// The count of events of a Poisson process of rate t/f within the clock's
// move: for a move worth mean m events it must be Poisson(m) (truncated at
// the step), which the chi-square test below checks against the exact law.
// Key units: lotto_key_delta gives E * comp_q10 / t scaled by 2^(16 + 12),
// so the race of a task runs at t / (comp_q10 * 2^28) events per key unit.
TEST_CASE("catch-up counts the wins a running task's race had: Poisson in the clock's move", "[rules][catchup]")
{
	const double unit = double(1ull << (LOTTO_Q16 + LOTTO_KEY_SHIFT));
	struct Case {
		uint32_t tickets, comp;
		double mean;
	};
	for (Case c : {Case{100, LOTTO_COMP_ONE, 0.5}, Case{100, LOTTO_COMP_ONE, 1.5}, Case{7, 512, 3.0},
		       Case{1000, 2048, 0.2}}) {
		uint32_t tickets = c.tickets, comp = c.comp;
		double mean = c.mean;
		// rate per key unit; span for the wanted mean
		double rate = double(tickets) / (double(comp) * unit);
		uint64_t span = uint64_t(mean / rate);
		lotto_rng g{42};
		const int n = 200000;
		std::vector<double> seen(LOTTO_CATCHUP_STEP + 1, 0);
		for (int i = 0; i < n; i++)
			seen[lotto_catchup(span, tickets, comp, LOTTO_CATCHUP_MAX, &g)]++;
		double chi2 = 0, pk = std::exp(-mean), rest = 1;
		int cells = 0;
		for (uint32_t k = 0; k <= LOTTO_CATCHUP_STEP; k++) {
			double p = k < LOTTO_CATCHUP_STEP ? pk : rest;	// the last cell: k or more
			rest -= pk;
			pk *= mean / (k + 1);
			if (p * n < 5)
				continue;
			chi2 += (seen[k] - p * n) * (seen[k] - p * n) / (p * n);
			cells++;
		}
		INFO("tickets " << tickets << " f " << comp << " mean " << mean << ": chi2 " << chi2 << " over " << cells
				<< " cells");
		CHECK(cells >= 2);
		CHECK(chi2 < 50);	// far beyond the 1e-9 quantile for <= 9 cells (~45)
	}
}

TEST_CASE("a wake-up picks the CPU whose task ran longest, its last CPU once that ran the minimum", "[rules][wake]")
{
	const uint64_t min = 1 * kMs;
	// not running a lotto task: never
	CHECK(lotto_victim_score(50 * kMs, false, false, true, min) == 0);
	// longer run, higher score; its last CPU beats all once past min_run
	CHECK(lotto_victim_score(3 * kMs, true, false, false, min) > lotto_victim_score(2 * kMs, true, false, false, min));
	CHECK(lotto_victim_score(1 * kMs, true, false, true, min) > lotto_victim_score(50 * kMs, true, false, false, min));
	CHECK(lotto_victim_score(500 * kUs, true, false, true, min) < lotto_victim_score(2 * kMs, true, false, false, min));
	// a task just started still counts (it is a candidate to shrink)
	CHECK(lotto_victim_score(0, true, false, false, min) > 0);
	// a CPU already asked for an early draw in this quantum is not asked again
	CHECK(lotto_victim_score(50 * kMs, true, true, true, min) == 0);

	CHECK(lotto_wake_action(0, 5 * kMs, min) == LOTTO_WAKE_NONE);
	CHECK(lotto_wake_action(7, 1 * kMs, min) == LOTTO_WAKE_NOW);
	CHECK(lotto_wake_action(7, 999 * kUs, min) == LOTTO_WAKE_SHRINK);
}

TEST_CASE("an early draw is asked of a CPU once per quantum", "[rules][wake]")
{
	CHECK_FALSE(lotto_early_draw_asked(0, 5 * kMs));		// nothing pending
	CHECK_FALSE(lotto_early_draw_asked(4 * kMs, 5 * kMs));	// asked of the quantum before
	CHECK(lotto_early_draw_asked(5 * kMs, 5 * kMs));
	CHECK(lotto_early_draw_asked(6 * kMs, 5 * kMs));
	CHECK_FALSE(lotto_early_draw_asked(6 * kMs, 0));		// nothing runs there
}

TEST_CASE("a new funder replaces a stale entry first, then one whose funder runs, never one that counts while others do not",
	  "[rules][transfers]")
{
	lotto_sleep s{};
	s.pid = 5;
	s.woke = 9;
	CHECK(lotto_funder_use(&s, 5, 9) == LOTTO_FUNDER_AWAKE);
	s.asleep = 1;
	CHECK(lotto_funder_use(&s, 5, 9) == LOTTO_FUNDER_COUNTS);
	CHECK(lotto_funder_use(&s, 5, 8) == LOTTO_FUNDER_STALE);	// points elsewhere
	CHECK(lotto_funder_use(&s, 6, 9) == LOTTO_FUNDER_STALE);	// its slot has another task

	lotto_funder f[LOTTO_FUNDERS] = {{1, 1}, {2, 2}, {3, 3}, {4, 4}};
	__u32 next = 0;
	int use[LOTTO_FUNDERS] = {LOTTO_FUNDER_COUNTS, LOTTO_FUNDER_AWAKE, LOTTO_FUNDER_STALE, LOTTO_FUNDER_AWAKE};
	lotto_funder_note(f, use, &next, 3, 33);	// its own entry
	CHECK(f[2].pid == 3);
	CHECK(f[2].slot == 33);
	lotto_funder_note(f, use, &next, 7, 7);	// the stale one
	CHECK(f[2].pid == 7);
	int use2[LOTTO_FUNDERS] = {LOTTO_FUNDER_COUNTS, LOTTO_FUNDER_COUNTS, LOTTO_FUNDER_COUNTS, LOTTO_FUNDER_AWAKE};
	lotto_funder_note(f, use2, &next, 8, 8);	// the running one, not one that counts
	CHECK(f[3].pid == 8);
	CHECK(f[0].pid == 1);
	CHECK(f[1].pid == 2);
	int all[LOTTO_FUNDERS] = {LOTTO_FUNDER_COUNTS, LOTTO_FUNDER_COUNTS, LOTTO_FUNDER_COUNTS, LOTTO_FUNDER_COUNTS};
	lotto_funder_note(f, all, &next, 11, 11);	// all count: round robin
	lotto_funder_note(f, all, &next, 12, 12);
	CHECK(f[0].pid == 11);
	CHECK(f[1].pid == 12);
	CHECK(next == 2);
}

TEST_CASE("a CPU keeps up to four redraw notes, one per task, replaced round robin when full", "[rules][transfers]")
{
	__u32 pids[LOTTO_XFER_PEND] = {};
	__u32 next = 0;
	for (__u32 pid = 1; pid <= LOTTO_XFER_PEND; pid++) {
		__u32 at = lotto_pend_at(pids, &next, pid);
		CHECK(at == pid - 1);	// free notes first
		pids[at] = pid;
	}
	CHECK(lotto_pend_at(pids, &next, 3) == 2);	// the same task: its note again
	CHECK(next == 0);
	CHECK(lotto_pend_at(pids, &next, 9) == 0);	// full: round robin
	CHECK(lotto_pend_at(pids, &next, 10) == 1);
	pids[2] = 0;					// a dispatch took a note
	CHECK(lotto_pend_at(pids, &next, 11) == 2);
	CHECK(next == 2);
}
