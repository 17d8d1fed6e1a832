// run_queue.h — the sim's lottery queues: runnable tasks that wait for a CPU,
// ordered by their exponential-race keys (lotto_math.h), in two levels.
//
// Domains. Waiting tasks are first split by their allowed-CPU set (a
// domain); a CPU looks only at the domains it belongs to: O(g log n), g the
// number of distinct CPU sets (1 when nothing is pinned). Each domain has its
// own clock V_d. A key is drawn as V_d + Exp/rate, and a draw on CPU c
// compares residuals (key - V_d) across c's domains: by memorylessness those
// residuals are independent exponentials, so the smallest is an exact
// lottery among everything waiting for c. The winner's residual d moves V_d
// by d for every domain allowed on c (all of their entries lost a race to d);
// domains not allowed on c are untouched. A single V shared by pinned domains
// is not exact: a pop on CPU 1 would move V under tasks that only ever
// compete on CPU 0 (measured: two lotteries pinned to two CPUs, 1:2:7 on one,
// came out 0.17:0.28:0.55).
//
// Groups (currencies). Within a domain, the root group's tasks race
// directly with their tickets; every other group races as one entry with its
// funding (its outer key, drawn at V_d like a task's), and its own waiting
// tasks race among themselves on the group's inner clock V_g with their
// tickets. The entry with the smallest residual in the domain wins; if it is
// a group, the group's task with the smallest inner residual is taken and
// V_g moves by that residual. Both levels are exponential races, so both
// choices are exact lotteries: a group with probability funding / (sum of the
// funding and root tickets waiting), a task within it with probability
// tickets / (sum inside the group). A group with nothing waiting is not in
// the outer race (it dilutes no one); its absence is accounted in domain-clock
// units for catch-up (sim_machine.cpp).
#pragma once

#include "sim/cpu_set.h"

extern "C" {
#include "bpf/lotto_rules.h"
}

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace lotto::sim {

class RunQueue {
public:
	struct Entry {
		uint64_t key;		// root: on V_d; a group's task: on V_g
		uint64_t enq_ns;
		uint32_t task;
		uint32_t group;		// the domain
		uint32_t cur = 0;	// the group (currency); 0: the root
	};
	// the best waiting entry for a CPU: a root task, or a group
	struct Top {
		uint32_t group;		// the domain
		uint32_t cur;		// 0: a root task (entry), else the group
		uint64_t d;		// its residual over V_d
		Entry entry;		// the root task (cur == 0)
	};

	explicit RunQueue(uint32_t nr_cpus);

	// the domain id for a set of allowed CPUs (made on first use)
	uint32_t group_of(const CpuSet &allowed);
	const CpuSet &group_cpus(uint32_t group) const { return groups_[group].cpus; }
	// V_d: new root keys and group keys of the domain are drawn above it
	uint64_t vtime(uint32_t group) const { return groups_[group].vtime; }
	// the residual of a key over its domain's V
	uint64_t residual(uint32_t group, uint64_t key) const { return key - groups_[group].vtime; }
	// a draw on `cpu` was won with residual d: every domain allowed on it moves
	void advance(uint32_t cpu, uint64_t d);

	void push(const Entry &e);
	void erase(const Entry &e);
	// a waiting task's new key (a redraw), in its place in the same queue
	void rekey_task(const Entry &e, uint64_t key);

	// the smallest residual among everything waiting for `cpu`
	std::optional<Top> top(uint32_t cpu) const;
	// the waiting task allowed on `cpu` that has waited longest
	std::optional<Entry> oldest(uint32_t cpu) const;
	// whether pred(task) holds for a head (smallest key) of a queue `cpu` draws from
	template <typename Pred> bool any_head(uint32_t cpu, Pred pred) const
	{
		for (uint32_t id : cpu_groups_[cpu]) {
			const Group &g = groups_[id];
			if (!g.by_key.empty() && pred(g.by_key.begin()->task))
				return true;
			for (const auto &[gid, c] : g.cur)
				if (!c.by_key.empty() && pred(c.by_key.begin()->task))
					return true;
		}
		return false;
	}

	// ---- groups within a domain
	bool active(uint32_t group, uint32_t cur) const;
	// put a group with waiting tasks into the outer race with this key (on V_d)
	void activate(uint32_t group, uint32_t cur, uint64_t key);
	uint64_t outer_key(uint32_t group, uint32_t cur) const;
	// a group won: its next outer key (it still has tasks waiting)
	void rekey(uint32_t group, uint32_t cur, uint64_t key);
	// V_g, the group's inner clock, and the inner race's head
	uint64_t inner_vtime(uint32_t group, uint32_t cur) const;
	std::optional<Entry> inner_head(uint32_t group, uint32_t cur) const;
	void advance_inner(uint32_t group, uint32_t cur, uint64_t d);
	// how far V_d has moved, in total, while the group was out of the outer
	// race and not in a draw through one of its tasks whose quantum ended,
	// less the stretches its debt pushed its race over (lotto_debt_absent)
	uint64_t absent(uint32_t group, uint32_t cur) const;
	// a task of the group, not waiting, took part in a draw that moved V_d by d
	void represented(uint32_t group, uint32_t cur, uint64_t d);
	// wins its running tasks took inside the group (catch-up) while it was
	// out of the outer race: its race pushed back by `push`, the outer draws
	// they cost (lotto_debt_add); take_debt(), as it joins the race again:
	// what is left of the push, for its new key (lotto_debt_take)
	void add_debt(uint32_t group, uint32_t cur, uint64_t push);
	uint64_t take_debt(uint32_t group, uint32_t cur);

	size_t size() const { return size_; }
	// what waits, the way the BPF core counts it for a quantum: root tasks
	// and groups (a group with tasks waiting counts once), allowed on
	// several CPUs (its shared domain) and pinned to `cpu`
	uint32_t waiting_shared() const;
	uint32_t waiting_pinned(uint32_t cpu) const;

private:
	struct ByKey {
		bool operator()(const Entry &a, const Entry &b) const;
	};
	struct ByWait {
		bool operator()(const Entry &a, const Entry &b) const;
	};
	struct ByOuter {
		bool operator()(const std::pair<uint64_t, uint32_t> &a, const std::pair<uint64_t, uint32_t> &b) const;
	};
	struct Currency {
		uint64_t vtime = 0;		// V_g
		std::set<Entry, ByKey> by_key;
		uint64_t key = 0;		// outer key while active
		bool active = false;
		uint64_t absent_since = 0;	// V_d when it left the outer race
		uint64_t absent_total = 0;	// V_d's moves while out, before absent_since
		uint64_t represented = 0;	// of those, moves of draws it took part in
		lotto_gdebt debt{};		// its race pushed back while out (add_debt)
	};
	struct Group {
		CpuSet cpus;
		uint64_t vtime = 0;
		bool single = false;	// exactly one CPU
		std::set<Entry, ByKey> by_key;		// root tasks
		std::set<Entry, ByWait> by_wait;	// every waiting task
		std::map<uint32_t, Currency> cur;
		std::set<std::pair<uint64_t, uint32_t>, ByOuter> outer;	// active groups
	};
	Currency &currency(uint32_t group, uint32_t cur);
	// absent() before the debt's pushes are taken out
	static uint64_t raw_absent(const Currency &c, uint64_t vtime);
	const Currency *find(uint32_t group, uint32_t cur) const;

	std::vector<Group> groups_;
	std::map<CpuSet, uint32_t> index_;
	std::vector<std::vector<uint32_t>> cpu_groups_;	// per CPU: domains that include it
	std::vector<int64_t> single_of_;		// per CPU: its one-CPU domain, -1: none yet
	size_t size_ = 0;
	size_t pinned_ = 0;				// waiting in one-CPU domains
};

} // namespace lotto::sim
