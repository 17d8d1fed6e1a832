// draw_sim.h — `draw`: run the core's own lottery (bpf/lotto_math.h, the
// exponential race with its seeded PRNG) here in the shell, every task
// runnable, and count the winners against the theoretical share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lotto::shell {

struct DrawTask {
	uint32_t pid = 0;
	std::string comm;
	uint32_t tickets = 0;
};

struct DrawRow {
	uint32_t pid = 0;
	std::string comm;
	uint32_t tickets = 0;
	double expected_share = 0;	// tickets / total
	uint64_t wins = 0;
	double share = 0;		// wins / draws
	double z = 0;			// (wins - expected) / binomial sd
};

struct DrawResult {
	uint64_t draws = 0;
	uint64_t seed = 0;
	uint64_t total_tickets = 0;
	double max_abs_z = 0;
	std::vector<DrawRow> rows;	// in the order of the input
};

DrawResult simulate_draws(const std::vector<DrawTask> &tasks, uint64_t draws, uint64_t seed);

} // namespace lotto::shell
