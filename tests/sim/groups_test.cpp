// Groups (currencies): an exact two-level lottery. cgroups are groups funded
// by cpu.weight; policies put tasks in groups of their own (lotto_task_groups)
// and fund them (lotto_group_ctl). Shares against the binomial band of the
// quanta handed out, as in shares_test.cpp.
#include "sim_test_util.h"

#include <map>
#include <vector>

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

namespace {

// CPU time of the tasks named `name`, summed, as a share of the machine
double share_of(const SimMachine &m, const std::string &name, uint64_t secs)
{
	double sum = 0;
	for (uint32_t pid : m.pids_named(name))
		sum += double(runtime(m, pid));
	return sum / double(uint64_t(m.nr_cpus()) * secs * kSec);
}

std::string cgroups_workload(uint32_t cpus, uint32_t a_tasks, uint32_t b_tasks, bool pinned)
{
	std::string pin = pinned ? " pin=0" : "";
	return "cpus " + std::to_string(cpus) + "\ncgroup /a weight=200\ncgroup /b weight=100\n" +
	       "task name=a cpu=100% cgroup=/a count=" + std::to_string(a_tasks) + pin + "\n" +
	       "task name=b cpu=100% cgroup=/b count=" + std::to_string(b_tasks) + pin + "\n";
}

} // namespace

TEST_CASE("two cgroups weighing 200 and 100 get 2:1 of a CPU whatever their number of tasks", "[groups]")
{
	// one task in the first, three in the second, all on one CPU: a flat
	// lottery on tickets would give 1:3
	auto m = machine(cgroups_workload(1, 1, 3, true));
	m->run_for(300 * kSec);
	double a = share_of(*m, "a", 300), b = share_of(*m, "b", 300), n = quanta(*m);
	INFO("a " << a << " b " << b << " (" << n << " quanta)");
	CHECK(std::abs(a - 2.0 / 3) <= band(2.0 / 3, n));
	CHECK(std::abs(b - 1.0 / 3) <= band(1.0 / 3, n));
	// within the second group, equal tickets: equal shares
	for (uint32_t pid : m->pids_named("b"))
		CHECK(std::abs(double(runtime(*m, pid)) / double(300 * kSec) - 1.0 / 9) <= band(1.0 / 9, n));
	CHECK(m->groups()[1].wins + m->groups()[2].wins > 0);
}

TEST_CASE("the groups' 2:1 holds unpinned on 2 and 4 CPUs", "[groups][smp]")
{
	for (uint32_t cpus : {2u, 4u}) {
		auto m = machine(cgroups_workload(cpus, 2 * cpus / 2 * 1, 6 * cpus / 2, false));
		m->run_for(300 * kSec);
		double a = share_of(*m, "a", 300), n = quanta(*m);
		INFO(cpus << " CPUs: a " << a << " (" << n << " quanta)");
		CHECK(std::abs(a - 2.0 / 3) <= band(2.0 / 3, n));
	}
}

TEST_CASE("three groups keep their fundings' shares on 2 CPUs when one group's tasks all run", "[groups][smp]")
{
	// x's two hogs often both run, and then get longer quanta (quanta shrink
	// with what waits): the wins they take inside x while x is out of the
	// race must be charged at their own f, not at the f of whichever task
	// brings x back (that gave x 0.357, b 0.520)
	auto m = machine("cpus 2\ncgroup /x weight=300\ncgroup /y weight=100\ncgroup /b weight=400\n"
			 "task name=x cpu=100% cgroup=/x count=2\n"
			 "task name=y cpu=100% cgroup=/y count=2\n"
			 "task name=b cpu=100% cgroup=/b count=4\n");
	m->run_for(300 * kSec);
	double x = share_of(*m, "x", 300), y = share_of(*m, "y", 300), b = share_of(*m, "b", 300), n = quanta(*m);
	INFO("x " << x << " y " << y << " b " << b << " (" << n << " quanta)");
	CHECK(std::abs(x - 3.0 / 8) <= band(3.0 / 8, n));
	CHECK(std::abs(y - 1.0 / 8) <= band(1.0 / 8, n));
	CHECK(std::abs(b - 1.0 / 2) <= band(1.0 / 2, n));
}

TEST_CASE("a new cpu.weight moves the groups' shares from the next draws on", "[groups]")
{
	auto m = machine(cgroups_workload(1, 1, 3, true));
	m->run_for(100 * kSec);
	REQUIRE(m->set_cgroup_weight("/a", 100));
	auto before = [&](const char *n) {
		double s = 0;
		for (uint32_t pid : m->pids_named(n))
			s += double(runtime(*m, pid));
		return s;
	};
	double a0 = before("a"), b0 = before("b");
	m->run_for(200 * kSec);
	double a = before("a") - a0, b = before("b") - b0;
	INFO("after: a " << a / (a + b));
	CHECK(std::abs(a / (a + b) - 0.5) <= band(0.5, 0.5 * quanta(*m)));
	CHECK(m->groups()[1].weight == 100);
}

TEST_CASE("insulation: a task joining one group does not change the other group's share", "[groups]")
{
	// Waldspurger & Weihl section 5.5: A and B funded alike; A1:A2 = 100:200,
	// B1:B2 = 100:200; B3 (300) joins B at 100 s. A stays at 1/2; B1 and B2
	// halve.
	auto m = machine("cpus 1\ncgroup /A weight=100\ncgroup /B weight=100\n"
			 "task name=a1 cpu=100% cgroup=/A tickets=100\ntask name=a2 cpu=100% cgroup=/A tickets=200\n"
			 "task name=b1 cpu=100% cgroup=/B tickets=100\ntask name=b2 cpu=100% cgroup=/B tickets=200\n"
			 "task name=b3 cpu=100% cgroup=/B tickets=300 start=100s\n");
	m->run_for(100 * kSec);
	std::map<std::string, double> t0;
	for (const char *n : {"a1", "a2", "b1", "b2"})
		t0[n] = double(runtime(*m, m->pids_named(n).at(0))) / kSec;
	m->run_for(200 * kSec);
	double n = quanta(*m);
	auto after = [&](const char *name) { return double(runtime(*m, m->pids_named(name).at(0))) / kSec - t0[name]; };
	INFO("before: a1 " << t0["a1"] << " a2 " << t0["a2"] << " b1 " << t0["b1"] << " b2 " << t0["b2"]);
	CHECK(std::abs(t0["a1"] / 100 - 1.0 / 6) <= band(1.0 / 6, n / 3));
	CHECK(std::abs(t0["b2"] / 100 - 1.0 / 3) <= band(1.0 / 3, n / 3));
	INFO("after: a1 " << after("a1") << " a2 " << after("a2") << " b1 " << after("b1") << " b2 " << after("b2"));
	CHECK(std::abs((after("a1") + after("a2")) / 200 - 0.5) <= band(0.5, 2 * n / 3));
	CHECK(std::abs(after("a1") / 200 - 1.0 / 6) <= band(1.0 / 6, 2 * n / 3));
	CHECK(std::abs(after("b1") / 200 - 1.0 / 12) <= band(1.0 / 12, 2 * n / 3));
	CHECK(std::abs(after("b2") / 200 - 1.0 / 6) <= band(1.0 / 6, 2 * n / 3));
}

TEST_CASE("a policy group puts tasks in a currency of their own, funded by user space", "[groups][policy]")
{
	// four root tasks of 100 tickets and two tasks that a policy puts in a
	// group funded with 400: the group gets 400 / 800 of the CPU, shared by
	// its tasks' tickets 1:3
	auto m = machine("cpus 1\ntask name=r cpu=100% count=4\ntask name=g1 cpu=100% tickets=100\n"
			 "task name=g2 cpu=100% tickets=300\n");
	const uint32_t gid = LOTTO_POLICY_GROUP_BASE + 7;
	m->set_funding(gid, 400);
	REQUIRE(m->set_group(m->pids_named("g1").at(0), gid));
	REQUIRE(m->set_group(m->pids_named("g2").at(0), gid));
	m->run_for(1 * kSec);
	double g10 = double(runtime(*m, m->pids_named("g1").at(0))), g20 = double(runtime(*m, m->pids_named("g2").at(0)));
	m->run_for(300 * kSec);
	double n = quanta(*m);
	double g1 = (double(runtime(*m, m->pids_named("g1").at(0))) - g10) / double(300 * kSec);
	double g2 = (double(runtime(*m, m->pids_named("g2").at(0))) - g20) / double(300 * kSec);
	INFO("g1 " << g1 << " g2 " << g2);
	CHECK(std::abs(g1 - 0.125) <= band(0.125, n));
	CHECK(std::abs(g2 - 0.375) <= band(0.375, n));
	CHECK(m->groups()[gid].kind == LOTTO_GROUP_POLICY);
	CHECK(m->groups()[gid].funding == 400);
	CHECK(m->tasks()[*m->slot_of(m->pids_named("g1").at(0))].group == gid);
}

TEST_CASE("with every task in the root cgroup, groups change nothing", "[groups]")
{
	// the same seed gives the same run with cgroups on and off
	const char *w = "cpus 2\ntask name=a cpu=100% tickets=300\ntask name=b cpu=100% count=3\n"
			"task name=io run=1ms sleep=4ms\n";
	BackendConfig on, off;
	off.cgroups = false;
	auto m1 = machine(w, on), m2 = machine(w, off);
	m1->run_for(30 * kSec);
	m2->run_for(30 * kSec);
	for (uint32_t pid : m1->pids())
		CHECK(runtime(*m1, pid) == runtime(*m2, pid));
}
