#include "sim/run_queue.h"

extern "C" {
#include "bpf/lotto_abi.h"
#include "bpf/lotto_math.h"
}

namespace lotto::sim {

// Keys are compared as signed differences, like the kernel's DSQ does: a
// strict weak order as long as the waiting keys span less than 2^63.
bool RunQueue::ByKey::operator()(const Entry &a, const Entry &b) const
{
	if (a.key != b.key)
		return lotto_key_before(a.key, b.key);
	return a.task < b.task;
}

bool RunQueue::ByWait::operator()(const Entry &a, const Entry &b) const
{
	if (a.enq_ns != b.enq_ns)
		return a.enq_ns < b.enq_ns;
	return a.task < b.task;
}

RunQueue::RunQueue(uint32_t nr_cpus) : cpu_groups_(nr_cpus), single_of_(nr_cpus, -1) {}

uint32_t RunQueue::group_of(const CpuSet &allowed)
{
	CpuSet n = allowed.normalized();
	if (auto it = index_.find(n); it != index_.end())
		return it->second;
	uint32_t id = uint32_t(groups_.size());
	groups_.push_back(Group{n, 0, n.count() == 1, {}, {}});
	index_.emplace(n, id);
	if (n.count() == 1)
		for (uint32_t c = 0; c < cpu_groups_.size(); c++)
			if (n.test(c))
				single_of_[c] = id;
	for (uint32_t c = 0; c < cpu_groups_.size(); c++)
		if (n.test(c))
			cpu_groups_[c].push_back(id);
	return id;
}

void RunQueue::push(const Entry &e)
{
	Group &g = groups_[e.group];
	g.by_key.insert(e);
	g.by_wait.insert(e);
	size_++;
	pinned_ += g.single;
}

void RunQueue::erase(const Entry &e)
{
	Group &g = groups_[e.group];
	size_t n = g.by_key.erase(e);
	size_ -= n;
	pinned_ -= g.single ? n : 0;
	g.by_wait.erase(e);
}

std::optional<RunQueue::Entry> RunQueue::min_key(uint32_t cpu) const
{
	std::optional<Entry> best;
	uint64_t best_d = 0;
	for (uint32_t id : cpu_groups_[cpu]) {
		const Group &g = groups_[id];
		if (g.by_key.empty())
			continue;
		const Entry &e = *g.by_key.begin();
		uint64_t d = e.key - g.vtime;
		if (!best || lotto_key_before(d, best_d) || (d == best_d && e.task < best->task)) {
			best = e;
			best_d = d;
		}
	}
	return best;
}

uint32_t RunQueue::waiting_pinned(uint32_t cpu) const
{
	int64_t g = single_of_[cpu];
	return g < 0 ? 0 : uint32_t(groups_[size_t(g)].by_key.size());
}

void RunQueue::advance(uint32_t cpu, uint64_t d)
{
	for (uint32_t id : cpu_groups_[cpu])
		groups_[id].vtime += d;
}

std::optional<RunQueue::Entry> RunQueue::oldest(uint32_t cpu) const
{
	std::optional<Entry> best;
	for (uint32_t id : cpu_groups_[cpu]) {
		const Group &g = groups_[id];
		if (g.by_wait.empty())
			continue;
		const Entry &e = *g.by_wait.begin();
		if (!best || ByWait{}(e, *best))
			best = e;
	}
	return best;
}

} // namespace lotto::sim
