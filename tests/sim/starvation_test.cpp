// The starvation guard: no runnable task waits longer than starve_ms (plus
// the slice in progress), whatever the ticket skew.
#include "sim_test_util.h"

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

TEST_CASE("the starvation guard bounds waits at a 10000:1 ticket skew", "[starve]")
{
	BackendConfig cfg;
	cfg.starve_ms = 100;
	auto m = machine("cpus 1\ntask name=rich cpu=100% tickets=1000000\ntask name=poor cpu=100% tickets=100\n", cfg);
	m->run_for(60 * kSec);
	auto poor = *m->thread(kFirstPid + 1);
	// many finished waits, so the maximum below means something
	REQUIRE(poor.waits > 400);
	// it can only be run when a slice ends: the bound is starve + one slice
	CHECK(poor.wait_max_ns <= 100 * kMs + 20 * kMs);
	CHECK(poor.wait_max_ns >= 100 * kMs);
	CHECK(poor.rescues > 400);
	CHECK(m->stats().total[LOTTO_STAT_RESCUES] == poor.rescues);
	auto slot = m->slot_of(kFirstPid + 1);
	REQUIRE(slot);
	CHECK(m->tasks()[*slot].rescues == poor.rescues);
	CHECK(m->tasks()[*slot].wait_max_ns == poor.wait_max_ns);
	// the rich task is barely bent: it still gets > 80% of the CPU
	CHECK(runtime(*m, kFirstPid) > 48 * kSec);
}

TEST_CASE("without a skew the starvation guard never fires", "[starve]")
{
	auto m = machine("cpus 2\ntask name=a cpu=100% count=6\n");
	m->run_for(120 * kSec);
	CHECK(m->stats().total[LOTTO_STAT_RESCUES] == 0);
	for (uint32_t pid : m->pids())
		CHECK(m->thread(pid)->wait_max_ns < LOTTO_STARVE_MS_DEFAULT * kMs);
}

TEST_CASE("the default guard keeps a 1-ticket task inside 5 s among 1,000,000-ticket hogs on two CPUs", "[starve][smp]")
{
	auto m = machine("cpus 2\ntask name=rich cpu=100% tickets=1000000 count=3\ntask name=poor cpu=100% tickets=1\n");
	m->run_for(60 * kSec);
	auto poor = *m->thread(m->pids_named("poor").at(0));
	CHECK(poor.rescues >= 10);
	CHECK(poor.wait_max_ns <= LOTTO_STARVE_MS_DEFAULT * kMs + 20 * kMs);
}
