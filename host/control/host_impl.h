// host_impl.h — the daemon's HostApi: task rows from the Backend's slot
// table, tickets through the TicketBook, policies and `lua` through hooks the
// daemon wires to its policy engine (so this library does not depend on it).
//
// CPU% and CPU share need runtime deltas: sample() (every second on the
// event loop after start_sampler()) keeps the previous runtime of every slot
// and the draw counter, and tasks()/stats() report the last interval.
#pragma once

#include "control/host_api.h"
#include "control/user_names.h"
#include "core/backend.h"
#include "core/event_loop.h"
#include "core/runtime_mark.h"
#include "core/ticket_book.h"

#include <functional>
#include <unordered_map>

namespace lotto::control {

// Hooks into the policy engine and the state file. An empty policy hook
// answers `unavailable`.
struct PolicyHooks {
	std::function<HostResult<std::vector<PolicyInfo>>()> list;
	std::function<HostResult<std::vector<PolicyErrorInfo>>()> errors;
	std::function<void(const std::string &file, const Peer &peer, Reply<std::string> done)> load;	// -> name
	std::function<HostResult<Ok>(const std::string &name)> unload;
	std::function<HostResult<Ok>(const std::string &name)> reload;
	std::function<void(const std::string &expr, const Peer &peer, Reply<std::string> done)> eval;
	// Called with the pins as they will be, before a pin, unpin or unpin
	// all is made: an error (not_saved) stops the change. Empty: nothing
	// is saved.
	std::function<HostResult<Ok>(const Pins &pins)> save_pins;
};

class HostImpl : public HostApi {
public:
	HostImpl(Backend &backend, TicketBook &book, PolicyHooks hooks, std::string version,
		 uint32_t default_tickets = LOTTO_TICKETS_DEFAULT);

	// Sample runtimes now and then every `interval` on `loop`. The first
	// interval's CPU figures are 0 until the second sample.
	Result<void> start_sampler(EventLoop &loop, std::chrono::milliseconds interval = std::chrono::seconds(1));
	void stop_sampler();
	// One sample (public for tests and for daemons that have their own timer).
	void sample();

	std::vector<TaskRow> tasks() override;
	HostResult<TaskDetail> task(uint32_t pid) override;
	HostStats stats() override;
	HostResult<std::vector<PolicyInfo>> policies() override;
	HostResult<std::vector<PolicyErrorInfo>> policy_errors() override;
	void eval(const std::string &expr, const Peer &peer, Reply<std::string> done) override;

	HostResult<Ok> pin(uint32_t pid, uint32_t tickets) override;
	HostResult<Ok> unpin(uint32_t pid) override;
	HostResult<size_t> unpin_all() override;
	HostResult<Ok> boost(uint32_t pid, double factor, std::optional<std::chrono::milliseconds> duration) override;
	void policy_load(const std::string &file, const Peer &peer, Reply<std::string> done) override;
	HostResult<Ok> policy_unload(const std::string &name) override;
	HostResult<Ok> policy_reload(const std::string &name) override;

private:
	TaskRow row_of(uint32_t slot, const lotto_task_stat &s);
	uint32_t tickets_of(uint32_t slot, const lotto_task_stat &s) const;
	void fill_shares(std::vector<TaskRow> &rows) const;
	HostResult<uint32_t> slot_for(uint32_t pid) const;
	HostResult<Ok> save(const Pins &pins);

	Backend &b_;
	TicketBook &book_;
	PolicyHooks hooks_;
	std::string version_;
	uint32_t default_tickets_;
	UserNames users_;
	Clock::time_point started_;

	EventLoop *loop_ = nullptr;
	EventLoop::Id timer_ = 0;
	// sampler state: per slot, the runtime at the previous and last sample
	std::vector<RuntimeMark> prev_;
	std::vector<uint64_t> delta_;		// per slot, runtime over the last interval
	double interval_s_ = 0;			// length of the last interval
	uint64_t prev_draws_ = 0;
	double draws_per_s_ = 0;
	Clock::time_point last_sample_{};
	bool sampled_ = false;
};

} // namespace lotto::control
