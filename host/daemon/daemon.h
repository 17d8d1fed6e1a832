// daemon.h — lotto-host assembled: one event loop driving the backend, the
// policy engine, the ticket book, the control socket and the state file.
#pragma once

#include "control/host_impl.h"
#include "control/metrics_server.h"
#include "control/server.h"
#include "core/backend.h"
#include "core/event_loop.h"
#include "core/group_book.h"
#include "core/ticket_book.h"
#include "daemon/options.h"
#include "daemon/state_file.h"
#include "policy/engine.h"

#include <memory>

namespace lotto {

// The daemon is the control layer's StateKeeper: pins and the policies
// loaded from a shell go to the state file before they are made.
class Daemon : private control::StateKeeper {
public:
	explicit Daemon(Options opts);
	~Daemon() override;

	// Start everything; on error nothing is left attached.
	Result<void> start();
	// Run until SIGINT/SIGTERM or until the kernel stops lotto. Returns the
	// process exit status.
	int run();

private:
	Result<void> start_signals();
	Result<void> load_policies();
	void restore_pins(const SavedState &saved);
	// write the state as it is, or with `pins` / `policies` / `group_pins`
	// as they will be; Errc::not_saved when the file cannot be written
	Result<void> save_state(const std::map<uint32_t, uint32_t> *pins = nullptr,
				const std::vector<SavedPolicy> *policies = nullptr,
				const std::map<std::string, uint32_t> *group_pins = nullptr);
	Result<void> save_group_pins(const std::map<std::string, uint32_t> &pins_after) override;
	Result<void> save_pins(const control::Pins &pins_after) override;
	Result<void> add_policy(const std::string &file, const Credentials &owner) override;
	Result<void> remove_policy(const std::string &file) override;
	void on_poll();

	Options opts_;
	EventLoop loop_;
	Fd sigfd_;
	std::unique_ptr<Backend> backend_;
	std::unique_ptr<TicketBook> book_;
	std::unique_ptr<GroupBook> groups_;
	std::unique_ptr<policy::Engine> engine_;
	std::unique_ptr<control::HostImpl> host_;
	std::unique_ptr<control::ControlServer> server_;
	std::unique_ptr<control::MetricsServer> metrics_;
	StateFile state_;
	SavedState saved_;
	std::vector<SavedPolicy> shell_policies_;	// loaded from lotto-shell (or restored): in the state file
	int rc_ = 0;
};

std::unique_ptr<Backend> pick_backend(const Options &o);

} // namespace lotto
