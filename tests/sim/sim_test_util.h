// sim_test_util.h — helpers shared by the sim tests.
#pragma once

#include "sim/sim_machine.h"

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <memory>
#include <string_view>

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

} // namespace lotto::sim::test
