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
