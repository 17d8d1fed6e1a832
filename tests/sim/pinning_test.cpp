// Tasks pinned to CPUs (taskset) run only where they are allowed.
#include "sim_test_util.h"

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

TEST_CASE("pinned tasks only run on the CPUs they are allowed", "[pin]")
{
	auto m = machine("cpus 4\n"
			 "task name=p1 cpu=100% pin=1 count=2\n"
			 "task name=p23 run=2ms sleep=1ms pin=2-3 count=3\n"
			 "task name=free cpu=100% count=3\n");
	m->run_for(30 * kSec);
	for (uint32_t pid : m->pids_named("p1")) {
		for (uint32_t c : {0u, 2u, 3u})
			CHECK_FALSE(m->ran_on(pid, c));
		CHECK(m->ran_on(pid, 1));
		CHECK(m->thread(pid)->runtime_ns > 5 * kSec);
	}
	for (uint32_t pid : m->pids_named("p23")) {
		CHECK_FALSE(m->ran_on(pid, 0));
		CHECK_FALSE(m->ran_on(pid, 1));
		CHECK(m->thread(pid)->runtime_ns > 5 * kSec);
		auto slot = m->slot_of(pid);
		REQUIRE(slot);
		CHECK(m->tasks()[*slot].last_cpu >= 2);
	}
	// the unpinned ones fill whatever the pinned ones leave
	for (uint32_t pid : m->pids_named("free"))
		CHECK(m->thread(pid)->cpus_used >= 2);
}

TEST_CASE("two lotteries pinned to two CPUs each follow their own tickets", "[pin][shares]")
{
	BackendConfig cfg;
	cfg.slice_us = 1000;
	auto m = machine("cpus 2\n"
			 "task name=a cpu=100% pin=0 tickets=300\ntask name=b cpu=100% pin=0 tickets=100\n"
			 "task name=c cpu=100% pin=1 tickets=100\ntask name=d cpu=100% pin=1 tickets=200\n"
			 "task name=e cpu=100% pin=1 tickets=700\n",
			 cfg);
	m->run_for(120 * kSec);
	double per_cpu_draws = double(m->stats().total[LOTTO_STAT_DRAWS]) / 2;
	struct {
		const char *name;
		double p;
	} want[] = {{"a", 0.75}, {"b", 0.25}, {"c", 0.1}, {"d", 0.2}, {"e", 0.7}};
	for (auto &w : want) {
		double share = double(runtime(*m, m->pids_named(w.name).at(0))) / double(120 * kSec);
		INFO(w.name << " share " << share << " ideal " << w.p);
		CHECK(std::abs(share - w.p) <= band(w.p, per_cpu_draws));
	}
}

TEST_CASE("a pin naming a CPU the machine lacks is an error with the workload line", "[pin][workload]")
{
	auto m = SimMachine::from_text("cpus 2\n\ntask name=x pin=0,3\n", {});
	REQUIRE_FALSE(m);
	CHECK(m.error().msg == "(workload text):3: pin=0,3 names CPU 3 but the machine has 2 CPUs (0..1)");

	BackendConfig cfg;
	cfg.sim_cpus = 4;	// --sim-cpus overrides the file
	CHECK(SimMachine::from_text("cpus 2\ntask name=x pin=3\n", cfg));
}
