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

bool RunQueue::ByOuter::operator()(const std::pair<uint64_t, uint32_t> &a,
				   const std::pair<uint64_t, uint32_t> &b) const
{
	if (a.first != b.first)
		return lotto_key_before(a.first, b.first);
	return a.second < b.second;
}

RunQueue::RunQueue(uint32_t nr_cpus) : cpu_groups_(nr_cpus), single_of_(nr_cpus, -1) {}

uint32_t RunQueue::group_of(const CpuSet &allowed)
{
	CpuSet n = allowed.normalized();
	if (auto it = index_.find(n); it != index_.end())
		return it->second;
	uint32_t id = uint32_t(groups_.size());
	Group g;
	g.cpus = n;
	g.single = n.count() == 1;
	groups_.push_back(std::move(g));
	index_.emplace(n, id);
	for (uint32_t c = 0; c < cpu_groups_.size(); c++) {
		if (!n.test(c))
			continue;
		cpu_groups_[c].push_back(id);
		if (n.count() == 1)
			single_of_[c] = id;
	}
	return id;
}

RunQueue::Currency &RunQueue::currency(uint32_t group, uint32_t cur)
{
	Group &g = groups_[group];
	auto [it, fresh] = g.cur.try_emplace(cur);
	if (fresh)
		it->second.absent_since = g.vtime;	// out of the race from now
	return it->second;
}

const RunQueue::Currency *RunQueue::find(uint32_t group, uint32_t cur) const
{
	const Group &g = groups_[group];
	auto it = g.cur.find(cur);
	return it == g.cur.end() ? nullptr : &it->second;
}

void RunQueue::push(const Entry &e)
{
	Group &g = groups_[e.group];
	if (e.cur == 0) {
		g.by_key.insert(e);
	} else {
		Currency &c = currency(e.group, e.cur);
		c.by_key.insert(e);
	}
	g.by_wait.insert(e);
	size_++;
	pinned_ += g.single;
}

void RunQueue::erase(const Entry &e)
{
	Group &g = groups_[e.group];
	size_t n;
	if (e.cur == 0) {
		n = g.by_key.erase(e);
	} else {
		Currency &c = currency(e.group, e.cur);
		n = c.by_key.erase(e);
		if (n && c.by_key.empty() && c.active) {
			// nothing of it waits: out of the outer race
			g.outer.erase({c.key, e.cur});
			c.active = false;
			c.absent_since = g.vtime;
		}
	}
	size_ -= n;
	pinned_ -= g.single ? n : 0;
	g.by_wait.erase(e);
}

void RunQueue::rekey_task(const Entry &e, uint64_t key)
{
	Group &g = groups_[e.group];
	auto &set = e.cur == 0 ? g.by_key : currency(e.group, e.cur).by_key;
	if (!set.erase(e))
		return;
	g.by_wait.erase(e);
	Entry n = e;
	n.key = key;
	set.insert(n);
	g.by_wait.insert(n);
}

std::optional<RunQueue::Top> RunQueue::top(uint32_t cpu) const
{
	std::optional<Top> best;
	for (uint32_t id : cpu_groups_[cpu]) {
		const Group &g = groups_[id];
		auto consider = [&](uint64_t key, uint32_t cur, const Entry *e) {
			uint64_t d = key - g.vtime;
			if (best && !lotto_key_before(d, best->d))
				return;
			best = Top{id, cur, d, e ? *e : Entry{}};
		};
		if (!g.by_key.empty())
			consider(g.by_key.begin()->key, 0, &*g.by_key.begin());
		if (!g.outer.empty())
			consider(g.outer.begin()->first, g.outer.begin()->second, nullptr);
	}
	return best;
}

void RunQueue::advance(uint32_t cpu, uint64_t d)
{
	for (uint32_t id : cpu_groups_[cpu])
		groups_[id].vtime += d;
}

bool RunQueue::active(uint32_t group, uint32_t cur) const
{
	const Currency *c = find(group, cur);
	return c && c->active;
}

void RunQueue::activate(uint32_t group, uint32_t cur, uint64_t key)
{
	Group &g = groups_[group];
	Currency &c = currency(group, cur);
	if (c.active)
		return;
	c.absent_total += g.vtime - c.absent_since;
	c.active = true;
	c.key = key;
	g.outer.insert({key, cur});
}

uint64_t RunQueue::outer_key(uint32_t group, uint32_t cur) const
{
	const Currency *c = find(group, cur);
	return c ? c->key : 0;
}

void RunQueue::rekey(uint32_t group, uint32_t cur, uint64_t key)
{
	Group &g = groups_[group];
	Currency &c = currency(group, cur);
	if (!c.active)
		return;
	g.outer.erase({c.key, cur});
	c.key = key;
	g.outer.insert({key, cur});
}

uint64_t RunQueue::inner_vtime(uint32_t group, uint32_t cur) const
{
	const Currency *c = find(group, cur);
	return c ? c->vtime : 0;
}

std::optional<RunQueue::Entry> RunQueue::inner_head(uint32_t group, uint32_t cur) const
{
	const Currency *c = find(group, cur);
	if (!c || c->by_key.empty())
		return std::nullopt;
	return *c->by_key.begin();
}

void RunQueue::advance_inner(uint32_t group, uint32_t cur, uint64_t d) { currency(group, cur).vtime += d; }

uint64_t RunQueue::raw_absent(const Currency &c, uint64_t vtime)
{
	return c.absent_total + (c.active ? 0 : vtime - c.absent_since) - c.represented;
}

uint64_t RunQueue::absent(uint32_t group, uint32_t cur) const
{
	const Currency *c = find(group, cur);
	if (!c)
		return groups_[group].vtime;	// never seen: absent all along
	return lotto_debt_absent(&c->debt, raw_absent(*c, groups_[group].vtime));
}

void RunQueue::add_debt(uint32_t group, uint32_t cur, uint64_t push)
{
	Currency &c = currency(group, cur);
	lotto_debt_add(&c.debt, raw_absent(c, groups_[group].vtime), push);
}

uint64_t RunQueue::take_debt(uint32_t group, uint32_t cur)
{
	Currency &c = currency(group, cur);
	return lotto_debt_take(&c.debt, raw_absent(c, groups_[group].vtime));
}

void RunQueue::represented(uint32_t group, uint32_t cur, uint64_t d)
{
	Currency &c = currency(group, cur);
	if (!c.active)
		c.represented += d;
}

uint32_t RunQueue::waiting_shared() const
{
	size_t n = 0;
	for (const Group &g : groups_)
		if (!g.single)
			n += g.by_key.size() + g.outer.size();
	return uint32_t(n);
}

uint32_t RunQueue::waiting_pinned(uint32_t cpu) const
{
	int64_t i = single_of_[cpu];
	if (i < 0)
		return 0;
	const Group &g = groups_[size_t(i)];
	return uint32_t(g.by_key.size() + g.outer.size());
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
