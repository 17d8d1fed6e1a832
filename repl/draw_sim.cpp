#include "draw_sim.h"

extern "C" {
#include "bpf/lotto_abi.h"
#include "bpf/lotto_math.h"
}

#include <cmath>
#include <queue>

namespace lotto::shell {

DrawResult simulate_draws(const std::vector<DrawTask> &tasks, uint64_t draws, uint64_t seed)
{
	DrawResult res;
	res.draws = draws;
	res.seed = seed;
	for (auto &t : tasks) {
		res.total_tickets += lotto_clamp_tickets(t.tickets);
		res.rows.push_back(DrawRow{t.pid, t.comm, t.tickets, 0, 0, 0, 0});
	}
	if (tasks.empty() || draws == 0)
		return res;

	// The kernel's DSQ: keys ordered by vtime; pop the smallest, the winner
	// re-enters at V + E*f/t. Here every task is always runnable and f = 1.
	lotto_rng rng{seed};
	struct Entry {
		uint64_t key;
		size_t idx;
	};
	auto later = [](const Entry &a, const Entry &b) {
		if (a.key != b.key)
			return lotto_key_before(b.key, a.key) != 0;
		return a.idx > b.idx;
	};
	std::priority_queue<Entry, std::vector<Entry>, decltype(later)> q(later);
	uint64_t v = 0;
	for (size_t i = 0; i < tasks.size(); i++)
		q.push({v + lotto_key_delta(lotto_rng_next(&rng), tasks[i].tickets, LOTTO_COMP_ONE), i});
	for (uint64_t d = 0; d < draws; d++) {
		Entry e = q.top();
		q.pop();
		v = e.key;
		res.rows[e.idx].wins++;
		q.push({v + lotto_key_delta(lotto_rng_next(&rng), tasks[e.idx].tickets, LOTTO_COMP_ONE), e.idx});
	}
	for (auto &r : res.rows) {
		double p = (double)lotto_clamp_tickets(r.tickets) / (double)res.total_tickets;
		r.expected_share = p;
		r.share = (double)r.wins / (double)draws;
		double sd = std::sqrt((double)draws * p * (1 - p));
		r.z = sd > 0 ? ((double)r.wins - (double)draws * p) / sd : 0;
		res.max_abs_z = std::max(res.max_abs_z, std::fabs(r.z));
	}
	return res;
}

} // namespace lotto::shell
