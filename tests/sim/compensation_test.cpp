// Compensation tickets: a task that used a fraction f of the slice (the
// longest quantum) since its last draw competes with tickets / f at its next
// draw. The mechanism tests run with fixed quanta and no wake-up draws
// (fixed_quanta), where Waldspurger's arithmetic can be checked exactly.
#include "sim_test_util.h"

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

namespace {

struct Run {
	double hog_s, other_s, other_wait_s;
	uint64_t other_wins;
};

Run run(const char *other, bool compensation)
{
	BackendConfig cfg = fixed_quanta();
	cfg.compensation = compensation;
	auto m = machine(std::string("cpus 1\ntask name=hog cpu=100%\ntask name=other ") + other + "\n", cfg);
	m->run_for(600 * kSec);
	auto h = *m->thread(kFirstPid), o = *m->thread(kFirstPid + 1);
	return {double(h.runtime_ns) / kSec, double(o.runtime_ns) / kSec, double(o.wait_ns) / kSec, o.wins};
}

} // namespace

TEST_CASE("a task that gives up the CPU after a tenth of its slice gets its fair share with compensation",
	  "[compensation]")
{
	// run=2ms with no sleep: it yields after 2 ms of every 20 ms slice and
	// is runnable again at once, so it takes part in every draw. f = 0.1
	// makes it compete with 10x tickets: it wins 10/11 draws for 2 ms each,
	// the hog 1/11 for 20 ms: equal CPU time (Waldspurger's example).
	Run with = run("run=2ms", true);
	INFO("with compensation: hog " << with.hog_s << " s, yielder " << with.other_s << " s");
	double share = with.other_s / (with.hog_s + with.other_s);
	// ~165,000 draws; the share moves by -3x the hog's win rate (1/11), whose
	// binomial sd is 7e-4: 5 sd of the share is 0.011
	CHECK(std::abs(share - 0.5) <= 0.015);
	CHECK(with.other_wins > 100000);

	// without it both win half the draws and the yielder gets 2 ms per 22
	Run without = run("run=2ms", false);
	INFO("without compensation: hog " << without.hog_s << " s, yielder " << without.other_s << " s");
	double share_off = without.other_s / (without.hog_s + without.other_s);
	CHECK(std::abs(share_off - 1.0 / 11) < 0.01);
}

TEST_CASE("a task sleeping half the time wins more of its draws and gets more CPU with compensation",
	  "[compensation]")
{
	// 10 ms of CPU, then 10 ms asleep: f = 0.5, so at each draw against the
	// hog it holds twice the hog's tickets (wins 2/3 instead of 1/2).
	Run with = run("run=10ms sleep=10ms", true);
	Run without = run("run=10ms sleep=10ms", false);
	INFO("CPU of the sleeper: " << with.other_s << " s with, " << without.other_s << " s without");
	double runnable_with = with.other_s + with.other_wait_s, runnable_without = without.other_s + without.other_wait_s;
	// while runnable it runs a larger fraction of the time
	CHECK(with.other_s / runnable_with > 1.15 * (without.other_s / runnable_without));
	CHECK(with.other_s > 1.1 * without.other_s);
	// each burst is 10 ms: wins per burst tell how often it lost a draw
	// first. Expected waits per burst: 1/(2/3)=1.5 draws vs 2 draws.
	CHECK(with.other_wait_s < without.other_wait_s);
}

TEST_CASE("compensation factors are written to the task table at each draw", "[compensation][stats]")
{
	auto m = machine("cpus 1\ntask name=hog cpu=100%\ntask name=y run=5ms\n", fixed_quanta());
	m->run_for(2 * kSec);
	auto y = m->slot_of(kFirstPid + 1);
	auto h = m->slot_of(kFirstPid);
	REQUIRE(y);
	REQUIRE(h);
	CHECK(m->tasks()[*y].comp_q10 == lotto_comp_q10(5 * kMs, 20 * kMs));
	CHECK(m->tasks()[*h].comp_q10 == LOTTO_COMP_ONE);

	// quanta that shrink with load are charged against the slice too: one
	// task waits, so a quantum is latency / 2 = 5 ms and f = 5/20
	auto scaled = machine("cpus 1\ntask name=hog cpu=100% count=2\n");
	scaled->run_for(2 * kSec);
	CHECK(scaled->tasks()[*scaled->slot_of(kFirstPid)].comp_q10 == lotto_comp_q10(5 * kMs, 20 * kMs));

	BackendConfig off;
	off.compensation = false;
	auto m2 = machine("cpus 1\ntask name=hog cpu=100%\ntask name=y run=5ms\n", off);
	m2->run_for(2 * kSec);
	CHECK(m2->tasks()[*m2->slot_of(kFirstPid + 1)].comp_q10 == LOTTO_COMP_ONE);
}

TEST_CASE("with a 4 ms tick a 5 ms slice lasts until the next tick boundary", "[tick]")
{
	BackendConfig cfg = fixed_quanta();
	cfg.slice_us = 5000;
	auto exact = machine("cpus 1\ntask name=a cpu=100%\ntask name=b cpu=100%\n", cfg);
	auto ticked = machine("cpus 1\ntick 4ms\ntask name=a cpu=100%\ntask name=b cpu=100%\n", cfg);
	exact->run_for(8 * kSec);
	ticked->run_for(8 * kSec);
	auto wins = [](const SimMachine &m) { return m.thread(kFirstPid)->wins + m.thread(kFirstPid + 1)->wins; };
	CHECK(wins(*exact) == 8 * kSec / (5 * kMs) + 1);	// 1600 slices, +1 running now
	CHECK(wins(*ticked) == 8 * kSec / (8 * kMs) + 1);	// every slice runs 8 ms
	CHECK(ticked->tick_ns() == 4 * kMs);
}
