// Nested cgroups, flattened as the fair class weighs them (cgroup_tree.h, the
// core's lotto_cgroups.bpf.h): a cgroup's share of its parent is its weight
// over the weight of its parent's active children (and the parent's own
// runnable tasks, LOTTO_FUNDING_DEFAULT each). Shares against the binomial
// band of the quanta handed out, as in groups_test.cpp.
#include "sim_test_util.h"

#include <algorithm>
#include <string>

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

namespace {

// CPU time of the tasks named `name` since `from_ns` of each, as a share of
// the machine over `secs`
double share_of(const SimMachine &m, const std::string &name, uint64_t secs, uint64_t from_ns = 0)
{
	double sum = 0;
	for (uint32_t pid : m.pids_named(name))
		sum += double(runtime(m, pid));
	return (sum - double(from_ns)) / double(uint64_t(m.nr_cpus()) * secs * kSec);
}

double total_of(const SimMachine &m, const std::string &name)
{
	double sum = 0;
	for (uint32_t pid : m.pids_named(name))
		sum += double(runtime(m, pid));
	return sum;
}

// /a and /b alike; /a/x:/a/y = 300:100. Fair-class shares: b 1/2, x 3/8,
// y 1/8. Each cgroup's own weight alone (the flat lottery of groups) would
// give x 3/5, y and b 1/5 each.
std::string tree_workload(uint32_t cpus, uint32_t per_cpu, bool pinned, const std::string &y_extra = "")
{
	std::string pin = pinned ? " pin=0" : "", n = std::to_string(per_cpu);
	return "cpus " + std::to_string(cpus) +
	       "\ncgroup /a weight=100\ncgroup /b weight=100\ncgroup /a/x weight=300\ncgroup /a/y weight=100\n"
	       "task name=x cpu=100% cgroup=/a/x count=" + n + pin + "\n" +
	       "task name=y cpu=100% cgroup=/a/y count=" + n + pin + y_extra + "\n" +
	       "task name=b cpu=100% cgroup=/b count=" + std::to_string(2 * per_cpu) + pin + "\n";
}

} // namespace

TEST_CASE("a nested cgroup gets its weight's fraction of its parent's share", "[groups][nested]")
{
	auto m = machine(tree_workload(1, 1, true));
	m->run_for(300 * kSec);
	double n = quanta(*m), x = share_of(*m, "x", 300), y = share_of(*m, "y", 300), b = share_of(*m, "b", 300);
	INFO("x " << x << " y " << y << " b " << b << " (" << n << " quanta)");
	CHECK(std::abs(b - 0.5) <= band(0.5, n));
	CHECK(std::abs(x - 0.375) <= band(0.375, n));
	CHECK(std::abs(y - 0.125) <= band(0.125, n));
	// what `groups` shows as the funding in force: a's 100 times x's 3/4
	CHECK(m->groups()[3].funding == 75);
	CHECK(m->groups()[4].funding == 25);
}

TEST_CASE("unpinned on 2 and 4 CPUs, the nested tree races as its flattened weights would", "[groups][nested][smp]")
{
	// x, y, b as top-level cgroups weighing 300, 100, 400 are what the
	// tree flattens to: two runs of the same draws' law, so their shares
	// agree within the band of their difference (sqrt(2) bands). Whether
	// groups' shares match their funding on several CPUs is groups_test's.
	for (uint32_t cpus : {2u, 4u}) {
		std::string n = std::to_string(cpus);
		auto nested = machine(tree_workload(cpus, cpus, false));
		auto flat = machine("cpus " + n + "\ncgroup /x weight=300\ncgroup /y weight=100\ncgroup /b weight=400\n" +
				    "task name=x cpu=100% cgroup=/x count=" + n + "\ntask name=y cpu=100% cgroup=/y count=" + n +
				    "\ntask name=b cpu=100% cgroup=/b count=" + std::to_string(2 * cpus) + "\n");
		nested->run_for(300 * kSec);
		flat->run_for(300 * kSec);
		double q = std::min(quanta(*nested), quanta(*flat));
		for (const char *name : {"x", "y", "b"}) {
			double a = share_of(*nested, name, 300), f = share_of(*flat, name, 300);
			INFO(cpus << " CPUs, " << name << ": nested " << a << " flat " << f << " (" << q << " quanta)");
			CHECK(std::abs(a - f) <= std::sqrt(2.0) * band(f, q));
		}
		CHECK(std::abs(share_of(*nested, "b", 300) - 0.5) <= 0.03);	// near 1/2 (see groups_test)
	}
}

TEST_CASE("only active siblings count: when /a/y has nothing runnable, /a/x has all of /a", "[groups][nested]")
{
	// y's task leaves at 100 s; from then on x and b split the CPU 1:1
	auto m = machine(tree_workload(1, 1, true, " stop=100s"));
	m->run_for(100 * kSec);
	double x0 = total_of(*m, "x");
	m->run_for(200 * kSec);
	double n = quanta(*m) * 2 / 3, x = share_of(*m, "x", 200, uint64_t(x0));
	INFO("x after y left: " << x);
	CHECK(std::abs(x - 0.5) <= band(0.5, n));
}

TEST_CASE("a cgroup's own tasks weigh as many default weights against its children", "[groups][nested]")
{
	// /a holds one task of its own and a child /a/x (weight 100) with one:
	// each gets half of /a, which gets half of the CPU against /b
	auto m = machine("cpus 1\ncgroup /a weight=100\ncgroup /b weight=100\ncgroup /a/x weight=100\n"
			 "task name=own cpu=100% cgroup=/a\ntask name=x cpu=100% cgroup=/a/x\n"
			 "task name=b cpu=100% cgroup=/b\n");
	m->run_for(300 * kSec);
	double n = quanta(*m), own = share_of(*m, "own", 300), x = share_of(*m, "x", 300);
	INFO("own " << own << " x " << x);
	CHECK(std::abs(own - 0.25) <= band(0.25, n));
	CHECK(std::abs(x - 0.25) <= band(0.25, n));
}

TEST_CASE("a nested cgroup's new cpu.weight moves its siblings' shares, not its parent's", "[groups][nested]")
{
	auto m = machine(tree_workload(1, 1, true));
	m->run_for(100 * kSec);
	REQUIRE(m->set_cgroup_weight("/a/x", 100));
	double x0 = total_of(*m, "x"), b0 = total_of(*m, "b");
	m->run_for(200 * kSec);
	double n = quanta(*m) * 2 / 3, x = share_of(*m, "x", 200, uint64_t(x0)), b = share_of(*m, "b", 200, uint64_t(b0));
	INFO("after: x " << x << " b " << b);
	CHECK(std::abs(x - 0.25) <= band(0.25, n));
	CHECK(std::abs(b - 0.5) <= band(0.5, n));
}

TEST_CASE("a cgroup named only as a task's path gets its parents as groups too", "[groups][nested]")
{
	// /c and /c/d are created with the default weight; /c/d's task races
	// with /c's funding: 1:1 against the root task
	auto m = machine("cpus 1\ntask name=d cpu=100% cgroup=/c/d\ntask name=r cpu=100%\n");
	m->run_for(200 * kSec);
	double n = quanta(*m), d = share_of(*m, "d", 200);
	CHECK(std::abs(d - 0.5) <= band(0.5, n));
	CHECK(m->cgroup_path(2) == "/c");
	CHECK(m->cgroup_path(3) == "/c/d");
}


TEST_CASE("a task a policy puts in a group of its own no longer counts in its cgroup", "[groups][nested][policy]")
{
	// y's only task goes to a policy group (funded 100) at 100 s: /a/y is
	// idle from then on, x has all of /a's funding: x, b, y's group 1:1:1
	auto m = machine(tree_workload(1, 1, true));
	m->run_for(100 * kSec);
	const uint32_t gid = LOTTO_POLICY_GROUP_BASE + 3;
	m->set_funding(gid, 100);
	REQUIRE(m->set_group(m->pids_named("y").at(0), gid));
	m->run_for(1 * kSec);
	double x0 = total_of(*m, "x");
	m->run_for(200 * kSec);
	double n = quanta(*m) * 2 / 3, x = share_of(*m, "x", 200, uint64_t(x0));
	INFO("x after y left for a policy group: " << x);
	CHECK(std::abs(x - 1.0 / 3) <= band(1.0 / 3, n));
	CHECK(m->groups()[3].funding == 100);
}
