// `lotto-host --backend sim`: the Backend interface around the machine.
#include "sim_test_util.h"

#include "sim/sim_backend.h"

#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;
using Catch::Matchers::StartsWith;

TEST_CASE("make_sim_backend runs the workload file given with --workload", "[backend]")
{
	auto path = std::filesystem::temp_directory_path() / "lotto-sim-backend.wl";
	std::ofstream(path) << "cpus 3\ntask name=hog cpu=100% count=4\n";
	BackendConfig cfg;
	cfg.workload = path.string();
	cfg.sim_speed = 0;
	auto b = make_sim_backend(cfg);
	CHECK(std::string(b->name()) == "sim");
	CHECK(b->tasks() == nullptr);
	REQUIRE(b->start());
	std::filesystem::remove(path);
	CHECK(b->nr_cpus() == 3);
	CHECK(b->slots_hw() == 4);
	b->poll();	// as fast as possible: at least one 10 ms step
	auto s = b->stats();
	CHECK(s.per_cpu.size() == 3);
	CHECK(s.total[LOTTO_STAT_DRAWS] > 0);
	uint64_t run = 0;
	for (uint32_t i = 0; i < b->slots_hw(); i++)
		run += b->tasks()[i].runtime_ns;
	CHECK(run >= 3 * 10 * kMs);
	CHECK_FALSE(b->exit_info());

	// the host's set_tickets path reaches the draw
	b->set_tickets(0, b->tasks()[0].pid, 5000);
	b->poll();
	CHECK(b->tasks()[0].tickets == 5000);
	b->stop();
	b->stop();
	CHECK(b->tasks() == nullptr);
}

TEST_CASE("the sim advances by sim_speed times the real time between polls", "[backend]")
{
	BackendConfig cfg;
	cfg.sim_speed = 10;
	SimBackend b(cfg, *parse_workload("cpus 1\ntask name=a cpu=100%\n", "t"));
	auto t0 = std::chrono::steady_clock::now();	// before start(): its clock starts inside
	REQUIRE(b.start());
	std::this_thread::sleep_for(std::chrono::milliseconds(60));
	b.poll();
	double real = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	double sim = double(b.machine()->now_ns()) / 1e9;
	CHECK(sim >= 10 * 0.060);
	CHECK(sim <= 10 * real + 0.001);
}

TEST_CASE("a bad workload makes start() fail with the file and line", "[backend]")
{
	auto path = std::filesystem::temp_directory_path() / "lotto-sim-backend-bad.wl";
	std::ofstream(path) << "cpus 2\ntask name=x pin=5\n";
	BackendConfig cfg;
	cfg.workload = path.string();
	auto b = make_sim_backend(cfg);
	auto r = b->start();
	std::filesystem::remove(path);
	REQUIRE_FALSE(r);
	CHECK(r.error().msg == path.string() + ":2: pin=5 names CPU 5 but the machine has 2 CPUs (0..1)");

	cfg.workload = "/nonexistent.wl";
	auto r2 = make_sim_backend(cfg)->start();
	REQUIRE_FALSE(r2);
	CHECK_THAT(r2.error().msg, StartsWith("/nonexistent.wl: cannot open"));
}

TEST_CASE("core settings out of range are refused, not clamped silently", "[backend]")
{
	BackendConfig cfg;
	cfg.default_tickets = 0;
	CHECK_FALSE(SimMachine::from_text("task\n", cfg));
	cfg = {};
	cfg.slice_us = 10;
	CHECK_FALSE(SimMachine::from_text("task\n", cfg));
	cfg = {};
	cfg.starve_ms = 1;
	CHECK_FALSE(SimMachine::from_text("task\n", cfg));
}

TEST_CASE("the backend's group API: list, put a task in a policy group, fund it, set its flags", "[backend][groups]")
{
	BackendConfig cfg;
	cfg.sim_speed = 0;
	SimBackend b(cfg, *parse_workload("cpus 1\ncgroup /a weight=200\n"
					   "task name=a cpu=100% cgroup=/a pin=0\n"
					   "task name=r cpu=100% count=2 pin=0\n",
					   "w.wl"));
	// not started: no tables, errors as values
	CHECK(b.groups().empty());
	CHECK(!b.set_group_funding(512, 10));
	REQUIRE(b.start());
	b.poll();
	auto g = b.groups();
	REQUIRE(g.size() == 2);
	CHECK(g[0].gid == 0);
	CHECK(g[0].kind == LOTTO_GROUP_ROOT);
	CHECK(g[1].kind == LOTTO_GROUP_CGROUP);
	CHECK(g[1].weight == 200);
	CHECK(g[1].funding == 200);
	CHECK(b.cgroup_path(g[1].cgroup_id) == "/a");
	CHECK(g[1].runtime_ns > 0);

	// a task into policy group 600, funded and flagged before its first draw there
	uint32_t slot = 1, pid = b.tasks()[slot].pid;
	REQUIRE(b.set_task_group(slot, pid, 600));
	CHECK(b.task_group(slot, pid) == 600);
	CHECK(b.task_group(slot, pid + 1) == 0);	// another thread's: not it
	REQUIRE(b.set_group_funding(600, 300));
	REQUIRE(b.set_group_flags(600, LOTTO_GROUP_F_TRANSFERS));
	g = b.groups();
	REQUIRE(g.size() == 3);	// listed once user space funds it
	CHECK(g[2].gid == 600);
	CHECK(g[2].kind == LOTTO_GROUP_POLICY);
	CHECK(g[2].funding == 300);
	CHECK(g[2].funding_set == 300);
	CHECK(g[2].flags == LOTTO_GROUP_F_TRANSFERS);
	b.poll();
	CHECK(b.tasks()[slot].group == 600);
	g = b.groups();
	CHECK(g[2].wins > 0);

	// out of range: an error with its kind, nothing written
	auto e = b.set_task_group(slot, pid, 5);	// a cgroup's gid
	REQUIRE(!e);
	CHECK(e.error().code == Errc::invalid);
	CHECK_THAT(e.error().msg, StartsWith("group 5 is not a policy group (use 512..1023"));
	CHECK(b.set_task_group(slot, pid, LOTTO_MAX_GROUPS).error().code == Errc::invalid);
	CHECK(b.set_task_group(LOTTO_MAX_TASKS, pid, 600).error().code == Errc::invalid);
	CHECK(b.set_group_funding(600, LOTTO_FUNDING_MAX + 1).error().code == Errc::invalid);
	CHECK(b.set_group_funding(1, 10).error().code == Errc::invalid);
	CHECK(b.set_group_flags(600, 4).error().code == Errc::invalid);
	CHECK(b.groups()[2].funding == 300);

	// back: the task to its cgroup's group (the root here), funding to the default
	REQUIRE(b.set_task_group(slot, pid, 0));
	CHECK(b.task_group(slot, pid) == 0);
	REQUIRE(b.set_group_funding(600, 0));
	REQUIRE(b.set_group_flags(600, 0));
	b.poll();
	CHECK(b.tasks()[slot].group == 0);
}

TEST_CASE("the backend lists a nested cgroup's funding in force: its share of its top-level cgroup's", "[backend][groups]")
{
	BackendConfig cfg;
	cfg.sim_speed = 0;
	SimBackend b(cfg, *parse_workload("cpus 1\ncgroup /n weight=100\ncgroup /n/x weight=300\ncgroup /n/y weight=100\n"
					   "task name=x cpu=100% cgroup=/n/x\ntask name=y cpu=100% cgroup=/n/y\n",
					   "w.wl"));
	REQUIRE(b.start());
	b.poll();
	auto g = b.groups();
	REQUIRE(g.size() == 4);	// the root, /n, /n/x, /n/y
	CHECK(b.cgroup_path(g[2].cgroup_id) == "/n/x");
	CHECK(g[2].weight == 300);
	CHECK(g[2].funding == 75);
	CHECK(g[3].funding == 25);
	CHECK(g[1].funding == 100);	// /n: no draw of its own, its weight
}
