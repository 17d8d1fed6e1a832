#include "daemon/daemon.h"

#include "core/log.h"
#include "lotto_version.h"

#include <algorithm>
#include <fmt/ranges.h>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <sys/epoll.h>
#include <sys/signalfd.h>

namespace lotto {

namespace fs = std::filesystem;

std::unique_ptr<Backend> pick_backend(const Options &o)
{
	if (o.backend == "kernel")
		return make_kernel_backend(o.backend_cfg);
	if (o.backend == "sim")
		return make_sim_backend(o.backend_cfg);
	if (kernel_has_sched_ext()) {
		spdlog::info("backend auto: this kernel has sched_ext, using the kernel backend");
		return make_kernel_backend(o.backend_cfg);
	}
	spdlog::info("backend auto: this kernel has no sched_ext, using the sim backend "
		     "(scripts/run.sh runs lotto on a sched_ext kernel in a VM)");
	return make_sim_backend(o.backend_cfg);
}

static std::string absolute(const std::string &p)
{
	std::error_code ec;
	auto a = fs::absolute(p, ec);
	return ec ? p : a.lexically_normal().string();
}

Daemon::Daemon(Options opts) : opts_(std::move(opts)), state_(opts_.state_file) {}

Daemon::~Daemon()
{
	// reverse order of start(): nobody may reach a backend that is gone
	metrics_.reset();
	if (server_)
		server_->stop();
	server_.reset();
	host_.reset();
	engine_.reset();
	groups_.reset();
	book_.reset();
	if (backend_)
		backend_->stop();
}

Result<void> Daemon::start_signals()
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, nullptr);
	signal(SIGPIPE, SIG_IGN);
	sigfd_ = Fd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!sigfd_)
		return err(std::string("signalfd: ") + strerror(errno));
	auto id = loop_.add_fd(sigfd_.get(), EPOLLIN, [this](uint32_t) {
		signalfd_siginfo si;
		while (read(sigfd_.get(), &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				spdlog::info("SIGHUP: reloading every policy from its file");
				for (auto &p : engine_->list())
					if (auto r = engine_->reload(p.version ? p.name : p.path); !r)
						spdlog::warn("{}: {}", p.name, r.error().msg);
				continue;
			}
			spdlog::info("{}: detaching", strsignal(si.ssi_signo));
			loop_.stop();
		}
	});
	if (!id)
		return id.error();
	return {};
}

Result<void> Daemon::start()
{
	if (!loop_.valid())
		return err(std::string("epoll_create1: ") + strerror(errno));
	if (auto r = start_signals(); !r)
		return r;

	// checked before anything starts, so that its error is about the group
	if (!opts_.admin_group.empty())
		if (auto g = control::resolve_admin_group(opts_.admin_group); !g)
			return g.error();
	if (state_.enabled()) {
		auto saved = state_.load();
		if (!saved)
			return saved.error();
		saved_ = std::move(*saved);
	}

	backend_ = pick_backend(opts_);
	if (auto r = backend_->start(); !r)
		return r;
	book_ = std::make_unique<TicketBook>(*backend_, opts_.backend_cfg.default_tickets);
	groups_ = std::make_unique<GroupBook>(*backend_);

	policy::EngineOptions eo;
	eo.unsafe = opts_.unsafe_policies;
	eo.budget_fraction = opts_.policy_budget;
	eo.memory_cap = size_t(opts_.policy_mem_mb) << 20;
	engine_ = std::make_unique<policy::Engine>(loop_, *backend_, *book_, eo);
	engine_->set_group_book(groups_.get());
	if (opts_.unsafe_policies)
		spdlog::warn("--unsafe-policies: policies may use io, os, ffi, require and debug");

	if (auto r = load_policies(); !r)
		return r;
	if (loop_.stopping())
		return {};	// SIGINT/SIGTERM while starting: run() returns at once, exit 0
	restore_pins(saved_);

	host_ = std::make_unique<control::HostImpl>(*backend_, *book_, engine_.get(),
						    static_cast<control::StateKeeper *>(this), LOTTO_VERSION,
						    opts_.backend_cfg.default_tickets, groups_.get());
	if (auto r = host_->start_sampler(loop_); !r)
		return r;
	control::ServerConfig sc;
	sc.socket_path = opts_.socket_path;
	sc.admin_group = opts_.admin_group;
	sc.server_version = LOTTO_VERSION;
	sc.max_clients = opts_.max_clients;
	sc.max_clients_per_user = opts_.max_clients_per_user;
	sc.idle_timeout = std::chrono::milliseconds(uint64_t(opts_.client_timeout_s * 1000));
	server_ = std::make_unique<control::ControlServer>(loop_, *host_, sc);
	if (auto r = server_->start(); !r)
		return err("control socket " + opts_.socket_path + ": " + r.error().msg +
			   " (use --socket PATH to put it elsewhere)");

	if (!opts_.metrics.empty()) {
		control::MetricsConfig mc;
		mc.address = opts_.metrics;
		mc.top_tasks = opts_.metrics_top;
		metrics_ = std::make_unique<control::MetricsServer>(loop_, *host_, mc);
		if (auto r = metrics_->start(); !r)
			return r;
	}

	auto poll = loop_.add_timer(std::chrono::milliseconds(backend_->poll_interval_ms()),
				    [this](uint64_t) { on_poll(); });
	if (!poll)
		return poll.error();
	// pins, boosts that expire and tasks that come and go between ticks
	auto apply = loop_.add_timer(std::chrono::milliseconds(250), [this](uint64_t) {
		book_->apply();
		groups_->apply();
	});
	if (!apply)
		return apply.error();
	book_->apply();
	groups_->apply();
	if (auto r = save_state(); !r)
		spdlog::warn("{}: pins and policy loads from lotto-shell are refused until it can be", r.error().msg);

	spdlog::info("lotto-host {} running: backend {}, {} policies, control socket {}", LOTTO_VERSION,
		     backend_->name(), engine_->list().size(), opts_.socket_path);
	return {};
}

Result<void> Daemon::load_policies()
{
	std::vector<std::string> loaded;
	for (auto &p : opts_.policies) {
		std::string abs = absolute(p);
		if (std::find(loaded.begin(), loaded.end(), abs) != loaded.end())
			continue;
		auto name = engine_->load(abs);
		if (!name)
			return err(name.error().msg);
		loaded.push_back(abs);
		loop_.run_once(0);	// a SIGTERM meanwhile is heard
		if (loop_.stopping())
			return {};
	}
	// policies loaded from the REPL before a restart come back, read with
	// the rights of whoever loaded them; one that fails stays listed (and in
	// the state file) with its error until it loads or is unloaded
	for (auto &sp : saved_.policies) {
		if (std::find(loaded.begin(), loaded.end(), sp.file) != loaded.end())
			continue;
		loaded.push_back(sp.file);
		shell_policies_.push_back(sp);
		auto name = engine_->load(sp.file, Credentials::of_user(sp.uid, sp.gid), true);
		if (!name)
			spdlog::warn("policy {} from the state file did not load (it stays listed): {}", sp.file,
				     name.error().msg);
		loop_.run_once(0);
		if (loop_.stopping())
			return {};
	}
	for (auto &d : opts_.policy_dirs)
		if (auto r = engine_->watch_dir(absolute(d)); !r)
			return err("--policy-dir " + d + ": " + r.error().msg);
	return {};
}

void Daemon::restore_pins(const SavedState &saved)
{
	size_t restored = 0;
	std::vector<uint32_t> gone;
	for (auto [pid, tickets] : saved.pins) {
		// (the values were checked when the file was read: only a pid
		// that is not a lotto task any more fails here)
		if (book_->pin(pid, tickets))
			restored++;
		else
			gone.push_back(pid);
	}
	if (restored || !gone.empty())
		spdlog::info("state {}: restored {} pinned tasks; {} have exited{}{}", state_.path(), restored, gone.size(),
			     gone.empty() ? "" : ": ", fmt::join(gone, " "));
	// group pins hold by name, for the group a policy makes now or later
	size_t groups = 0;
	for (auto &[name, funding] : saved.group_pins) {
		if (auto r = groups_->pin(name, funding); r)
			groups++;
		else
			spdlog::warn("state {}: group pin {} = {} not restored: {}", state_.path(), name, funding,
				     r.error().msg);
	}
	if (groups)
		spdlog::info("state {}: restored the funding of {} policy groups", state_.path(), groups);
}

Result<void> Daemon::save_state(const std::map<uint32_t, uint32_t> *pins, const std::vector<SavedPolicy> *policies,
			       const std::map<std::string, uint32_t> *group_pins)
{
	if (!state_.enabled() || !book_)
		return {};
	SavedState s;
	s.policies = policies ? *policies : shell_policies_;
	if (pins)
		s.pins = *pins;
	else
		for (auto [pid, t] : book_->pins())
			s.pins[pid] = t;
	s.group_pins = group_pins ? *group_pins : groups_ ? groups_->pins() : std::map<std::string, uint32_t>{};
	return state_.save(s);
}

Result<void> Daemon::save_group_pins(const std::map<std::string, uint32_t> &pins_after)
{
	return save_state(nullptr, nullptr, &pins_after);
}

Result<void> Daemon::save_pins(const control::Pins &pins_after)
{
	std::map<uint32_t, uint32_t> sorted(pins_after.begin(), pins_after.end());
	return save_state(&sorted);
}

Result<void> Daemon::add_policy(const std::string &file, const Credentials &owner)
{
	auto policies = shell_policies_;
	std::erase_if(policies, [&](auto &x) { return x.file == file; });
	policies.push_back(SavedPolicy{file, owner.uid, owner.gid});
	if (auto s = save_state(nullptr, &policies); !s)
		return s;
	shell_policies_ = std::move(policies);
	return {};
}

Result<void> Daemon::remove_policy(const std::string &file)
{
	auto policies = shell_policies_;
	if (!std::erase_if(policies, [&](auto &x) { return x.file == file; }))
		return {};
	if (auto s = save_state(nullptr, &policies); !s)
		return s;
	shell_policies_ = std::move(policies);
	return {};
}

void Daemon::on_poll()
{
	backend_->poll();
	if (auto ex = backend_->exit_info()) {
		spdlog::error("the kernel stopped lotto: {}{}{}", ex->reason, ex->msg.empty() ? "" : ": ", ex->msg);
		rc_ = 1;
		loop_.stop();
	}
}

int Daemon::run()
{
	loop_.run();
	return rc_;
}

} // namespace lotto
