#include "core/group_book.h"

#include <algorithm>
#include <cstdio>

namespace lotto {

Result<void> check_group_name(const std::string &name)
{
	if (name.empty())
		return err(Errc::invalid, "a group name may not be empty");
	if (name.size() > LOTTO_GROUP_NAME_MAX)
		return err(Errc::invalid, "group name too long: " + std::to_string(name.size()) + " bytes (at most " +
						  std::to_string(LOTTO_GROUP_NAME_MAX) + ")");
	bool digits = true;
	for (size_t i = 0; i < name.size(); i++) {
		unsigned char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			  c == '.' || c == ':' || c == '@' || c == '-';
		if (!ok) {
			// the name itself is not echoed: it may hold control characters
			char what[32];
			if (c > 0x20 && c < 0x7f)
				snprintf(what, sizeof(what), "'%c'", c);
			else
				snprintf(what, sizeof(what), "byte 0x%02x", c);
			return err(Errc::invalid, std::string("a group name has a character other than letters, digits and "
							      "_.:@- (") + what + " at offset " + std::to_string(i) + ")");
		}
		digits = digits && c >= '0' && c <= '9';
	}
	if (digits)
		return err(Errc::invalid, "group name '" + name + "' is a number (numbers name gids)");
	return {};
}

GroupBook::GroupBook(Backend &b) : b_(b) {}

void GroupBook::set_policy_order(const std::vector<std::string> &names)
{
	std::vector<std::string> order = names;
	for (auto &n : order_)
		if (std::find(order.begin(), order.end(), n) == order.end())
			order.push_back(n);
	order_ = std::move(order);
}

bool GroupBook::named(const std::string &name) const
{
	if (pins_.count(name))
		return true;
	// (a group only holding tasks is named by the policy that put them there)
	for (auto &[p, gs] : said_)
		for (auto &g : gs)
			if (g.name == name)
				return true;
	return false;
}

Result<uint32_t> GroupBook::gid_for(const std::string &name)
{
	if (auto it = names_.find(name); it != names_.end())
		return it->second.gid;
	for (uint32_t gid = LOTTO_POLICY_GID_MIN; gid <= LOTTO_POLICY_GID_MAX; gid++)
		if (!used_[gid]) {
			used_[gid] = true;
			names_[name] = Entry{gid};
			return gid;
		}
	return err(Errc::busy, "no policy group is free for '" + name + "' (" +
				       std::to_string(LOTTO_POLICY_GID_MAX - LOTTO_POLICY_GID_MIN + 1) + " in use)");
}

Result<void> GroupBook::policy_groups(const std::string &policy, const std::vector<PolicyGroup> &groups,
				      const uint16_t *member, uint32_t n)
{
	// the new names first, all or nothing
	std::vector<std::string> fresh;
	for (auto &g : groups)
		if (!names_.count(g.name) && std::find(fresh.begin(), fresh.end(), g.name) == fresh.end())
			fresh.push_back(g.name);
	for (size_t i = 0; i < fresh.size(); i++) {
		if (auto r = gid_for(fresh[i]); !r) {
			for (size_t j = 0; j < i; j++) {
				used_[names_[fresh[j]].gid] = false;
				names_.erase(fresh[j]);
			}
			return r.error();
		}
	}
	if (std::find(order_.begin(), order_.end(), policy) == order_.end())
		order_.push_back(policy);
	said_[policy] = groups;
	if (!member || n == 0) {
		members_.erase(policy);
		return {};
	}
	n = std::min<uint32_t>({n, b_.slots_hw(), LOTTO_MAX_TASKS});
	Members &m = members_[policy];
	m.idx.assign(member, member + n);
	m.pids.resize(n);
	const lotto_task_stat *t = b_.tasks();
	for (uint32_t i = 0; i < n; i++) {
		m.pids[i] = t ? __atomic_load_n(&t[i].pid, __ATOMIC_RELAXED) : 0;
		if (m.idx[i] != kOut && m.idx[i] > groups.size())
			m.idx[i] = 0;	// the caller checked; never an index out of the list
	}
	return {};
}

void GroupBook::drop_policy(const std::string &policy)
{
	said_.erase(policy);
	members_.erase(policy);
	order_.erase(std::remove(order_.begin(), order_.end(), policy), order_.end());
}

Result<void> GroupBook::pin(const std::string &name, uint32_t funding)
{
	if (funding < LOTTO_FUNDING_MIN || funding > LOTTO_FUNDING_MAX)
		return err(Errc::invalid, "funding out of range: " + std::to_string(funding) + " (use " LOTTO_FUNDING_RANGE ")");
	std::string n = name;
	if (!n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
		// a gid: the group the book named so
		uint32_t gid = n.size() <= 5 ? uint32_t(std::stoul(n)) : 0;
		std::string held = name_of(gid);
		if (held.empty())
			return err(Errc::not_found, "group " + n + " is not a policy group in use (see `groups`; " +
							  "a group made outside lotto-host, by lotto-ctl, cannot be pinned)");
		n = held;
	} else if (auto r = check_group_name(n); !r) {
		return r;
	}
	if (!names_.count(n))
		if (auto r = gid_for(n); !r)
			return r.error();
	pins_[n] = funding;
	return {};
}

Result<void> GroupBook::unpin(const std::string &name)
{
	std::string n = name;
	if (!n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
		n = n.size() <= 5 ? name_of(uint32_t(std::stoul(n))) : "";
	if (!pins_.erase(n))
		return err(Errc::not_found, "group " + name + " has no pinned funding (nothing to unpin)");
	return {};
}

std::optional<uint32_t> GroupBook::gid_of(const std::string &name) const
{
	if (auto it = names_.find(name); it != names_.end())
		return it->second.gid;
	return std::nullopt;
}

std::string GroupBook::name_of(uint32_t gid) const
{
	for (auto &[n, e] : names_)
		if (e.gid == gid)
			return n;
	return "";
}

uint32_t GroupBook::funding_of(const std::string &name, std::string *who) const
{
	if (auto p = pins_.find(name); p != pins_.end()) {
		if (who)
			*who = "pin";
		return p->second;
	}
	uint32_t f = 0;
	for (auto &pol : order_) {
		auto it = said_.find(pol);
		if (it == said_.end())
			continue;
		for (auto &g : it->second)
			if (g.name == name && g.funding) {
				f = g.funding;
				if (who)
					*who = "policy " + pol;
			}
	}
	if (!f && who)
		*who = "default";
	return f;
}

uint32_t GroupBook::flags_of(const std::string &name) const
{
	uint32_t fl = 0;
	for (auto &[pol, gs] : said_)
		for (auto &g : gs)
			if (g.name == name)
				fl |= g.flags & LOTTO_GROUP_F_ALL;
	return fl;
}

std::string GroupBook::source(uint32_t gid) const
{
	std::string n = name_of(gid), who;
	if (n.empty())
		return "";
	funding_of(n, &who);
	return who;
}

// lotto_task_groups: for each task, the group the last policy with an
// opinion put it in
size_t GroupBook::apply_members()
{
	if (members_.empty() && written_in_ == 0)
		return 0;
	const lotto_task_stat *t = b_.tasks();
	if (!t || !b_.task_groups())
		return 0;
	uint32_t n = std::min<uint32_t>(b_.slots_hw(), LOTTO_MAX_TASKS);
	if (written_gid_.size() < n) {
		written_gid_.resize(n, 0);
		written_pid_.resize(n, 0);
	}
	// the policies with members, in order, with their group names' gids
	struct Src {
		const Members *m;
		std::vector<uint32_t> gid;	// per index of its groups
	};
	std::vector<Src> srcs;
	for (auto &pol : order_) {
		auto mit = members_.find(pol);
		auto sit = said_.find(pol);
		if (mit == members_.end() || sit == said_.end())
			continue;
		Src s{&mit->second, {}};
		for (auto &g : sit->second)
			s.gid.push_back(gid_of(g.name).value_or(0));
		srcs.push_back(std::move(s));
	}
	size_t written = 0;
	for (uint32_t slot = 0; slot < n; slot++) {
		uint32_t pid = __atomic_load_n(&t[slot].pid, __ATOMIC_RELAXED);
		uint32_t gid = 0;
		for (auto &s : srcs) {
			if (slot >= s.m->idx.size() || s.m->pids[slot] != pid)
				continue;
			uint16_t x = s.m->idx[slot];
			if (x == kOut)
				gid = 0;
			else if (x)
				gid = s.gid[x - 1];
		}
		uint32_t &wg = written_gid_[slot], &wp = written_pid_[slot];
		bool need = gid ? (wg != gid || wp != pid) : (wg != 0 && wp == pid && pid != 0);
		if (!need) {
			if (gid == 0 && wg != 0 && wp != pid) {	// another thread now: ours is stale, harmless
				wg = 0;
				written_in_--;
			}
			continue;
		}
		if (!pid || !b_.set_task_group(slot, pid, gid))
			continue;
		if (wg && !gid)
			written_in_--;
		else if (!wg && gid)
			written_in_++;
		wg = gid;
		wp = pid;
		written++;
	}
	return written;
}

size_t GroupBook::apply()
{
	size_t written = apply_members();
	for (auto it = names_.begin(); it != names_.end();) {
		Entry &e = it->second;
		if (!named(it->first)) {
			// nobody names it: back to the defaults, gid free again
			(void)b_.set_group_funding(e.gid, 0);
			(void)b_.set_group_flags(e.gid, 0);
			used_[e.gid] = false;
			it = names_.erase(it);
			written++;
			continue;
		}
		uint32_t f = funding_of(it->first, nullptr), fl = flags_of(it->first);
		if (!e.written || f != e.written_funding || fl != e.written_flags) {
			if (b_.set_group_funding(e.gid, f) && b_.set_group_flags(e.gid, fl)) {
				e.written = true;
				e.written_funding = f;
				e.written_flags = fl;
				written++;
			}
		}
		++it;
	}
	return written;
}

} // namespace lotto
