// group_book.h — the policy groups (currencies user space makes) by name, and
// who funds them.
//
// A policy names a group ("uid:1000"); the book hands it a gid from
// LOTTO_POLICY_GID_MIN up the first time and keeps it while any policy or pin
// still names it. Funding, strongest first:
//   1. a pin from the shell (`tickets group:NAME N`), kept by name in the
//      state file, so it holds for the group a policy makes after a restart
//   2. the policies, in load order: the last one that funds the group wins
//   3. nothing: LOTTO_FUNDING_DEFAULT (the core's default)
// Flags (LOTTO_GROUP_F_*) are the policies' (the union of theirs). Which
// group a task is in: the last policy (in load order) that put it in one, or
// took it out of all (then its cgroup decides), else its cgroup. apply()
// writes what changed into lotto_group_ctl and lotto_task_groups (stores
// only, no syscalls).
// A group nobody names any more is given back: its funding and flags are
// cleared and its gid may be handed out again.
#pragma once

#include "core/backend.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lotto {

// a group name: 1..LOTTO_GROUP_NAME_MAX bytes of [A-Za-z0-9_.:@-], not all
// digits (a number names a gid); Errc::invalid with a reason otherwise
Result<void> check_group_name(const std::string &name);

class GroupBook {
public:
	explicit GroupBook(Backend &b);

	// ---- policies (each tick replaces what that policy said)
	struct PolicyGroup {
		std::string name;
		uint32_t funding = 0;	// 0: no opinion
		uint32_t flags = 0;	// LOTTO_GROUP_F_*
	};
	void set_policy_order(const std::vector<std::string> &names);
	static constexpr uint16_t kOut = 0xffff;	// member[]: out of every policy group
	// what `policy` wants now; names must be valid (check_group_name).
	// member[slot] (n slots, the task table as it is now): 1 + an index
	// into groups, kOut, or 0 (no opinion); nullptr: no opinion on any task.
	// Errc::busy when no gid is free for a new name (nothing is changed).
	Result<void> policy_groups(const std::string &policy, const std::vector<PolicyGroup> &groups,
				   const uint16_t *member = nullptr, uint32_t n = 0);
	void drop_policy(const std::string &policy);

	// ---- shell pins, by name (or a gid as text); funding in LOTTO_FUNDING_MIN..MAX
	Result<void> pin(const std::string &name, uint32_t funding);
	Result<void> unpin(const std::string &name);	// Errc::not_found when not pinned
	const std::map<std::string, uint32_t> &pins() const { return pins_; }

	// ---- lookups
	std::optional<uint32_t> gid_of(const std::string &name) const;
	std::string name_of(uint32_t gid) const;	// "" when the book did not name it
	// "pin", "policy NAME" or "default" for the funding in force
	std::string source(uint32_t gid) const;

	// Write changed funding and flags to lotto_group_ctl; free gids nobody
	// names. Returns how many groups were written.
	size_t apply();

private:
	struct Entry {
		uint32_t gid = 0;
		uint32_t written_funding = 0, written_flags = 0;
		bool written = false;
	};
	Result<uint32_t> gid_for(const std::string &name);	// an existing or a new gid
	bool named(const std::string &name) const;
	uint32_t funding_of(const std::string &name, std::string *who) const;
	uint32_t flags_of(const std::string &name) const;
	size_t apply_members();

	struct Members {
		std::vector<uint16_t> idx;	// per slot, as policy_groups got it
		std::vector<uint32_t> pids;	// the task each value was meant for
	};

	Backend &b_;
	std::vector<std::string> order_;					// policies, load order
	std::map<std::string, std::vector<PolicyGroup>> said_;			// per policy
	std::map<std::string, Members> members_;				// per policy that put tasks in groups
	std::vector<uint32_t> written_gid_, written_pid_;			// per slot: lotto_task_groups as we wrote it
	size_t written_in_ = 0;							// slots written with a gid
	std::map<std::string, uint32_t> pins_;					// name -> funding
	std::map<std::string, Entry> names_;					// name -> its gid
	std::vector<bool> used_ = std::vector<bool>(LOTTO_MAX_GROUPS, false);	// gids handed out
};

} // namespace lotto
