// CPU shares follow tickets: one CPU and several, against the binomial band
// of the number of draws made. On several CPUs the promise is the
// entitlement (sim_test_util.h): tickets / sum, capped at one CPU; without
// catch-up the shares are those of a lottery per decision among the waiting
// tasks, which the tests here also pin down, to show the difference.
#include "sim_test_util.h"

#include <array>
#include <catch2/generators/catch_generators.hpp>
#include <map>
#include <random>
#include <vector>

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

namespace {

std::string hogs_on_one_cpu(const std::vector<uint32_t> &tickets)
{
	std::string w = "cpus 1\n";
	for (size_t i = 0; i < tickets.size(); i++)
		w += "task name=t" + std::to_string(i) + " cpu=100% tickets=" + std::to_string(tickets[i]) + "\n";
	return w;
}

} // namespace

TEST_CASE("CPU shares on one CPU follow the tickets within the binomial band", "[shares]")
{
	auto tickets = GENERATE(std::vector<uint32_t>{1, 1}, std::vector<uint32_t>{3, 1}, std::vector<uint32_t>{10, 1},
				std::vector<uint32_t>{1, 2, 7}, std::vector<uint32_t>{20, 1});
	BackendConfig cfg;
	cfg.slice_us = 1000;
	auto m = machine(hogs_on_one_cpu(tickets), cfg);
	m->run_for(120 * kSec);

	double draws = double(m->stats().total[LOTTO_STAT_DRAWS]);
	REQUIRE(draws > 100000);
	double sum_t = 0, sum_run = 0;
	for (size_t i = 0; i < tickets.size(); i++) {
		sum_t += tickets[i];
		sum_run += double(runtime(*m, kFirstPid + uint32_t(i)));
	}
	CHECK(sum_run == double(120 * kSec));
	for (size_t i = 0; i < tickets.size(); i++) {
		double p = tickets[i] / sum_t;
		double share = double(runtime(*m, kFirstPid + uint32_t(i))) / sum_run;
		INFO("tickets " << tickets[i] << "/" << sum_t << ": share " << share << ", ideal " << p << " +- "
				<< band(p, draws));
		CHECK(std::abs(share - p) <= band(p, draws));
	}
}

TEST_CASE("the task whose slice ended takes part in the draw and can win again", "[shares]")
{
	// Without prev in the draw two hogs merely alternate (1:1 whatever the
	// tickets; measured 1.08:1 for 3:1 on the kernel before the fix).
	auto m = machine(hogs_on_one_cpu({3, 1}));
	m->run_for(600 * kSec);
	auto s = m->stats().total;
	CHECK(s[LOTTO_STAT_PREV_WINS] > s[LOTTO_STAT_DRAWS] / 2);
	double ratio = double(runtime(*m, kFirstPid)) / double(runtime(*m, kFirstPid + 1));
	CHECK(ratio > 2.7);
	CHECK(ratio < 3.3);
}

TEST_CASE("equal tickets on four CPUs give eight hogs half a CPU each", "[shares][smp]")
{
	BackendConfig cfg;
	cfg.slice_us = 1000;
	auto m = machine("cpus 4\ntask name=hog cpu=100% count=8\n", cfg);
	m->run_for(60 * kSec);
	double draws = double(m->stats().total[LOTTO_STAT_DRAWS]);
	for (uint32_t pid : m->pids()) {
		double share = double(runtime(*m, pid)) / double(4 * 60 * kSec);
		INFO("pid " << pid << " share " << share);
		CHECK(std::abs(share - 0.125) <= band(0.125, draws));
		CHECK(m->thread(pid)->cpus_used == 4);
	}
}

// Two CPUs, three hogs, each allowed on CPU 0, CPU 1 or both. At every slice
// boundary CPU 0 draws between its task and the waiting one (if that one may
// run there), then CPU 1 does the same with whoever waits now. The exact
// expected shares are this Markov chain's stationary distribution; the sim's
// exponential race must reproduce them.
struct Hog {
	double tickets;
	bool on0, on1;
};

static std::array<double, 3> chain_shares(const std::array<Hog, 3> &h)
{
	using State = std::array<int, 3>;	// task on CPU 0, on CPU 1, waiting
	std::vector<State> states;
	std::array<int, 3> p{0, 1, 2};
	do
		states.push_back(p);
	while (std::next_permutation(p.begin(), p.end()));
	auto index = [&](const State &s) { return size_t(std::find(states.begin(), states.end(), s) - states.begin()); };
	// P(the running task keeps the CPU against waiting task w)
	auto keeps = [&](int run, int w, bool w_allowed) {
		return w_allowed ? h[run].tickets / (h[run].tickets + h[w].tickets) : 1.0;
	};
	std::vector<double> pi(states.size(), 1.0 / double(states.size()));
	for (int iter = 0; iter < 5000; iter++) {
		std::vector<double> next(states.size(), 0);
		for (size_t i = 0; i < states.size(); i++) {
			auto [a, b, w] = states[i];
			double pa = keeps(a, w, h[w].on0);
			for (int keep0 = 0; keep0 < 2; keep0++) {
				double q = keep0 ? pa : 1 - pa;
				int on0 = keep0 ? a : w, w1 = keep0 ? w : a;
				double pb = keeps(b, w1, h[w1].on1);
				next[index({on0, b, w1})] += pi[i] * q * pb;
				next[index({on0, w1, b})] += pi[i] * q * (1 - pb);
			}
		}
		pi = next;
	}
	std::array<double, 3> share{};
	for (size_t i = 0; i < states.size(); i++) {
		share[size_t(states[i][0])] += pi[i] / 2;
		share[size_t(states[i][1])] += pi[i] / 2;
	}
	return share;
}

static void check_against_chain(const std::array<Hog, 3> &h)
{
	auto expect = chain_shares(h);
	std::string w = "cpus 2\n";
	for (size_t i = 0; i < 3; i++) {
		w += "task name=t" + std::to_string(i) + " cpu=100% tickets=" + std::to_string(int(h[i].tickets));
		if (!(h[i].on0 && h[i].on1))
			w += h[i].on0 ? " pin=0" : " pin=1";
		w += "\n";
	}
	BackendConfig cfg = fixed_quanta();
	cfg.slice_us = 1000;
	cfg.catchup = false;
	auto m = machine(w, cfg);
	m->run_for(300 * kSec);
	double draws = double(m->stats().total[LOTTO_STAT_DRAWS]);
	for (uint32_t i = 0; i < 3; i++) {
		double share = double(runtime(*m, kFirstPid + i)) / double(2 * 300 * kSec);
		INFO(w << "task " << i << " share " << share << " expected " << expect[i]);
		// draws along the chain are not independent: allow twice the band
		CHECK(std::abs(share - expect[i]) <= 2 * band(expect[i], draws));
	}
}

TEST_CASE("without catch-up, unequal tickets on two CPUs get the lottery per decision, not tickets / sum",
	  "[shares][smp]")
{
	std::array<Hog, 3> h{{{400, true, true}, {200, true, true}, {100, true, true}}};
	check_against_chain(h);
	// and the naive proportional split is far off: the check can tell
	auto e = chain_shares(h);
	CHECK(std::abs(e[0] - 400.0 / 700) > 0.05);
}

TEST_CASE("without catch-up, an unpinned task competing with pinned ones on both CPUs gets its per-decision share",
	  "[shares][smp][pin]")
{
	// CPU 0 draws between a pinned task and the unpinned one, CPU 1 likewise:
	// the two CPUs' draws must not disturb each other.
	check_against_chain({{{100, true, false}, {700, false, true}, {300, true, true}}});
	check_against_chain({{{900, true, false}, {100, false, true}, {100, true, true}}});
	check_against_chain({{{100, true, true}, {500, true, false}, {200, true, true}}});
}

// The plain definition of the lottery, in floating point with another PRNG:
// hogs on CPUs with synchronised slice ends; at each end CPU 0, then CPU 1,
// ... picks among its own task and the waiting tasks it may run, each with
// probability tickets / sum. Returns each task's share of the machine.
static std::vector<double> reference_lottery(const std::vector<Hog> &h, uint32_t cpus, uint64_t slices)
{
	std::mt19937_64 g(12345);
	std::vector<int> on(cpus, -1);
	std::vector<int> waiting;
	std::vector<double> ran(h.size(), 0);
	auto allowed = [&](int t, uint32_t c) { return c == 0 ? h[size_t(t)].on0 : h[size_t(t)].on1; };
	// start like the sim: each task in turn to the first idle CPU it may use
	for (size_t t = 0; t < h.size(); t++) {
		bool placed = false;
		for (uint32_t c = 0; c < cpus && !placed; c++)
			if (on[c] < 0 && allowed(int(t), c))
				on[c] = int(t), placed = true;
		if (!placed)
			waiting.push_back(int(t));
	}
	for (uint64_t s = 0; s < slices; s++) {
		for (uint32_t c = 0; c < cpus; c++)
			ran[size_t(on[c])] += 1;
		for (uint32_t c = 0; c < cpus; c++) {
			std::vector<int> cand{on[c]};
			for (int w : waiting)
				if (allowed(w, c))
					cand.push_back(w);
			double sum = 0;
			for (int t : cand)
				sum += h[size_t(t)].tickets;
			double x = std::uniform_real_distribution<double>(0, sum)(g);
			int win = cand.back();
			for (int t : cand) {
				if (x < h[size_t(t)].tickets) {
					win = t;
					break;
				}
				x -= h[size_t(t)].tickets;
			}
			if (win != on[c]) {
				waiting.erase(std::find(waiting.begin(), waiting.end(), win));
				waiting.push_back(on[c]);
				on[c] = win;
			}
		}
	}
	for (double &r : ran)
		r /= double(slices * cpus);
	return ran;
}

TEST_CASE("without catch-up, pinned and unpinned tasks waiting together on two CPUs get the plain lottery's shares",
	  "[shares][smp][pin]")
{
	// several tasks of different CPU sets wait at once: a draw on a CPU
	// compares tasks from two groups, each with its own V
	std::vector<Hog> h{{100, true, false}, {300, true, false}, {200, true, true},
			   {500, true, true}, {100, false, true}, {400, false, true}};
	auto expect = reference_lottery(h, 2, 300000);
	std::string w = "cpus 2\n";
	for (size_t i = 0; i < h.size(); i++) {
		w += "task name=t" + std::to_string(i) + " cpu=100% tickets=" + std::to_string(int(h[i].tickets));
		if (!(h[i].on0 && h[i].on1))
			w += h[i].on0 ? " pin=0" : " pin=1";
		w += "\n";
	}
	BackendConfig cfg = fixed_quanta();
	cfg.slice_us = 1000;
	cfg.catchup = false;
	auto m = machine(w, cfg);
	m->run_for(300 * kSec);
	double draws = double(m->stats().total[LOTTO_STAT_DRAWS]);
	for (uint32_t i = 0; i < h.size(); i++) {
		double share = double(runtime(*m, kFirstPid + i)) / double(2 * 300 * kSec);
		INFO("task " << i << " share " << share << ", plain lottery " << expect[i]);
		// two independent runs, each within its band: their difference
		// within sqrt(2) bands; draws are chained, so twice that
		CHECK(std::abs(share - expect[i]) <= 2 * 1.5 * band(expect[i], draws));
	}
}

// ---- the entitlement, at default settings

namespace {

std::string hogs(uint32_t cpus, const std::vector<double> &tickets)
{
	std::string w = "cpus " + std::to_string(cpus) + "\n";
	for (size_t i = 0; i < tickets.size(); i++)
		w += "task name=t" + std::to_string(i) + " cpu=100% tickets=" + std::to_string(int(tickets[i])) + "\n";
	return w;
}

// every task's share of the machine within 5 binomial sd of its entitlement,
// n = quanta handed out; and, for teeth, `other` (a wrong ideal) outside
void check_entitlement(uint32_t cpus, const std::vector<double> &tickets, uint64_t secs,
		       const std::vector<double> &other = {})
{
	auto m = machine(hogs(cpus, tickets));
	m->run_for(secs * kSec);
	auto e = entitlement(tickets, cpus);
	double n = quanta(*m);
	bool other_fits = true;
	for (uint32_t i = 0; i < tickets.size(); i++) {
		double share = double(runtime(*m, kFirstPid + i)) / double(cpus * secs * kSec);
		double p = e[i] / cpus;
		INFO(cpus << " CPUs, tickets " << tickets[i] << ": share " << share << ", entitlement " << p << " +- "
			  << band(p, n) << " (" << n << " quanta)");
		CHECK(std::abs(share - p) <= band(p, n));
		if (!other.empty() && std::abs(other[i] - p) > band(p, n))
			other_fits = false;
	}
	if (!other.empty())
		CHECK(!other_fits);
}

} // namespace

TEST_CASE("four unpinned hogs 1:2:3:4 on two CPUs get tickets / sum of the machine", "[shares][smp][catchup]")
{
	// the lottery per decision among the waiting tasks gives .1286 .2286
	// .3000 .3429 (the tests above); catch-up restores .1 .2 .3 .4
	check_entitlement(2, {100, 200, 300, 400}, 300, {.1286, .2286, .3, .3429});
}

TEST_CASE("eight unpinned hogs 100..400 twice on four CPUs get tickets / sum (the multicore issue's table)",
	  "[shares][smp][catchup]")
{
	// measured on the kernel before catch-up: .073 .117 .144 .166
	check_entitlement(4, {100, 200, 300, 400, 100, 200, 300, 400}, 300,
			  {.073, .117, .144, .166, .073, .117, .144, .166});
}

TEST_CASE("sixteen unpinned hogs on eight CPUs get tickets / sum", "[shares][smp][catchup]")
{
	std::vector<double> t;
	for (int k = 0; k < 4; k++)
		for (double x : {100, 200, 300, 400})
			t.push_back(x);
	check_entitlement(8, t, 200);
}

TEST_CASE("a task entitled to more than one CPU gets one, and the surplus goes to the others by tickets",
	  "[shares][smp][catchup]")
{
	// 1000:1:1 on two CPUs: one CPU for the big one, half a CPU each for the
	// small ones (tickets / sum would promise them 0.1% each)
	check_entitlement(2, {1000, 1, 1}, 300, {1000.0 / 1002, 1.0 / 1002, 1.0 / 1002});
	// 5:1:1:1: the big one is capped, three share the other CPU equally
	check_entitlement(2, {500, 100, 100, 100}, 300);
}

TEST_CASE("shares follow the entitlement while tasks arrive, leave and change tickets", "[shares][smp][catchup]")
{
	// two CPUs: a, b, c from 0 s; d from 100 s; b's tickets 200 -> 800 at
	// 200 s; a exits at 300 s; until 400 s. The expected CPU time of each is
	// the sum over the four phases of its entitlement times the phase.
	auto m = machine("cpus 2\ntask name=a cpu=100% tickets=100 stop=300s\ntask name=b cpu=100% tickets=200\n"
			 "task name=c cpu=100% tickets=300\ntask name=d cpu=100% tickets=400 start=100s\n");
	std::vector<std::vector<double>> phases = {
		{100, 200, 300, 0}, {100, 200, 300, 400}, {100, 800, 300, 400}, {0, 800, 300, 400}};
	std::vector<double> expect(4, 0);
	for (size_t ph = 0; ph < phases.size(); ph++) {
		if (ph == 2)
			REQUIRE(m->set_tickets(kFirstPid + 1, 800));
		m->run_for(100 * kSec);
		std::vector<double> live;
		for (double t : phases[ph])
			if (t > 0)
				live.push_back(t);
		auto e = entitlement(live, 2);
		for (size_t i = 0, k = 0; i < 4; i++)
			if (phases[ph][i] > 0)
				expect[i] += e[k++] * 100;
	}
	double n = quanta(*m);
	for (uint32_t i = 0; i < 4; i++) {
		double got = double(runtime(*m, kFirstPid + i)) / kSec;
		double p = expect[i] / 800;	// share of the 800 CPU-seconds
		INFO("task " << char('a' + i) << ": " << got << " CPU-s, expected " << expect[i]);
		CHECK(std::abs(got / 800 - p) <= band(p, n));
	}
}

TEST_CASE("tasks pinned to one CPU keep their ticket ratio whatever unpinned tasks do there", "[shares][smp][pin]")
{
	// Mixes of pinned and unpinned tasks are not held to tickets / sum
	// (docs/design.md: a credit is not run where pinned tasks wait), but the
	// draws among the tasks of one CPU stay exact: 100:300 on CPU 0 and
	// 100:400 on CPU 1, with two unpinned hogs beside them.
	auto m = machine("cpus 2\ntask name=p0a cpu=100% tickets=100 pin=0\ntask name=p0b cpu=100% tickets=300 pin=0\n"
			 "task name=u cpu=100% tickets=200\ntask name=u cpu=100% tickets=500\n"
			 "task name=p1a cpu=100% tickets=100 pin=1\ntask name=p1b cpu=100% tickets=400 pin=1\n");
	m->run_for(300 * kSec);
	auto ratio_ok = [&](uint32_t a, uint32_t b, double p) {
		double ra = double(runtime(*m, a)), rb = double(runtime(*m, b));
		double n = double(m->thread(a)->wins + m->thread(b)->wins);
		INFO("pids " << a << ", " << b << ": share " << ra / (ra + rb) << ", tickets say " << p);
		CHECK(std::abs(ra / (ra + rb) - p) <= band(p, n));
	};
	ratio_ok(kFirstPid, kFirstPid + 1, 0.25);
	ratio_ok(kFirstPid + 4, kFirstPid + 5, 0.2);
}

TEST_CASE("idle CPUs are used: waking tasks go straight to them without a draw", "[smp]")
{
	auto m = machine("cpus 4\ntask name=hog cpu=100% count=2\ntask name=io run=1ms sleep=5ms\n");
	m->run_for(10 * kSec);
	for (uint32_t pid : m->pids_named("hog")) {
		CHECK(runtime(*m, pid) == 10 * kSec);
		CHECK(m->thread(pid)->wait_ns == 0);
	}
	auto io = *m->thread(m->pids_named("io").at(0));
	CHECK(io.wait_ns == 0);
	CHECK(io.runtime_ns > 10 * kSec / 6 - 2 * kMs);
	auto s = m->stats().total;
	CHECK(s[LOTTO_STAT_DIRECT] >= io.wins - 1);
	CHECK(s[LOTTO_STAT_ENQUEUES] == 0);
}

TEST_CASE("a fixed seed gives the same run, another seed a different one", "[determinism]")
{
	const char *w = "cpus 2\ntask name=a cpu=100% count=3\ntask name=b run=3ms sleep=7ms threads=4 pin=1\n"
			"task name=c cpu=50% tickets=500 start=1s stop=20s\n";
	auto snapshot = [&](uint64_t seed) {
		BackendConfig cfg;
		cfg.sim_seed = seed;
		auto m = machine(w, cfg);
		m->run_for(30 * kSec);
		std::vector<lotto_task_stat> v(m->tasks(), m->tasks() + m->slots_hw());
		auto s = m->stats().total;
		return std::make_pair(v, std::vector<uint64_t>(s.begin(), s.end()));
	};
	auto a = snapshot(7), b = snapshot(7), c = snapshot(8);
	REQUIRE(a.first.size() == b.first.size());
	CHECK(memcmp(a.first.data(), b.first.data(), a.first.size() * sizeof(lotto_task_stat)) == 0);
	CHECK(a.second == b.second);
	CHECK(memcmp(a.first.data(), c.first.data(), a.first.size() * sizeof(lotto_task_stat)) != 0);
}

// Issue 7: in the VM lotto's worst error per run was twice an ideal
// lottery's for the draws made, with one 100-ticket hog at +30..35% in a
// few runs, while the same rules here sit on the band. Under TCG on a
// loaded host a vCPU is held up now and then and the task on it is charged
// the time (the guest's clock runs on); stall models that. A lottery
// charges an overlong quantum only in expectation (compensation: its next
// draw at a lower rate), so the spread of quantum lengths adds to the spread
// of shares: each run's shares scatter by about sqrt(E[L^2]) / E[L] times
// the draws' own spread, the mean share of each task stays its entitlement.
TEST_CASE("quanta held up by the host widen the spread of shares, not their mean", "[shares][smp]")
{
	const std::vector<double> tickets{100, 200, 300, 400, 100, 200, 300, 400};
	std::string hogs;
	for (size_t i = 0; i < tickets.size(); i++)
		hogs += "task name=t" + std::to_string(i) + " cpu=100% tickets=" + std::to_string(int(tickets[i])) + "\n";
	auto e = entitlement(tickets, 4);
	constexpr int kSeeds = 40;
	// per run and task: z of its share against n draws; and its relative error
	auto runs = [&](const std::string &w, std::vector<double> &z, std::vector<std::vector<double>> &rel) {
		rel.assign(tickets.size(), {});
		for (int seed = 1; seed <= kSeeds; seed++) {
			BackendConfig cfg;
			cfg.sim_seed = uint64_t(seed);
			auto m = machine(w, cfg);
			m->run_for(1 * kSec);
			std::vector<uint64_t> r0, w0;
			for (uint32_t pid : m->pids()) {
				r0.push_back(runtime(*m, pid));
				w0.push_back(m->thread(pid)->wins);
			}
			m->run_for(10 * kSec);
			double sum = 0, n = 0;
			std::vector<double> cpu;
			for (size_t i = 0; i < tickets.size(); i++) {
				cpu.push_back(double(runtime(*m, kFirstPid + uint32_t(i)) - r0[i]));
				sum += cpu.back();
				n += double(m->thread(kFirstPid + uint32_t(i))->wins - w0[i]);
			}
			for (size_t i = 0; i < tickets.size(); i++) {
				double p = e[i] / 4, s = cpu[i] / sum;
				z.push_back((s - p) / std::sqrt(p * (1 - p) / n));
				rel[i].push_back(s / p - 1);
			}
		}
	};
	auto sd = [](const std::vector<double> &v) {
		double m = 0, q = 0;
		for (double x : v)
			m += x;
		m /= double(v.size());
		for (double x : v)
			q += (x - m) * (x - m);
		return std::sqrt(q / double(v.size() - 1));
	};
	std::vector<double> z_exact, z_stall;
	std::vector<std::vector<double>> rel_exact, rel_stall;
	runs("cpus 4\n" + hogs, z_exact, rel_exact);
	runs("cpus 4\nstall 5% 60ms\n" + hogs, z_stall, rel_stall);
	INFO("sd of z: exact quanta " << sd(z_exact) << ", 5% of quanta held up 60 ms " << sd(z_stall));
	CHECK(sd(z_exact) < 1.25);	// an ideal lottery: 1
	CHECK(sd(z_stall) > 1.6);	// measured 2.0
	for (size_t i = 0; i < tickets.size(); i++) {
		double m = 0;
		for (double x : rel_stall[i])
			m += x;
		m /= kSeeds;
		INFO("tickets " << tickets[i] << ": mean relative error " << m << " over " << kSeeds << " runs");
		CHECK(std::abs(m) < 4 * sd(rel_stall[i]) / std::sqrt(double(kSeeds)));
	}
}
