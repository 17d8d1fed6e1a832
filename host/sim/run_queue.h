// run_queue.h — the sim's lottery DSQ: runnable tasks that wait for a CPU,
// ordered by their exponential-race key (lotto_math.h).
//
// Waiting tasks are grouped by their allowed-CPU set; a CPU looks only at the
// heads of the groups it belongs to: O(g log n), g the number of distinct
// CPU sets (1 when nothing is pinned).
//
// Each group has its own reference V_g. A key is drawn as V_g + Exp/rate, and
// a draw on CPU c compares residuals (key - V_g) across c's groups: by
// memorylessness those residuals are independent exponentials, so the
// smallest is an exact lottery among every task allowed on c. The winner's
// residual d then moves V_g by d for every group allowed on c (all of their
// tasks lost a race to d: their residuals are again exponential above the
// new V_g); groups not allowed on c are untouched.
//
// With one group this is exactly the BPF core's "V = key of the last winner".
// A single V shared by pinned groups is not exact: a pop on CPU 1 would move V
// under tasks that only ever compete on CPU 0 (measured in the sim: two
// lotteries pinned to two CPUs, 1:2:7 on one, came out 0.17:0.28:0.55).
#pragma once

#include "sim/cpu_set.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace lotto::sim {

class RunQueue {
public:
	struct Entry {
		uint64_t key;
		uint64_t enq_ns;
		uint32_t task;
		uint32_t group;
	};

	explicit RunQueue(uint32_t nr_cpus);

	// the group id for a set of allowed CPUs (made on first use)
	uint32_t group_of(const CpuSet &allowed);
	const CpuSet &group_cpus(uint32_t group) const { return groups_[group].cpus; }
	// V_g: new keys of group members are drawn above it
	uint64_t vtime(uint32_t group) const { return groups_[group].vtime; }
	// the residual of a key over its group's V (a draw compares these)
	uint64_t residual(uint32_t group, uint64_t key) const { return key - groups_[group].vtime; }
	// a draw on `cpu` was won with residual d: every group allowed on it moves
	void advance(uint32_t cpu, uint64_t d);

	void push(const Entry &e);
	void erase(const Entry &e);

	// the waiting task allowed on `cpu` with the smallest residual
	std::optional<Entry> min_key(uint32_t cpu) const;
	// the waiting task allowed on `cpu` that has waited longest
	std::optional<Entry> oldest(uint32_t cpu) const;
	// whether pred(task) holds for the head (smallest key) of a group `cpu` draws from
	template <typename Pred> bool any_head(uint32_t cpu, Pred pred) const
	{
		for (uint32_t id : cpu_groups_[cpu])
			if (!groups_[id].by_key.empty() && pred(groups_[id].by_key.begin()->task))
				return true;
		return false;
	}

	size_t size() const { return size_; }
	// waiting tasks the way the BPF core counts them for a quantum: those
	// allowed on several CPUs (its shared DSQ) and those pinned to `cpu`
	uint32_t waiting_shared() const { return uint32_t(size_ - pinned_); }
	uint32_t waiting_pinned(uint32_t cpu) const;

private:
	struct ByKey {
		bool operator()(const Entry &a, const Entry &b) const;
	};
	struct ByWait {
		bool operator()(const Entry &a, const Entry &b) const;
	};
	struct Group {
		CpuSet cpus;
		uint64_t vtime = 0;
		bool single = false;	// exactly one CPU
		std::set<Entry, ByKey> by_key;
		std::set<Entry, ByWait> by_wait;
	};

	std::vector<Group> groups_;
	std::map<CpuSet, uint32_t> index_;
	std::vector<std::vector<uint32_t>> cpu_groups_;	// per CPU: groups that include it
	std::vector<int64_t> single_of_;		// per CPU: its one-CPU group, -1: none yet
	size_t size_ = 0;
	size_t pinned_ = 0;				// waiting in one-CPU groups
};

} // namespace lotto::sim
