#include "daemon/daemon.h"

#include "core/log.h"
#include "lotto_version.h"

#include <algorithm>
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
	if (server_)
		server_->stop();
	server_.reset();
	host_.reset();
	engine_.reset();
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
					if (auto r = engine_->reload(p.name); !r)
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

	policy::EngineOptions eo;
	eo.unsafe = opts_.unsafe_policies;
	eo.budget_fraction = opts_.policy_budget;
	eo.memory_cap = size_t(opts_.policy_mem_mb) << 20;
	engine_ = std::make_unique<policy::Engine>(loop_, *backend_, *book_, eo);
	if (opts_.unsafe_policies)
		spdlog::warn("--unsafe-policies: policies may use io, os, ffi, require and debug");

	if (auto r = load_policies(); !r)
		return r;
	restore_pins(saved_);

	host_ = std::make_unique<control::HostImpl>(*backend_, *book_, policy_hooks(), LOTTO_VERSION,
						    opts_.backend_cfg.default_tickets);
	if (auto r = host_->start_sampler(loop_); !r)
		return r;
	control::ServerConfig sc;
	sc.socket_path = opts_.socket_path;
	sc.admin_group = opts_.admin_group;
	sc.server_version = LOTTO_VERSION;
	server_ = std::make_unique<control::ControlServer>(loop_, *host_, sc);
	if (auto r = server_->start(); !r)
		return err("control socket " + opts_.socket_path + ": " + r.error().msg +
			   " (use --socket PATH to put it elsewhere)");

	auto poll = loop_.add_timer(std::chrono::milliseconds(backend_->poll_interval_ms()),
				    [this](uint64_t) { on_poll(); });
	if (!poll)
		return poll.error();
	// pins, boosts that expire and tasks that come and go between ticks
	auto apply = loop_.add_timer(std::chrono::milliseconds(250), [this](uint64_t) { book_->apply(); });
	if (!apply)
		return apply.error();
	book_->apply();
	save_state();

	spdlog::info("lotto-host {} running: backend {}, {} policies, control socket {}", LOTTO_VERSION,
		     backend_->name(), engine_->list().size(), opts_.socket_path);
	return {};
}

Result<void> Daemon::load_policies()
{
	std::vector<std::string> loaded;
	auto load = [&](const std::string &path, bool required) -> Result<void> {
		std::string abs = absolute(path);
		if (std::find(loaded.begin(), loaded.end(), abs) != loaded.end())
			return {};
		auto name = engine_->load(abs);
		if (!name) {
			if (required)
				return err(name.error().msg);
			spdlog::warn("policy {} from the state file did not load: {}", abs, name.error().msg);
			return {};
		}
		spdlog::info("policy {} loaded from {}", *name, abs);
		loaded.push_back(abs);
		return {};
	};
	for (auto &p : opts_.policies)
		if (auto r = load(p, true); !r)
			return r;
	// policies loaded from the REPL before a restart come back too
	for (auto &p : saved_.policies)
		if (auto r = load(p, false); !r)
			return r;
	for (auto &d : opts_.policy_dirs)
		if (auto r = engine_->watch_dir(absolute(d)); !r)
			return err("--policy-dir " + d + ": " + r.error().msg);
	return {};
}

void Daemon::restore_pins(const SavedState &saved)
{
	size_t restored = 0, gone = 0;
	for (auto [pid, tickets] : saved.pins) {
		if (book_->pin(pid, tickets))
			restored++;
		else
			gone++;
	}
	if (restored || gone)
		spdlog::info("state {}: restored {} pinned tasks ({} have exited)", state_.path(), restored, gone);
}

void Daemon::save_state()
{
	if (!state_.enabled() || !engine_ || !book_)
		return;
	SavedState s;
	for (auto &p : engine_->list())
		if (!p.path.empty())
			s.policies.push_back(p.path);
	for (auto [pid, t] : book_->pins())
		s.pins[pid] = t;
	if (auto r = state_.save(s); !r)
		spdlog::warn("state file: {}", r.error().msg);
}

static control::HostError policy_error(const Error &e)
{
	std::string m = e.msg;
	if (m.rfind("no policy named", 0) == 0 || m.rfind("no such policy", 0) == 0)
		return {control::ErrorCode::no_such_policy, m};
	return {control::ErrorCode::policy_error, m};
}

control::PolicyHooks Daemon::policy_hooks()
{
	control::PolicyHooks h;
	h.list = [this]() -> control::HostResult<std::vector<control::PolicyInfo>> {
		std::vector<control::PolicyInfo> out;
		for (auto &p : engine_->list()) {
			out.push_back(control::PolicyInfo{p.name, p.path, p.interval_ms, p.running, p.ticks,
							  p.overruns + p.timeouts, p.errors, p.last_error});
		}
		return out;
	};
	h.errors = [this]() -> control::HostResult<std::vector<control::PolicyErrorInfo>> {
		std::vector<control::PolicyErrorInfo> out;
		for (auto &e : engine_->errors())
			out.push_back({e.policy, e.path, e.message, e.when});
		return out;
	};
	h.load = [this](const std::string &file) -> control::HostResult<std::string> {
		auto r = engine_->load(absolute(file));
		if (!r)
			return policy_error(r.error());
		save_state();
		return *r;
	};
	h.unload = [this](const std::string &name) -> control::HostResult<control::Ok> {
		auto r = engine_->unload(name);
		if (!r)
			return policy_error(r.error());
		save_state();
		return control::Ok{};
	};
	h.reload = [this](const std::string &name) -> control::HostResult<control::Ok> {
		auto r = engine_->reload(name);
		if (!r)
			return policy_error(r.error());
		return control::Ok{};
	};
	h.eval = [this](const std::string &expr, bool admin) -> control::HostResult<std::string> {
		auto r = engine_->eval(expr, admin);
		if (!r)
			return control::HostError{control::ErrorCode::eval_error, r.error().msg};
		return *r;
	};
	h.tickets_changed = [this]() { save_state(); };
	return h;
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
