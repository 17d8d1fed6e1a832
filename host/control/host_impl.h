// host_impl.h — the daemon's HostApi: task rows from the Backend's slot
// table, tickets through the TicketBook, policies and `lua` through the
// policy engine's PolicyApi, and every change that must survive a restart
// through a StateKeeper (the daemon's state file) before it is made.
//
// CPU% and CPU share need runtime deltas: sample() (every second on the
// event loop after start_sampler()) keeps the previous runtime of every slot
// and the draw counter, and tasks()/stats() report the last interval.
#pragma once

#include "control/host_api.h"
#include "control/user_names.h"
#include "core/backend.h"
#include "core/event_loop.h"
#include "core/group_book.h"
#include "core/policy_api.h"
#include "core/runtime_mark.h"
#include "core/ticket_book.h"

#include <map>
#include <unordered_map>

namespace lotto::control {

// What must be on disk before a change is made: each call gets the change,
// and an error (Errc::not_saved) stops it.
class StateKeeper {
public:
	virtual ~StateKeeper() = default;
	virtual Result<void> save_pins(const Pins &pins_after) = 0;
	// a policy loaded from a shell, read with `owner`'s rights (it is
	// loaded again after a restart)
	virtual Result<void> add_policy(const std::string &file, const Credentials &owner) = 0;
	virtual Result<void> remove_policy(const std::string &file) = 0;
	// the shell's group funding pins, by group name, as they will be
	virtual Result<void> save_group_pins(const std::map<std::string, uint32_t> &pins_after) = 0;
};

class HostImpl : public HostApi {
public:
	// policies: nullptr answers `unavailable`; state: nullptr saves nothing;
	// groups: nullptr names no policy group and pins no funding
	HostImpl(Backend &backend, TicketBook &book, PolicyApi *policies, StateKeeper *state, std::string version,
		 uint32_t default_tickets = LOTTO_TICKETS_DEFAULT, GroupBook *groups = nullptr);

	// Sample runtimes now and then every `interval` on `loop`. The first
	// interval's CPU figures are 0 until the second sample.
	Result<void> start_sampler(EventLoop &loop, std::chrono::milliseconds interval = std::chrono::seconds(1));
	void stop_sampler();
	// One sample (public for tests and for daemons that have their own timer).
	void sample();

	std::vector<TaskRow> tasks(const TaskQuery &q = {}) override;
	HostResult<TaskDetail> task(uint32_t pid) override;
	HostStats stats() override;
	std::vector<GroupRow> groups() override;
	HostResult<std::vector<PolicyInfo>> policies() override;
	HostResult<std::vector<PolicyError>> policy_errors() override;
	void eval(const std::string &expr, const Peer &peer, Reply<std::string> done) override;

	HostResult<Ok> pin(uint32_t pid, uint32_t tickets) override;
	HostResult<std::vector<uint32_t>> pin_matching(const std::string &pattern, uint32_t tickets) override;
	HostResult<Ok> unpin(uint32_t pid) override;
	HostResult<size_t> unpin_all() override;
	HostResult<Ok> boost(uint32_t pid, double factor, std::optional<std::chrono::milliseconds> duration) override;
	void policy_load(const std::string &file, const Peer &peer, Reply<std::string> done) override;
	HostResult<Ok> policy_unload(const std::string &name) override;
	HostResult<Ok> policy_reload(const std::string &name) override;
	HostResult<uint32_t> fund_group(const std::string &group, uint32_t funding) override;
	HostResult<Ok> unfund_group(const std::string &group) override;

private:
	TaskRow row_of(uint32_t slot, const lotto_task_stat &s);
	uint32_t tickets_of(uint32_t slot, const lotto_task_stat &s) const;
	void fill_shares(std::vector<TaskRow> &rows) const;
	HostResult<uint32_t> slot_for(uint32_t pid) const;
	HostResult<Ok> save_pins(const Pins &after);

	Backend &b_;
	TicketBook &book_;
	PolicyApi *policies_;
	StateKeeper *state_;
	GroupBook *gbook_;
	std::string version_;
	uint32_t default_tickets_;
	UserNames users_;
	Clock::time_point started_;

	EventLoop *loop_ = nullptr;
	EventLoop::Id timer_ = 0;
	// sampler state: per slot, the runtime at the last sample
	std::vector<RuntimeMark> prev_;
	std::vector<uint64_t> delta_;		// per slot, runtime over the last interval
	double interval_s_ = 0;			// length of the last interval
	uint64_t prev_draws_ = 0;
	double draws_per_s_ = 0;
	Clock::time_point last_sample_{};
	bool sampled_ = false;
};

} // namespace lotto::control
