// ticket_book.h — who wants which tickets for which task, and what is in force.
//
// Sources, strongest first:
//   1. a pin from the REPL (`tickets PID N`): overrides every policy until unpinned
//   2. the policies, in load order: each starts from the tickets the policies
//      before it left (or the tickets in force) and the last one with an
//      opinion about a task wins
//   3. nothing: the core's --default-tickets
// A boost (`boost PID xF for D`) multiplies whatever 1-3 give until it expires.
// apply() writes only slots whose effective tickets changed into the backend's
// ctl table (one 64-bit store each; no syscalls).
#pragma once

#include "core/backend.h"
#include "core/ticket_change.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lotto {

using Clock = std::chrono::steady_clock;

struct Boost {
	double factor;
	std::optional<Clock::time_point> until;	// none: until removed
};

class TicketBook {
public:
	TicketBook(Backend &b, uint32_t default_tickets);

	// ---- policies (bulk, per tick; n = backend.slots_hw() at tick time)
	// Policy order = load order. Unknown names are appended.
	void set_policy_order(const std::vector<std::string> &names);
	void drop_policy(const std::string &name);
	// dst[i] = the tickets slot i has after the policies before `name`
	// (or the tickets in force when none of them said anything)
	void fill_input(const std::string &name, uint32_t *dst, uint32_t n) const;
	// out[i] != 0: policy `name` wants out[i] tickets for the task now in slot i
	// (values must already be validated). 0: no opinion.
	void policy_output(const std::string &name, const uint32_t *out, uint32_t n);

	// ---- REPL
	Result<void> pin(uint32_t pid, uint32_t tickets);
	// pids the caller has just found in the task table (not looked up
	// again: a pattern pin of many tasks is one pass); tickets valid
	void pin_found(const std::vector<uint32_t> &pids, uint32_t tickets);
	Result<void> unpin(uint32_t pid);
	size_t unpin_all();
	Result<void> boost(uint32_t pid, double factor, std::optional<Clock::duration> d);
	const std::unordered_map<uint32_t, uint32_t> &pins() const { return pins_; }
	const std::unordered_map<uint32_t, Boost> &boosts() const { return boosts_; }

	// ---- inspection
	uint32_t effective(uint32_t slot) const;	// what apply() wrote last (0: never)
	std::string source(uint32_t slot) const;	// "pin", "policy NAME", "default"
	const std::deque<TicketChange> *history(uint32_t pid) const;
	std::optional<uint32_t> slot_of(uint32_t pid) const;	// linear scan

	// Recompute effective tickets and write changed slots to ctl; expire
	// boosts; forget pins/boosts/history of threads that are gone.
	// Returns how many slots were written.
	size_t apply();

private:
	struct PolicyOut {
		std::string name;
		std::vector<uint32_t> tickets;	// per slot, 0 = no opinion
		std::vector<uint32_t> pids;	// the pid each value was meant for
	};
	void record(uint32_t pid, uint32_t tickets, std::string source);
	uint32_t policy_value(uint32_t slot, uint32_t pid, size_t upto, std::string *who) const;

	Backend &b_;
	uint32_t default_;
	std::vector<PolicyOut> policies_;	// in order
	std::vector<uint32_t> written_;		// per slot: last value written
	std::vector<uint32_t> written_pid_;	// per slot: the pid it was written for
	std::unordered_map<uint32_t, uint32_t> pins_;
	std::unordered_map<uint32_t, Boost> boosts_;
	std::unordered_map<uint32_t, std::deque<TicketChange>> history_;
};

} // namespace lotto
