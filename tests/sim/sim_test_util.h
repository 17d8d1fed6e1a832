// sim_test_util.h — helpers shared by the sim tests.
#pragma once

#include "sim/sim_machine.h"

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <memory>
#include <string_view>
#include <vector>

namespace lotto::sim::test {

inline constexpr uint64_t kMs = 1000000ull;
inline constexpr uint64_t kSec = 1000000000ull;

// A machine from workload text; the test fails if it does not build.
inline std::unique_ptr<SimMachine> machine(std::string_view text, BackendConfig cfg = {})
{
	auto m = SimMachine::from_text(text, cfg);
	if (!m)
		FAIL("workload did not build: " << m.error().msg);
	return std::move(*m);
}

// Half-width of the band an ideal lottery allows for a share p measured
// over n independent draws: 5 binomial standard deviations (the seed is
// fixed, so a run cannot flake; a biased draw still falls outside).
inline double band(double p, double n) { return 5.0 * std::sqrt(p * (1.0 - p) / n); }

inline uint64_t runtime(const SimMachine &m, uint32_t pid) { return m.thread(pid)->runtime_ns; }

// What a user is promised for tasks that may all run on every CPU: each
// task's share of the CPUs is tickets / sum, capped at one CPU, the surplus
// of capped tasks shared among the others by their tickets. Returns CPUs.
inline std::vector<double> entitlement(const std::vector<double> &tickets, uint32_t cpus)
{
	std::vector<double> e(tickets.size(), 0);
	std::vector<bool> capped(tickets.size(), false);
	for (bool changed = true; changed;) {
		changed = false;
		double free = cpus, sum = 0;
		for (size_t i = 0; i < tickets.size(); i++)
			capped[i] ? free -= 1 : sum += tickets[i];
		for (size_t i = 0; i < tickets.size(); i++) {
			if (capped[i])
				continue;
			e[i] = free * tickets[i] / sum;
			if (e[i] > 1) {
				capped[i] = changed = true;
				e[i] = 1;
			}
		}
	}
	return e;
}

// quanta handed out: wins of every task (draws and catch-up credits)
inline double quanta(const SimMachine &m)
{
	double n = 0;
	for (uint32_t pid : m.pids())
		n += double(m.thread(pid)->wins);
	return n;
}

// fixed quanta (the longest) and no early draws: for tests of a mechanism
// that the load-scaled quanta and wake-up preemption would blur
inline BackendConfig fixed_quanta(BackendConfig cfg = {})
{
	cfg.latency_us = LOTTO_SLICE_US_MAX;
	cfg.preempt = LOTTO_PREEMPT_OFF;
	return cfg;
}

} // namespace lotto::sim::test
