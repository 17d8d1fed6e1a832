#include "sim/slot_table.h"

extern "C" {
#include "bpf/lotto_math.h"
}

#include <cstring>

namespace lotto::sim {

Result<SlotTable> SlotTable::make(uint32_t capacity)
{
	auto tasks = SharedTable<lotto_task_stat>::make(capacity);
	if (!tasks)
		return tasks.error();
	auto ctl = SharedTable<lotto_ctl>::make(capacity);
	if (!ctl)
		return ctl.error();
	auto task_groups = SharedTable<lotto_task_group>::make(capacity);
	if (!task_groups)
		return task_groups.error();
	auto groups = SharedTable<lotto_group_stat>::make(LOTTO_MAX_GROUPS);
	if (!groups)
		return groups.error();
	auto group_ctl = SharedTable<lotto_group_ctl>::make(LOTTO_MAX_GROUPS);
	if (!group_ctl)
		return group_ctl.error();
	SlotTable t;
	t.tasks_ = std::move(*tasks);
	t.ctl_ = std::move(*ctl);
	t.task_groups_ = std::move(*task_groups);
	t.groups_ = std::move(*groups);
	t.group_ctl_ = std::move(*group_ctl);
	t.groups_[0].kind = LOTTO_GROUP_ROOT;
	return t;
}

std::optional<uint32_t> SlotTable::claim(const lotto_task_stat &init)
{
	uint32_t slot;
	if (!free_.empty()) {
		slot = free_.top();
		free_.pop();
	} else if (fresh_ < capacity()) {
		slot = fresh_++;
	} else {
		return std::nullopt;
	}
	lotto_task_stat &s = tasks_[slot];
	uint32_t gen = s.gen + 1;
	s = init;
	s.gen = gen;
	s.pid = 0;
	// readers look at pid first: publish it last
	__atomic_store_n(&s.pid, init.pid, __ATOMIC_RELEASE);
	if (slot >= hw_)
		hw_ = slot + 1;
	return slot;
}

void SlotTable::release(uint32_t slot)
{
	lotto_task_stat &s = tasks_[slot];
	__atomic_store_n(&s.pid, 0u, __ATOMIC_RELEASE);
	uint32_t gen = s.gen;
	memset(static_cast<void *>(&s), 0, sizeof(s));
	s.gen = gen;
	free_.push(slot);
	while (hw_ > 0 && tasks_[hw_ - 1].pid == 0)
		hw_--;
}

uint32_t SlotTable::tickets_for(uint32_t slot, uint32_t pid, uint32_t dflt) const
{
	uint64_t word = __atomic_load_n(reinterpret_cast<const uint64_t *>(&ctl_[slot]), __ATOMIC_RELAXED);
	lotto_ctl c;
	memcpy(&c, &word, sizeof(c));
	if (c.pid == pid && lotto_tickets_valid(c.tickets))
		return c.tickets;
	return dflt;
}

uint32_t SlotTable::policy_group_for(uint32_t slot, uint32_t pid) const
{
	uint64_t word = __atomic_load_n(reinterpret_cast<const uint64_t *>(&task_groups_.data()[slot]), __ATOMIC_RELAXED);
	lotto_task_group g;
	memcpy(&g, &word, sizeof(g));
	if (g.pid != pid || g.group < LOTTO_POLICY_GROUP_BASE || g.group >= LOTTO_MAX_GROUPS)
		return 0;
	return g.group;
}

uint32_t SlotTable::funding_for(uint32_t gid) const
{
	uint32_t f = __atomic_load_n(&group_ctl_.data()[gid].funding, __ATOMIC_RELAXED);
	return lotto_tickets_valid(f) ? f : 0;
}

} // namespace lotto::sim
