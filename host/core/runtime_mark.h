// runtime_mark.h — how much CPU time a task got since an earlier look at its
// slot. Slots are reused: the same pid in the same generation (gen, bumped by
// the core each time a slot gets a new task) is the same task; anything else
// is a task that arrived since that look, and all its runtime is new.
// Used by the host's sampler (CPU%, CPU share) and by the policy workers
// (runtime_delta_ns), so the two count alike.
#pragma once

#include <cstdint>

namespace lotto {

struct RuntimeMark {
	uint64_t runtime_ns = 0;
	uint32_t gen = 0;
	uint32_t pid = 0;	// 0: no task in the slot at that look

	bool same_task(uint32_t p, uint32_t g) const { return pid == p && gen == g; }
	// runtime since this mark of the task (pid, gen) that now has runtime_now
	uint64_t since(uint32_t p, uint32_t g, uint64_t runtime_now) const
	{
		if (!same_task(p, g))
			return runtime_now;
		return runtime_now >= runtime_ns ? runtime_now - runtime_ns : 0;
	}
};

} // namespace lotto
