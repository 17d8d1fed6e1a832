#include "core/ticket_book.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include "bpf/lotto_math.h"
}

namespace lotto {

static constexpr size_t kHistoryPerPid = 32;

TicketBook::TicketBook(Backend &b, uint32_t default_tickets) : b_(b), default_(default_tickets) {}

void TicketBook::set_policy_order(const std::vector<std::string> &names)
{
	std::vector<PolicyOut> next;
	for (const auto &n : names) {
		auto it = std::find_if(policies_.begin(), policies_.end(), [&](auto &p) { return p.name == n; });
		if (it != policies_.end())
			next.push_back(std::move(*it));
		else
			next.push_back(PolicyOut{n, {}, {}});
	}
	policies_ = std::move(next);
}

void TicketBook::drop_policy(const std::string &name)
{
	std::erase_if(policies_, [&](auto &p) { return p.name == name; });
}

uint32_t TicketBook::policy_value(uint32_t slot, uint32_t pid, size_t upto, std::string *who) const
{
	for (size_t k = std::min(upto, policies_.size()); k-- > 0;) {
		const auto &p = policies_[k];
		if (slot < p.tickets.size() && p.tickets[slot] && p.pids[slot] == pid) {
			if (who)
				*who = "policy " + p.name;
			return p.tickets[slot];
		}
	}
	return 0;
}

void TicketBook::fill_input(const std::string &name, uint32_t *dst, uint32_t n) const
{
	size_t pos = policies_.size();
	for (size_t k = 0; k < policies_.size(); k++)
		if (policies_[k].name == name)
			pos = k;
	const lotto_task_stat *t = b_.tasks();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t pid = t[i].pid;
		uint32_t v = pid ? policy_value(i, pid, pos, nullptr) : 0;
		if (!v)
			v = t[i].tickets ? t[i].tickets : default_;
		dst[i] = v;
	}
}

void TicketBook::policy_output(const std::string &name, const uint32_t *out, uint32_t n)
{
	auto it = std::find_if(policies_.begin(), policies_.end(), [&](auto &p) { return p.name == name; });
	if (it == policies_.end()) {
		policies_.push_back(PolicyOut{name, {}, {}});
		it = policies_.end() - 1;
	}
	it->tickets.assign(out, out + n);
	it->pids.resize(n);
	const lotto_task_stat *t = b_.tasks();
	for (uint32_t i = 0; i < n; i++)
		it->pids[i] = t[i].pid;
}

Result<void> TicketBook::pin(uint32_t pid, uint32_t tickets)
{
	if (!lotto_tickets_valid(tickets))
		return err("tickets must be an integer in " LOTTO_TICKETS_RANGE ", not " + std::to_string(tickets));
	if (!slot_of(pid))
		return err("no such lotto task: pid " + std::to_string(pid));
	pins_[pid] = tickets;
	return {};
}

void TicketBook::pin_found(const std::vector<uint32_t> &pids, uint32_t tickets)
{
	for (uint32_t pid : pids)
		pins_[pid] = lotto_clamp_tickets(tickets);
}

Result<void> TicketBook::unpin(uint32_t pid)
{
	if (!pins_.erase(pid) && !boosts_.erase(pid))
		return err("pid " + std::to_string(pid) + " is not pinned");
	boosts_.erase(pid);
	return {};
}

size_t TicketBook::unpin_all()
{
	size_t n = pins_.size() + boosts_.size();
	pins_.clear();
	boosts_.clear();
	return n;
}

Result<void> TicketBook::boost(uint32_t pid, double factor, std::optional<Clock::duration> d)
{
	if (!lotto_boost_valid(factor))
		return err("boost factor must be a number in " LOTTO_BOOST_RANGE);
	if (!slot_of(pid))
		return err("no such lotto task: pid " + std::to_string(pid));
	Boost b{factor, std::nullopt};
	if (d)
		b.until = Clock::now() + *d;
	boosts_[pid] = b;
	return {};
}

uint32_t TicketBook::effective(uint32_t slot) const
{
	return slot < written_.size() ? written_[slot] : 0;
}

std::string TicketBook::source(uint32_t slot) const
{
	const lotto_task_stat *t = b_.tasks();
	if (slot >= b_.slots_hw() || !t[slot].pid)
		return "";
	uint32_t pid = t[slot].pid;
	std::string who = "default";
	if (pins_.count(pid))
		who = "pin";
	else
		policy_value(slot, pid, policies_.size(), &who);
	if (auto b = boosts_.find(pid); b != boosts_.end())
		who += " (boost x" + std::to_string(b->second.factor).substr(0, 4) + ")";
	return who;
}

const std::deque<TicketChange> *TicketBook::history(uint32_t pid) const
{
	auto it = history_.find(pid);
	return it == history_.end() ? nullptr : &it->second;
}

std::optional<uint32_t> TicketBook::slot_of(uint32_t pid) const
{
	const lotto_task_stat *t = b_.tasks();
	uint32_t hw = b_.slots_hw();
	for (uint32_t i = 0; i < hw; i++)
		if (t[i].pid == pid)
			return i;
	return std::nullopt;
}

void TicketBook::record(uint32_t pid, uint32_t tickets, std::string source)
{
	auto &h = history_[pid];
	h.push_back(TicketChange{std::chrono::system_clock::now(), tickets, std::move(source)});
	if (h.size() > kHistoryPerPid)
		h.pop_front();
}

size_t TicketBook::apply()
{
	const lotto_task_stat *t = b_.tasks();
	uint32_t hw = b_.slots_hw();
	auto now = Clock::now();
	if (written_.size() < hw) {
		written_.resize(hw, 0);
		written_pid_.resize(hw, 0);
	}
	for (auto it = boosts_.begin(); it != boosts_.end();) {
		if (it->second.until && *it->second.until <= now) {
			if (auto s = slot_of(it->first))
				written_[*s] = 0;	// force a rewrite at base tickets
			record(it->first, 0, "boost expired");
			it = boosts_.erase(it);
		} else {
			++it;
		}
	}

	size_t changed = 0, live = 0, pins_seen = 0, boosts_seen = 0;
	bool any_extra = !pins_.empty() || !boosts_.empty();
	for (uint32_t i = 0; i < hw; i++) {
		uint32_t pid = t[i].pid;
		if (!pid)
			continue;
		live++;
		std::string who;
		uint32_t v = 0;
		const Boost *boost = nullptr;
		if (any_extra) {
			if (auto p = pins_.find(pid); p != pins_.end()) {
				v = p->second;
				who = "pin";
				pins_seen++;
			}
			if (auto b = boosts_.find(pid); b != boosts_.end()) {
				boost = &b->second;
				boosts_seen++;
			}
		}
		bool by_policy = false;
		if (!v) {
			// the source's name is only built for a change (below): a
			// string per slot per tick cost more than the rest of apply()
			v = policy_value(i, pid, policies_.size(), nullptr);
			by_policy = v != 0;
		}
		bool by_default = !v;
		if (by_default) {
			v = default_;
			who = "default";
		}
		if (boost) {
			v = lotto_clamp_tickets((uint64_t)std::llround(v * boost->factor));
			who += " boost";
		}
		if (written_[i] == v && written_pid_[i] == pid)
			continue;
		if (by_policy) {
			std::string name;
			policy_value(i, pid, policies_.size(), &name);
			who = name + who;
		}
		bool first_sight = written_pid_[i] != pid;
		written_[i] = v;
		written_pid_[i] = pid;
		if (first_sight && by_default)
			continue;	// nothing to say: the core already uses the default
		b_.set_tickets(i, pid, v);
		record(pid, v, who);
		changed++;
	}

	// forget what belongs to threads that are gone
	if (pins_seen < pins_.size() || boosts_seen < boosts_.size() || history_.size() > live + 1024) {
		std::unordered_map<uint32_t, bool> alive;
		alive.reserve(live);
		for (uint32_t i = 0; i < hw; i++)
			if (t[i].pid)
				alive[t[i].pid] = true;
		std::erase_if(pins_, [&](auto &kv) { return !alive.count(kv.first); });
		std::erase_if(boosts_, [&](auto &kv) { return !alive.count(kv.first); });
		std::erase_if(history_, [&](auto &kv) { return !alive.count(kv.first); });
	}
	return changed;
}

} // namespace lotto
