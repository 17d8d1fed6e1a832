// slot_table.h — the sim's maps: lotto_tasks and lotto_ctl (LOTTO_MAX_TASKS
// slots each), lotto_task_groups (the same slots), lotto_groups and
// lotto_group_ctl (LOTTO_MAX_GROUPS), shared-memory arrays kept by the same
// rules as the BPF core.
//
//   - a free slot has pid 0; slots at or above hw() are all free
//   - a task gets the lowest free slot; gen goes up by one on every reuse
//   - a task that exits has its stats slot cleared (gen kept for the next owner)
//   - lotto_ctl belongs to user space: the sim only reads it, one 64-bit load
//     per draw, and uses its tickets only when ctl.pid is the slot's thread
#pragma once

#include "core/result.h"
#include "sim/shared_table.h"

extern "C" {
#include "bpf/lotto_abi.h"
}

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

namespace lotto::sim {

class SlotTable {
public:
	static Result<SlotTable> make(uint32_t capacity = LOTTO_MAX_TASKS);

	// Fill the lowest free slot with `init` (gen is set here) and return it;
	// none when the table is full.
	std::optional<uint32_t> claim(const lotto_task_stat &init);
	void release(uint32_t slot);

	lotto_task_stat &at(uint32_t slot) { return tasks_[slot]; }
	// tickets for `pid` in `slot` at a draw: ctl's if it names this thread and
	// is valid, else `dflt`
	uint32_t tickets_for(uint32_t slot, uint32_t pid, uint32_t dflt) const;

	// the policy group user space put the task in (lotto_task_groups), 0: none
	uint32_t policy_group_for(uint32_t slot, uint32_t pid) const;
	// a group's funding set by user space (lotto_group_ctl), 0: none
	uint32_t funding_for(uint32_t gid) const;

	const lotto_task_stat *tasks() const { return tasks_.data(); }
	lotto_ctl *ctl() { return ctl_.data(); }
	lotto_group_stat &group(uint32_t gid) { return groups_[gid]; }
	const lotto_group_stat *groups() const { return groups_.data(); }
	lotto_group_ctl *group_ctl() { return group_ctl_.data(); }
	lotto_task_group *task_groups() { return task_groups_.data(); }
	uint32_t hw() const { return hw_; }
	uint32_t capacity() const { return uint32_t(tasks_.size()); }

private:
	SharedTable<lotto_task_stat> tasks_;
	SharedTable<lotto_ctl> ctl_;
	SharedTable<lotto_task_group> task_groups_;
	SharedTable<lotto_group_stat> groups_;
	SharedTable<lotto_group_ctl> group_ctl_;
	uint32_t hw_ = 0;		// highest slot in use + 1
	uint32_t fresh_ = 0;		// slots below this have been used at least once
	std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<>> free_;	// freed, < fresh_
};

} // namespace lotto::sim
