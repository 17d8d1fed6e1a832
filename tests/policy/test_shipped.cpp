// The policies shipped in policies/: their ticket output on a synthetic task
// table, and the CPU shares they produce on the simulated machine (the same
// lottery arithmetic as the BPF core).
#include "fixture.h"

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>

#ifdef LOTTO_HAVE_SIM
#include "sim/sim_machine.h"
#endif

#include <cmath>
#include <cstring>
#include <map>

using namespace lotto;
using namespace lotto::test;

static std::string shipped(const char *name)
{
	return std::string(LOTTO_SOURCE_DIR) + "/policies/" + name;
}

static const uint32_t kWeights[40] = {
	88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
	9548,  7620,  6100,  4904,  3906,  3121,  2501,  1991,  1586,  1277,
	1024,  820,   655,   526,   423,   335,   272,   215,   172,   137,
	110,   87,    70,    56,    45,    36,    29,    23,    18,    15,
};

TEST_CASE("nice_weighted gives every task the CFS weight of its nice", "[shipped]")
{
	Harness h;
	for (int nice = -20; nice <= 19; nice++)
		h.backend.add(uint32_t(nice + 20), uint32_t(1000 + nice + 20), nice);
	auto r = h.engine->load(shipped("nice_weighted.lua"));
	REQUIRE(r.ok());
	CHECK(*r == "nice_weighted");
	auto rep = h.engine->tick_now("nice_weighted");
	REQUIRE(rep.ok());
	CHECK(rep->assigned == 40);
	for (int nice = -20; nice <= 19; nice++) {
		INFO("nice " << nice);
		CHECK(h.backend.ctl_tickets(uint32_t(nice + 20)) == kWeights[nice + 20]);
	}
	CHECK(h.backend.ctl_tickets(20) == 1024);
}

TEST_CASE("interactive boosts sleepers and trims hogs by the documented formula", "[shipped]")
{
	Harness h;
	h.backend.add(0, 100, 0, 1000, "sleeper");
	h.backend.add(1, 101, 0, 1000, "hog");
	h.backend.add(2, 102, 5, 1000, "half");
	REQUIRE(h.engine->load(shipped("interactive.lua")).ok());
	// first tick: nothing measured yet, weight(nice) each
	CHECK(h.backend.ctl_tickets(0) == 1024);
	CHECK(h.backend.ctl_tickets(1) == 1024);
	CHECK(h.backend.ctl_tickets(2) == 335);

	// run for a while: the hog on a CPU all the time, the sleeper 5%, half 50%
	auto t0 = std::chrono::steady_clock::now();
	usleep(100000);
	double dt_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
	h.backend.at(0).runtime_ns += uint64_t(dt_ns * 0.05);
	h.backend.at(1).runtime_ns += uint64_t(dt_ns * 1.2);	// more than the interval: clamped to 1
	h.backend.at(2).runtime_ns += uint64_t(dt_ns * 0.5);
	REQUIRE(h.engine->tick_now("interactive").ok());
	// tickets = weight * 4^(1 - 2s); s = u on a task's first measurement,
	// u = runtime added / the tick's dt (the worker's, a bit longer than
	// measured here, much longer in a sanitizer build: read it back)
	double wall_ns = std::stod(h.eval("interactive", "ctx.dt")) * 1e9;
	auto u = [&](double share) { return std::min(1.0, share * dt_ns / wall_ns); };
	auto expect = [](double w, double s) { return w * std::pow(4.0, 1 - 2 * s); };
	CHECK(double(h.backend.ctl_tickets(0)) == Catch::Approx(expect(1024, u(0.05))).epsilon(0.05));
	CHECK(double(h.backend.ctl_tickets(1)) == Catch::Approx(expect(1024, u(1.2))).epsilon(0.05));
	CHECK(double(h.backend.ctl_tickets(2)) == Catch::Approx(expect(335, u(0.5))).epsilon(0.05));
	CHECK(h.backend.ctl_tickets(0) > 3 * 1024);
	CHECK(h.backend.ctl_tickets(1) <= 260);
	// smoothing: the hog goes to sleep; one quiet interval halves its s
	REQUIRE(h.engine->tick_now("interactive").ok());
	CHECK(double(h.backend.ctl_tickets(1)) == Catch::Approx(expect(1024, 0.5)).margin(30));
}

TEST_CASE("fair_share puts each user in a group of its own, funded equally, tickets by nice inside", "[shipped]")
{
	Harness h;
	h.backend.add(0, 100, 0, 1000, "alone");
	for (uint32_t i = 0; i < 8; i++)
		h.backend.add(1 + i, 200 + i, 0, 2000, "many");
	h.backend.add(9, 300, 0, 3000, "c0");
	h.backend.add(10, 301, 5, 3000, "c5");
	REQUIRE(h.engine->load(shipped("fair_share.lua")).ok());
	uint32_t u1 = *h.groups.gid_of("uid:1000"), u2 = *h.groups.gid_of("uid:2000"), u3 = *h.groups.gid_of("uid:3000");
	CHECK(h.backend.ctl_group(0) == u1);
	for (uint32_t i = 0; i < 8; i++) {
		CHECK(h.backend.ctl_group(1 + i) == u2);
		CHECK(h.backend.ctl_tickets(1 + i) == 1024);	// nice 0: its CFS weight
	}
	CHECK(h.backend.ctl_group(9) == u3);
	CHECK(h.backend.ctl_group(10) == u3);
	CHECK(h.backend.ctl_tickets(9) == 1024);
	CHECK(h.backend.ctl_tickets(10) == 335);
	for (uint32_t g : {u1, u2, u3}) {
		CHECK(h.backend.group_ctl()[g].funding == 100);
		CHECK(h.groups.source(g) == "policy fair_share");
	}
	// a user who leaves takes its group along at the next tick
	h.backend.remove(0);
	REQUIRE(h.engine->tick_now("fair_share").ok());
	CHECK_FALSE(h.groups.gid_of("uid:1000"));
}

TEST_CASE("monte_carlo funds tasks named after their error by the square of it", "[shipped]")
{
	Harness h;
	h.backend.add(0, 100, 0, 1000, "mc 1.000e-02");
	h.backend.add(1, 101, 0, 1000, "mc 2.000e-02");
	h.backend.add(2, 102, 0, 1000, "mc 4.000e-02");
	h.backend.add(3, 103, 0, 1000, "make");
	h.backend.add(4, 104, 0, 1000, "mc nan");
	h.backend.add(5, 105, 0, 1000, "mc -");
	REQUIRE(h.engine->load(shipped("monte_carlo.lua")).ok());
	// err^2 1:4:16 of one fund of 10^6
	CHECK(h.backend.ctl_tickets(0) == std::lround(1e6 * 1 / 21));
	CHECK(h.backend.ctl_tickets(1) == std::lround(1e6 * 4 / 21));
	CHECK(h.backend.ctl_tickets(2) == std::lround(1e6 * 16 / 21));
	CHECK(h.backend.ctl_tickets(3) == 0);	// not a Monte-Carlo task: untouched
	CHECK(h.backend.ctl_tickets(4) == 0);	// no error to read
	CHECK(h.backend.ctl_tickets(5) == 1000000);	// no estimate yet: the most, outside the fund

	// the first task's error falls a thousandfold: it keeps at least 1 ticket
	std::strcpy(h.backend.at(0).comm, "mc 1.000e-05");
	REQUIRE(h.engine->tick_now("monte_carlo").ok());
	CHECK(h.backend.ctl_tickets(0) == 1);
	CHECK(h.backend.ctl_tickets(2) == std::lround(1e6 * 16e-4 / (1e-10 + 4e-4 + 16e-4)));
}

#ifdef LOTTO_HAVE_SIM

namespace {

// The simulated machine as the engine's backend: its tables are shared
// memory made before the workers fork, like the kernel's maps.
class SimBackend : public Backend {
public:
	explicit SimBackend(sim::SimMachine &m) : m_(m) {}
	const char *name() const override { return "sim"; }
	Result<void> start() override { return {}; }
	void stop() override {}
	const lotto_task_stat *tasks() const override { return m_.tasks(); }
	lotto_ctl *ctl() override { return m_.ctl(); }
	uint32_t slots_hw() const override { return m_.slots_hw(); }
	GlobalStats stats() const override { return m_.stats(); }
	uint32_t nr_cpus() const override { return m_.nr_cpus(); }
	std::optional<ExitInfo> exit_info() const override { return std::nullopt; }
	const lotto_group_stat *group_stats() const override { return m_.groups(); }
	lotto_group_ctl *group_ctl() override { return m_.group_ctl(); }
	lotto_task_group *task_groups() override { return m_.task_groups(); }

private:
	sim::SimMachine &m_;
};

struct Got {
	uint64_t runtime_ns = 0;	// after the warm-up
	uint64_t wait_ns = 0, waits = 0;	// whole run
};

// Run `policy` on `workload` for `seconds` of simulated time, a tick every
// interval; returns the CPU time each thread got after the warm-up (the
// first two ticks, while tickets were still the defaults).
std::map<uint32_t, Got> run_sim(const std::string &workload, const std::string &policy, double seconds,
				uint64_t &draws)
{
	LogCapture quiet;
	BackendConfig cfg;
	auto m = sim::SimMachine::from_text(workload, cfg);
	REQUIRE(m.ok());
	SimBackend b(**m);
	TicketBook book(b, LOTTO_TICKETS_DEFAULT);
	GroupBook groups(b);
	EventLoop loop;
	policy::EngineOptions o;
	o.timers = false;
	policy::Engine e(loop, b, book, o);
	e.set_group_book(&groups);
	auto name = e.load(policy);
	REQUIRE(name.ok());
	uint64_t interval_ns = uint64_t(e.list()[0].interval_ms) * 1000000;
	std::map<uint32_t, uint64_t> start;
	uint64_t ticks = uint64_t(seconds * 1e9 / double(interval_ns));
	for (uint64_t k = 0; k < ticks; k++) {
		REQUIRE(e.tick_now(*name).ok());
		if (k == 2)
			for (auto pid : (*m)->pids())
				start[pid] = (*m)->thread(pid)->runtime_ns;
		(*m)->run_for(interval_ns);
	}
	std::map<uint32_t, Got> got;
	for (auto pid : (*m)->pids()) {
		auto t = (*m)->thread(pid);
		got[pid] = Got{t->runtime_ns - start[pid], t->wait_ns, t->waits};
	}
	draws = uint64_t(double(ticks - 3) * double(interval_ns) / double((*m)->slice_ns()));
	return got;
}

} // namespace

TEST_CASE("nice_weighted on the sim: nice 0 and nice 5 share a CPU like their CFS weights", "[shipped][sim]")
{
	uint64_t draws = 0;
	auto got = run_sim("cpus 1\n"
			   "task name=n0 nice=0 cpu=100%\n"
			   "task name=n5 nice=5 cpu=100%\n",
			   shipped("nice_weighted.lua"), 200, draws);
	REQUIRE(got.size() == 2);
	auto it = got.begin();
	double a = double(it->second.runtime_ns), b = double(std::next(it)->second.runtime_ns);
	double share = a / (a + b);
	double p = 1024.0 / (1024 + 335);
	// each slice is one independent draw: the share's standard deviation is
	// sqrt(p(1-p)/draws); allow 4 of them
	double tol = 4 * std::sqrt(p * (1 - p) / double(draws));
	INFO("share " << share << " expected " << p << " +- " << tol << " over " << draws << " draws");
	CHECK(std::abs(share - p) < tol);
}

TEST_CASE("fair_share on the sim: users with 1 and 3 (or 8) hogs get 1:1, each user's hogs alike", "[shipped][sim]")
{
	for (uint32_t many : {3u, 8u}) {
		uint64_t draws = 0;
		auto got = run_sim("cpus 1\n"
				   "task name=alone uid=1000 cpu=100%\n"
				   "task name=many uid=2000 cpu=100% count=" + std::to_string(many) + "\n",
				   shipped("fair_share.lua"), 200, draws);
		REQUIRE(got.size() == many + 1);
		double alone = double(got.begin()->second.runtime_ns), total = 0;	// the first pid is "alone"
		for (auto &[pid, g] : got)
			total += double(g.runtime_ns);
		double share = alone / total;
		double tol = 4 * std::sqrt(0.25 / double(draws));
		INFO(many << " hogs: user 1000 share " << share << " +- " << tol << " over " << draws << " draws");
		CHECK(std::abs(share - 0.5) < tol);
		// inside user 2000: 1/many of its half each
		double p = 0.5 / many;
		for (auto it = std::next(got.begin()); it != got.end(); ++it) {
			double sh = double(it->second.runtime_ns) / total;
			INFO("a hog of user 2000: " << sh << " expected " << p);
			CHECK(std::abs(sh - p) < 4 * std::sqrt(p * (1 - p) / double(draws)));
		}
	}
}

#endif
