// engine.cpp — policy lifecycle and ticks on the event loop (see engine.h;
// the state it keeps: engine_state.h; `lua`: engine_eval.cpp).
#include "policy/engine.h"

#include "core/clock.h"
#include "core/regular_file.h"
#include "policy/engine_state.h"
#include "policy/watcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <poll.h>
#include <sys/epoll.h>

namespace lotto::policy {

namespace fs = std::filesystem;

namespace {

double us_since(SteadyClock::time_point t)
{
	return std::chrono::duration<double, std::micro>(SteadyClock::now() - t).count();
}

std::string stem(const std::string &path)
{
	return fs::path(path).stem().string();
}

std::string absolute_path(const std::string &path)
{
	std::error_code ec;
	auto a = fs::absolute(path, ec);
	return (ec ? fs::path(path) : a).lexically_normal().string();
}

} // namespace

std::string Engine::Policy::label() const
{
	return name.empty() ? stem(path) : name;
}

// ------------------------------------------------------------------ setup

Engine::Engine(EventLoop &loop, Backend &backend, TicketBook &book, EngineOptions opts)
	: loop_(loop), backend_(backend), book_(book), opts_(opts)
{
	opts_.budget_limit = std::min(opts_.budget_limit, limits::kMaxBudget);
	watcher_ = std::make_unique<Watcher>(loop_, opts_.debounce,
					     [this](const std::string &path, bool exists) { file_event(path, exists); });
}

Engine::~Engine()
{
	while (!policies_.empty())
		destroy(policies_.back().get());
	if (eval_timer_)
		loop_.remove(eval_timer_);
	completions_.clear();	// whoever waited is being torn down too
}

void Engine::set_after_tick(std::function<void(const TickReport &)> hook)
{
	after_tick_ = std::move(hook);
}

Engine::Policy *Engine::find_name(const std::string &name) const
{
	for (auto &p : policies_)
		if (p->version && p->name == name)
			return p.get();
	return nullptr;
}

// a loaded policy by name, or one that is listed but never loaded by its
// label (its file's stem) or path
Engine::Policy *Engine::find_listed(const std::string &name) const
{
	if (Policy *p = find_name(name))
		return p;
	for (auto &p : policies_)
		if (!p->version && (p->label() == name || p->path == name))
			return p.get();
	return nullptr;
}

Engine::Policy *Engine::find_path(const std::string &path) const
{
	for (auto &p : policies_)
		if (p->path == path)
			return p.get();
	return nullptr;
}

Result<Engine::Policy *> Engine::create(const std::string &path, bool from_dir)
{
	auto shm = SharedRegion::shared(sizeof(PolicyShm));
	if (!shm)
		return shm.error();
	auto p = std::make_unique<Policy>();
	p->path = path;
	p->from_dir = from_dir;
	p->keep_on_failure = from_dir;
	p->owner = Credentials::of_process();
	p->shm = std::move(*shm);
	policies_.push_back(std::move(p));
	return policies_.back().get();
}

void Engine::destroy(Policy *p)
{
	if (p->timer)
		loop_.remove(p->timer);
	p->busy = nullptr;
	std::string why = "policy " + p->label() + " was unloaded";
	for (auto *w : {p->cand.get(), p->cur.get()})
		if (w)
			abandon_evals(*p, *w, why);
	for (auto &e : p->evals)
		complete(e.done, err(why));
	p->evals.clear();
	if (p->on_loaded)
		complete(p->on_loaded, err(p->path + ": unloaded before its first tick"));
	p->cand.reset();
	p->cur.reset();
	if (watcher_)
		watcher_->unwatch_file(p->path);
	if (p->version) {
		book_.drop_policy(p->name);
		if (groups_)
			groups_->drop_policy(p->name);
	}
	std::erase_if(policies_, [&](auto &x) { return x.get() == p; });
	sync_order();
}

void Engine::sync_order()
{
	std::vector<std::string> names;
	for (auto &p : policies_)
		if (p->version)
			names.push_back(p->name);
	book_.set_policy_order(names);
	if (groups_)
		groups_->set_policy_order(names);
}

void Engine::set_group_book(GroupBook *groups)
{
	groups_ = groups;
	sync_order();
}

// The groups a good tick named (policy_shm.h), checked: the worker is not
// trusted, the prelude's checks are not relied on.
void Engine::groups_output(Policy &p, uint32_t n)
{
	if (!groups_)
		return;
	const PolicyShm *m = p.mem();
	uint32_t ng = __atomic_load_n(&m->ngroups, __ATOMIC_RELAXED);
	auto bad = [&](const std::string &why) {
		record(p, ErrorKind::Tick, p.path + ": the policy's groups were refused: " + why);
		spdlog::error("policy {}: its groups were refused, the last good ones stay: {}", p.name, why);
	};
	if (ng > kMaxPolicyGroups)
		return bad(fmt::format("{} groups (at most {})", ng, kMaxPolicyGroups));
	std::vector<GroupBook::PolicyGroup> gs;
	gs.reserve(ng);
	for (uint32_t i = 0; i < ng; i++) {
		PolicyGroupOut o;
		memcpy(&o, &m->groups[i], sizeof(o));
		if (o.len > LOTTO_GROUP_NAME_MAX)
			return bad("a group name is too long");
		GroupBook::PolicyGroup g{std::string(o.name, o.len), o.funding, o.flags};
		if (auto r = check_group_name(g.name); !r)
			return bad(r.error().msg);
		if (g.funding && (g.funding < LOTTO_FUNDING_MIN || g.funding > LOTTO_FUNDING_MAX))
			return bad(fmt::format("funding {} for group {}", g.funding, g.name));
		if (g.flags & ~LOTTO_GROUP_F_ALL)
			return bad(fmt::format("flags {} for group {}", g.flags, g.name));
		gs.push_back(std::move(g));
	}
	std::vector<uint16_t> member(m->group_out, m->group_out + n);
	bool any = false;
	for (auto &x : member) {
		if (x != 0 && x != kNoGroup && x > ng)
			return bad(fmt::format("a task put in group #{} of {}", x, ng));
		any = any || x;
	}
	if (gs.empty() && !any)
		member.clear();
	if (auto r = groups_->policy_groups(p.name, gs, member.data(), uint32_t(member.size())); !r) {
		record(p, ErrorKind::Tick, p.path + ": " + r.error().msg);
		spdlog::error("policy {}: its groups were refused, the last good ones stay: {}", p.name, r.error().msg);
	}
}

double Engine::budget_for(double cfg_ms, uint32_t interval_ms) const
{
	double limit = double(opts_.budget_limit.count());
	double b = cfg_ms > 0 ? cfg_ms : double(interval_ms) * opts_.budget_fraction;
	return std::clamp(b, 1.0, limit);
}

double Engine::budget_ms(const Policy &p) const
{
	return budget_for(p.budget_cfg, p.interval_ms);
}

void Engine::record(Policy &p, ErrorKind kind, std::string message, std::string traceback)
{
	p.errors++;
	p.last_error = message;
	PolicyError e;
	e.policy = p.label();
	e.path = p.path;
	e.kind = kind;
	e.message = std::move(message);
	e.traceback = std::move(traceback);
	e.when = std::chrono::system_clock::now();
	errors_.push_back(std::move(e));
	while (errors_.size() > opts_.max_errors_kept)
		errors_.pop_front();
}

void Engine::forward_logs(const Policy &p, const std::vector<LogLine> &logs, uint32_t dropped)
{
	static const spdlog::level::level_enum lv[] = {spdlog::level::trace, spdlog::level::debug,
							spdlog::level::info, spdlog::level::warn,
							spdlog::level::err};
	for (auto &l : logs)
		spdlog::log(lv[std::min<uint32_t>(l.level, 4)], "policy {}: {}", p.label(), l.text);
	if (dropped)
		spdlog::warn("policy {}: {} more log lines dropped (at most {} per tick)", p.label(), dropped,
			     kMaxLogLines);
}

void Engine::complete(Completion &done, Result<std::string> r)
{
	if (!done)
		return;
	completions_.push_back([d = std::move(done), r = std::move(r)]() mutable { d(std::move(r)); });
	done = nullptr;
}

void Engine::run_completions()
{
	if (completing_)
		return;	// the outer call runs what this one would
	completing_ = true;
	while (!completions_.empty()) {
		auto batch = std::move(completions_);
		completions_.clear();
		for (auto &f : batch)
			f();
	}
	completing_ = false;
}

// The policy file, read with the rights of whoever loaded the policy. A
// reload (check_owner) refuses a file whose owner is not the one read at
// the load: a symlink swapped in under a watched path must not make the
// host read, and quote in its errors, a file that owner could not.
Result<std::string> Engine::read_source(Policy &p, bool check_owner)
{
	ReadRules rules;
	rules.max_bytes = limits::kMaxPolicyFile;
	rules.allow_empty = false;
	rules.as = &p.owner;
	rules.what = "policy file";
	auto f = read_regular_file(p.path, rules);
	if (!f)
		return f.error();
	if (check_owner && p.file_owner && *p.file_owner != f->owner)
		return err(Errc::permission,
			   fmt::format("{}: the file's owner changed from uid {} to uid {} since it was loaded (replaced, "
				       "or a symlink swapped in?); not reloaded: `policy unload {}`, then `policy load` "
				       "it again to accept it",
				       p.path, *p.file_owner, f->owner, p.label()));
	p.file_owner = f->owner;
	return std::move(f->text);
}

// ------------------------------------------------------------------ workers

Result<Engine::Worker *> Engine::spawn(Policy &p, const std::string &source, bool candidate)
{
	WorkerSpec spec;
	spec.path = p.path;
	spec.source = source;
	spec.default_name = stem(p.path);
	spec.stats = backend_.tasks();
	spec.shm = p.mem();
	spec.ncpus = backend_.nr_cpus();
	spec.memory_cap = opts_.memory_cap;
	spec.unsafe = opts_.unsafe;
	for (auto &q : policies_)
		if (q.get() != &p)
			spec.unmap.emplace_back(q->shm.data(), q->shm.size());
	spec.readonly.emplace_back(const_cast<lotto_task_stat *>(backend_.tasks()),
				   size_t(LOTTO_MAX_TASKS) * sizeof(lotto_task_stat));
	spec.readonly.emplace_back(backend_.ctl(), size_t(LOTTO_MAX_TASKS) * sizeof(lotto_ctl));
	if (!spec.stats)
		return err("policy engine: the backend has no task table (not started?)");

	auto w = std::make_unique<Worker>();
	w->serial = next_serial_++;
	w->candidate = candidate;
	w->loop = &loop_;
	w->source = source;
	auto proc = WorkerProc::spawn(spec);
	if (!proc)
		return proc.error();
	w->proc = std::move(*proc);
	uint64_t serial = w->serial;
	auto id = loop_.add_fd(w->proc->fd(), EPOLLIN,
			       [this, serial](uint32_t) { on_worker_event(serial, WorkerEvent::Readable); });
	if (!id)
		return id.error();
	w->fd_id = *id;
	id = loop_.add_oneshot([this, serial](uint64_t) { on_worker_event(serial, WorkerEvent::DeadlinePassed); });
	if (!id)
		return id.error();
	w->deadline_id = *id;
	w->req = Worker::Req::Init;
	w->arm(double(opts_.init_budget.count()));

	Worker *raw = w.get();
	if (candidate)
		p.cand = std::move(w);
	else
		p.cur = std::move(w);
	return raw;
}

void Engine::kill_worker(Policy &p, Worker *w)
{
	if (!w)
		return;
	if (p.busy == w)
		p.busy = nullptr;
	abandon_evals(p, *w, "policy " + p.label() + ": its worker was stopped during the evaluation (" +
				     (p.last_error.empty() ? std::string("restarted") : p.last_error) + "); try again");
	if (p.cand.get() == w)
		p.cand.reset();
	else if (p.cur.get() == w)
		p.cur.reset();
}

// Wait (blocking, bounded by the request's deadline) until the request in
// flight on worker `w` is answered or the worker is gone.
bool Engine::wait_sync(Policy &p, Worker &w)
{
	uint64_t serial = w.serial;
	for (;;) {
		Worker *x = p.by_serial(serial);
		if (!x || x->req == Worker::Req::None)
			return x != nullptr;
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(x->deadline_at - SteadyClock::now());
		if (left.count() < 0) {
			on_worker_event(serial, WorkerEvent::DeadlinePassed);
			continue;
		}
		pollfd pfd{x->proc->fd(), POLLIN, 0};
		int r = poll(&pfd, 1, int(left.count()) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		on_worker_event(serial, r == 0 ? WorkerEvent::DeadlinePassed : WorkerEvent::Readable);
	}
}

// Wait until done(), on the policy workers only (for the synchronous load
// and eval): every worker that owes an answer is polled until its deadline.
void Engine::wait_until(const std::function<bool()> &done)
{
	for (;;) {
		run_completions();
		if (done())
			return;
		std::vector<pollfd> fds;
		std::vector<uint64_t> serials;
		auto next = SteadyClock::time_point::max();
		for (auto &p : policies_) {
			for (auto &e : p->evals)
				next = std::min(next, e.give_up);
			for (Worker *w : {p->cur.get(), p->cand.get()}) {
				if (!w || (w->req == Worker::Req::None && !w->ro_eval))
					continue;
				fds.push_back(pollfd{w->proc->fd(), POLLIN, 0});
				serials.push_back(w->serial);
				if (w->req != Worker::Req::None)
					next = std::min(next, w->deadline_at);
				if (w->ro_eval)
					next = std::min(next, w->ro_eval->give_up);
			}
		}
		if (next == SteadyClock::time_point::max())
			return;	// nothing anyone waits for: done() cannot change
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - SteadyClock::now()).count();
		int r = poll(fds.data(), fds.size(), int(std::max<long>(0, left)) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		for (size_t i = 0; r > 0 && i < fds.size(); i++)
			if (fds[i].revents)
				on_worker_event(serials[i], WorkerEvent::Readable);
		auto now = SteadyClock::now();
		for (size_t i = 0; i < serials.size(); i++)
			for (auto &p : policies_)
				if (Worker *w = p->by_serial(serials[i]); w && w->req != Worker::Req::None && now >= w->deadline_at)
					on_worker_event(serials[i], WorkerEvent::DeadlinePassed);
		expire_evals();
	}
}

// the worker with this serial and its policy (nullptr: it is gone)
Engine::Worker *Engine::find_worker(uint64_t serial, Policy **p) const
{
	for (auto &q : policies_)
		if (Worker *w = q->by_serial(serial)) {
			*p = q.get();
			return w;
		}
	return nullptr;
}

void Engine::on_worker_event(uint64_t serial, WorkerEvent ev)
{
	Policy *p = nullptr;
	Worker *w = find_worker(serial, &p);
	if (!w)
		return;
	bool timeout = ev != WorkerEvent::Readable;
	if (timeout && w->req == Worker::Req::None)
		return;

	// every message that is there (a reply that is already there wins over
	// its deadline), then the deadline if the request is still open
	for (;;) {
		w = find_worker(serial, &p);	// a handler may have ended it, or its policy
		if (!w)
			break;
		auto m = recv_msg(w->proc->fd(), true);
		if (!m) {
			if (timeout && w->req != Worker::Req::None)
				handle_failure(*p, *w, ErrorKind::Timeout, "");
			break;
		}
		if (m->empty()) {
			handle_failure(*p, *w, ErrorKind::Crash, "");
			break;
		}
		auto type = msg_type(*m);
		bool handled = false;
		if (type == MsgType::EvalDone) {
			if (auto r = decode_eval_done(*m)) {
				handle_eval_done(*p, *w, std::move(*r));
				handled = true;
			}
		} else if (type == MsgType::Ready && w->req == Worker::Req::Init) {
			if (auto r = decode_ready(*m)) {
				w->disarm();
				handle_ready(*p, *w, std::move(*r));
				handled = true;
			}
		} else if (type == MsgType::TickDone && w->req == Worker::Req::Tick) {
			if (auto r = decode_tick_done(*m)) {
				w->disarm();
				handle_tick_done(*p, *w, std::move(*r));
				handled = true;
			}
		}
		if (!handled) {
			handle_failure(*p, *w, ErrorKind::Crash, "sent a message out of turn");
			break;
		}
		if (!timeout)
			break;	// level-triggered: more comes as another event
	}
	run_completions();
}

// ------------------------------------------------------------------ init

void Engine::handle_ready(Policy &p, Worker &w, ReadyMsg m)
{
	w.req = Worker::Req::None;
	if (p.busy == &w)
		p.busy = nullptr;
	forward_logs(p, m.logs, m.logs_dropped);
	if (!m.ok) {
		record(p, m.error.kind, m.error.message, m.error.traceback);
		if (w.candidate)
			spdlog::error("policy {}: reload failed, version {} keeps running: {}", p.label(), p.version,
				      m.error.message);
		else if (p.version)
			spdlog::error("policy {}: restarting its worker failed (retried at the next tick): {}",
				      p.label(), m.error.message);
		else
			spdlog::error("policy {}: {}", p.label(), m.error.message);
		kill_worker(p, &w);
		if (!p.version)
			load_failed(p);
		return;
	}
	w.ready = true;
	w.info = std::move(m);
	if (w.candidate) {
		if (w.info.name != p.name && name_taken(w.info.name, &p)) {
			std::string msg = p.path + ": policy name \"" + w.info.name + "\" is already used by another policy";
			record(p, ErrorKind::Policy, msg);
			spdlog::error("policy {}: reload failed, version {} keeps running: {}", p.label(), p.version, msg);
			kill_worker(p, &w);
			return;
		}
		spdlog::info("policy {}: new version compiled and initialised; it takes over at the next tick",
			     p.label());
		return;
	}
	if (!p.version) {
		first_tick(p, w);
		return;
	}
	spdlog::info("policy {}: fresh worker (pid {}) ready", p.label(), w.proc->pid());
	pump_evals(p);
}

bool Engine::name_taken(const std::string &name, const Policy *except) const
{
	for (auto &q : policies_)
		if (q.get() != except && !q->name.empty() && q->name == name)
			return true;
	return false;
}

// Compiled and initialised: the load's first tick decides.
void Engine::first_tick(Policy &p, Worker &w)
{
	if (name_taken(w.info.name, &p)) {
		std::string other;
		for (auto &q : policies_)
			if (q.get() != &p && q->name == w.info.name)
				other = q->path;
		std::string msg = p.path + ": policy name \"" + w.info.name + "\" is already used by " + other;
		record(p, ErrorKind::Policy, msg);
		spdlog::error("policy {}: {}", p.label(), msg);
		kill_worker(p, &w);
		load_failed(p);
		return;
	}
	p.name = w.info.name;
	p.interval_ms = w.info.interval_ms;
	p.budget_cfg = w.info.budget_ms;
	p.description = w.info.description;
	p.source = w.source;
	start_tick(p, w, ++p.sched);
}

// The first tick succeeded: the policy is loaded.
void Engine::activate(Policy &p)
{
	p.version = 1;
	p.loaded_at = std::chrono::system_clock::now();
	p.deleted = false;
	sync_order();
	if (opts_.timers) {
		Policy *pp = &p;
		auto t = loop_.add_timer(std::chrono::milliseconds(p.interval_ms),
					 [this, pp](uint64_t missed) { on_timer(*pp, missed); });
		if (t)
			p.timer = *t;
		else
			spdlog::error("policy {}: no timer: {}", p.name, t.error().msg);
	}
	if (auto r = watcher_->watch_file(p.path); !r)
		spdlog::warn("policy {}: {} (changes to the file will not reload it)", p.name, r.error().msg);
	spdlog::info("policy {} loaded from {}: tick every {} ms, budget {:.1f} ms", p.name, p.path, p.interval_ms,
		     budget_ms(p));
}

// A load that did not make it (file, compile, init, first tick): the
// policy is dropped, or kept listed with its error (keep_on_failure) and
// loaded when its file is saved again.
void Engine::load_failed(Policy &p, std::optional<Error> e)
{
	Completion done = std::move(p.on_loaded);
	p.on_loaded = nullptr;
	Error why = e ? *e : err(p.last_error.empty() ? p.path + ": failed to load" : p.last_error);
	if (p.keep_on_failure) {
		kill_worker(p, p.cur.get());
		kill_worker(p, p.cand.get());
		p.name.clear();
		if (auto r = watcher_->watch_file(p.path); !r)
			spdlog::warn("policy {}: {}", p.label(), r.error().msg);
	} else {
		destroy(&p);
	}
	complete(done, why);
}

void Engine::promote(Policy &p)
{
	std::string old_name = p.name;
	uint32_t old_interval = p.interval_ms;
	if (p.busy == p.cur.get())
		p.busy = nullptr;
	if (p.cur)
		abandon_evals(p, *p.cur, "policy " + p.name + " was reloaded during the evaluation; try again");
	p.cur = std::move(p.cand);	// the old worker is killed here
	Worker &w = *p.cur;
	w.candidate = false;
	p.name = w.info.name;
	p.interval_ms = w.info.interval_ms;
	p.budget_cfg = w.info.budget_ms;
	p.description = w.info.description;
	p.source = w.source;
	p.version++;
	p.loaded_at = std::chrono::system_clock::now();
	if (p.name != old_name) {
		book_.drop_policy(old_name);
		if (groups_)
			groups_->drop_policy(old_name);
		spdlog::info("policy {} is now called {}", old_name, p.name);
	}
	sync_order();
	if (p.timer && p.interval_ms != old_interval)
		(void)loop_.set_timer_period(p.timer, std::chrono::milliseconds(p.interval_ms));
	spdlog::info("policy {}: version {} from {} took over (tick every {} ms)", p.name, p.version, p.path,
		     p.interval_ms);
}

// ------------------------------------------------------------------ ticks

void Engine::on_timer(Policy &p, uint64_t missed)
{
	struct Flush {
		Engine *e;
		~Flush() { e->run_completions(); }
	} flush{this};
	p.sched += 1 + missed;
	if (missed) {
		p.overruns += missed;
		spdlog::warn("policy {}: {} tick(s) skipped: the host was late", p.name, missed);
	}
	if (p.busy) {
		p.overruns++;
		spdlog::warn("policy {}: tick skipped: the previous request is still running", p.name);
		return;
	}
	Worker *w = nullptr;
	if (p.cand && p.cand->ready)
		w = p.cand.get();
	else if (p.cur && p.cur->ready)
		w = p.cur.get();
	if (!w) {
		p.overruns++;
		if (!p.cur) {
			spdlog::warn("policy {}: tick skipped: starting a fresh worker", p.name);
			if (auto r = spawn(p, p.source, false); !r)
				record(p, ErrorKind::Internal, p.path + ": " + r.error().msg);
		} else {
			spdlog::warn("policy {}: tick skipped: its worker is still starting", p.name);
		}
		return;
	}
	start_tick(p, *w, p.sched);
}

void Engine::start_tick(Policy &p, Worker &w, uint64_t index)
{
	auto t0 = SteadyClock::now();
	uint32_t n = std::min<uint32_t>(backend_.slots_hw(), LOTTO_MAX_TASKS);
	book_.fill_input(p.name, p.mem()->input, n);
	w.fill_us = us_since(t0);
	TickMsg m;
	m.slots_hw = n;
	m.ncpus = backend_.nr_cpus();
	m.prev_idx = p.prev_idx;
	m.prev_valid = p.prev_valid;
	m.now = clock_s(CLOCK_MONOTONIC);
	m.wall = clock_s(CLOCK_REALTIME);
	m.prev_now = p.prev_now;
	m.tick_no = ++w.attempts;
	w.req = Worker::Req::Tick;
	w.tick_index = index;
	w.tick_n = n;
	w.tick_now = m.now;
	w.trial = w.candidate;
	w.tick_started = t0;
	p.busy = &w;
	// a candidate runs under the budget of its own policy table; a load's
	// first tick (cold: JIT, caches, maybe a busy machine at boot) under
	// the init budget, so that it stops only what runs away
	w.budget_ms = !p.version ? double(opts_.init_budget.count())
		      : w.candidate ? budget_for(w.info.budget_ms, w.info.interval_ms)
				    : budget_ms(p);
	w.arm(w.budget_ms);
	if (auto r = send_msg(w.proc->fd(), encode(m)); !r)
		handle_failure(p, w, ErrorKind::Crash, r.error().msg);
}

void Engine::handle_tick_done(Policy &p, Worker &w, TickDoneMsg m)
{
	w.req = Worker::Req::None;
	if (p.busy == &w)
		p.busy = nullptr;
	bool trial = w.trial;
	bool first = !p.version;
	uint64_t index = w.tick_index;
	forward_logs(p, m.logs, m.logs_dropped);
	if (!(trial && !m.ok) && !(first && !m.ok)) {
		// the snapshot this tick wrote is the one the next tick reads
		p.prev_idx ^= 1;
		p.prev_valid = true;
		p.prev_now = w.tick_now;
	}
	if (!m.ok) {
		record(p, m.error.kind, m.error.message, m.error.traceback);
		if (first) {
			spdlog::error("policy {}: its first tick failed, so it is not loaded: {}", p.label(),
				      m.error.message);
			kill_worker(p, &w);
			load_failed(p);
			return;
		}
		if (!trial)
			spdlog::error("policy {}: tick failed, the tickets of its last good tick stay: {}", p.name,
				      m.error.message);
		after_tick_failed(p, w, trial, index, m.restart);
		return;
	}
	if (trial)
		promote(p);	// `w` is now p.cur
	if (first)
		activate(p);
	auto t_out = SteadyClock::now();
	book_.policy_output(p.name, p.mem()->output, w.tick_n);
	groups_output(p, w.tick_n);
	double output_us = us_since(t_out);
	p.ticks++;
	p.lua_bytes = m.lua_bytes;
	TickReport rep;
	rep.name = p.name;
	rep.index = index;
	rep.version = p.version;
	rep.tasks = m.tasks;
	rep.assigned = m.assigned;
	rep.worker_us = double(m.worker_ns) / 1000.0;
	rep.fill_us = w.fill_us;
	rep.output_us = output_us;
	rep.total_us = us_since(w.tick_started);
	p.last_tick_us = rep.total_us;
	p.last_report = rep;
	if (after_tick_) {
		after_tick_(rep);
	} else {
		book_.apply();
		if (groups_)
			groups_->apply();
	}
	if (first)
		complete(p.on_loaded, p.name);
	if (p.reload_queued) {
		p.reload_queued = false;
		(void)begin_reload(p, true);
	}
	pump_evals(p);
}

void Engine::after_tick_failed(Policy &p, Worker &w, bool trial, uint64_t index, bool spent)
{
	if (trial) {
		spdlog::error("policy {}: the new version's first tick failed; version {} keeps running: {}", p.name,
			      p.version, p.last_error);
		kill_worker(p, &w);
		if (p.cur && p.cur->ready && !p.busy)
			start_tick(p, *p.cur, index);	// the same tick, by the old version
	} else if (spent) {
		spdlog::warn("policy {}: starting a fresh worker (its Lua state is spent: memory cap or stack overflow)",
			     p.name);
		kill_worker(p, &w);
		if (auto r = spawn(p, p.source, false); !r)
			record(p, ErrorKind::Internal, p.path + ": " + r.error().msg);
	}
	if (p.reload_queued && !p.busy) {
		p.reload_queued = false;
		(void)begin_reload(p, true);
	}
	pump_evals(p);
}

// A worker that overran its deadline, died, or broke the protocol.
void Engine::handle_failure(Policy &p, Worker &w, ErrorKind kind, std::string detail)
{
	auto req = w.req;
	bool trial = w.trial && req == Worker::Req::Tick;
	bool candidate = w.candidate;
	uint64_t index = w.tick_index;
	int pid = w.proc->pid();
	std::string how = w.proc->kill_and_reap();
	std::string msg = p.path + ": ";
	if (kind == ErrorKind::Timeout) {
		if (req == Worker::Req::Init)
			msg += "compile + init took longer than " + std::to_string(opts_.init_budget.count()) +
			       " ms: stopped (worker " + std::to_string(pid) + " killed)";
		else if (req == Worker::Req::Eval)
			msg += "`lua` evaluation took longer than " + std::to_string(opts_.budget_limit.count()) +
			       " ms: stopped (worker killed, ctx.state starts afresh)";
		else
			msg += fmt::format("tick exceeded its time budget of {:.1f} ms: stopped (worker {} killed); "
					   "the tickets of its last good tick stay in force",
					   w.budget_ms, pid);
		if (req == Worker::Req::Tick)
			p.timeouts++;
	} else {
		msg += "policy worker " + std::to_string(pid) + " " + how;
		if (!detail.empty())
			msg += " (" + detail + ")";
		if (req == Worker::Req::Tick)
			msg += "; the tickets of its last good tick stay in force";
	}
	record(p, kind, msg);
	spdlog::error("policy {}: {}", p.label(), msg);
	if (req == Worker::Req::Eval && w.admin_eval)
		complete(w.admin_eval->done, err(msg));
	w.admin_eval.reset();
	kill_worker(p, &w);	// `w` is gone from here on

	if (!p.version && (req == Worker::Req::Init || req == Worker::Req::Tick) && !candidate) {
		load_failed(p);	// the load's compile, init or first tick
		return;
	}
	if (candidate) {
		spdlog::error("policy {}: reload failed, version {} keeps running", p.label(), p.version);
		if (trial && p.cur && p.cur->ready && !p.busy)
			start_tick(p, *p.cur, index);
	} else if (p.version && req != Worker::Req::Init) {
		// a fresh worker for the next tick (init runs again)
		if (auto r = spawn(p, p.source, false); !r)
			record(p, ErrorKind::Internal, p.path + ": " + r.error().msg);
	}
	if (p.reload_queued && !p.busy) {
		p.reload_queued = false;
		(void)begin_reload(p, true);
	}
	pump_evals(p);
}

// ------------------------------------------------------------------ files

Result<void> Engine::begin_reload(Policy &p, bool from_file)
{
	auto src = read_source(p, p.file_owner.has_value());
	if (!src) {
		record(p, ErrorKind::File, src.error().msg);
		spdlog::error("policy {}: {}", p.label(), src.error().msg);
		return src.error();
	}
	if (!p.version) {
		// never loaded (a --policy-dir or state-file entry that failed):
		// load it now
		kill_worker(p, p.cur.get());
		auto w = spawn(p, *src, false);
		if (!w) {
			record(p, ErrorKind::Internal, p.path + ": " + w.error().msg);
			return w.error();
		}
		return {};
	}
	if (p.cand && p.busy == p.cand.get()) {
		p.reload_queued = true;	// after the candidate's first tick
		return {};
	}
	if (from_file && *src == (p.cand ? p.cand->source : p.source)) {
		spdlog::debug("policy {}: {} changed on disk but its text did not; not reloaded", p.name, p.path);
		return {};
	}
	if (p.cand)
		spdlog::info("policy {}: newer save supersedes the pending new version", p.name);
	kill_worker(p, p.cand.get());
	spdlog::info("policy {}: reloading {}", p.name, p.path);
	auto w = spawn(p, *src, true);
	if (!w) {
		record(p, ErrorKind::Internal, p.path + ": " + w.error().msg);
		return w.error();
	}
	return {};
}

void Engine::file_event(const std::string &path, bool exists)
{
	struct Flush {
		Engine *e;
		~Flush() { e->run_completions(); }
	} flush{this};
	Policy *p = find_path(path);
	if (!p) {
		auto dir = fs::path(path).parent_path().string();
		if (!exists || std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end())
			return;
		auto c = create(path, true);
		if (!c) {
			spdlog::error("policy dir: {}: {}", path, c.error().msg);
			return;
		}
		spdlog::info("policy dir: new file {}", path);
		(void)watcher_->watch_file(path);
		if (!begin_reload(**c, true))
			load_failed(**c);
		return;
	}
	if (!exists) {
		if (!p->version) {
			if (p->from_dir && !p->loading())
				destroy(p);	// a failed --policy-dir file removed: forgotten
			return;		// a state-file entry stays listed until unloaded
		}
		if (!p->deleted)
			spdlog::warn("policy {}: {} was deleted; its last good version (version {}) keeps running "
				     "(`policy unload {}` stops it)",
				     p->name, p->path, p->version, p->name);
		p->deleted = true;
		if (p->cand && p->busy != p->cand.get())
			kill_worker(*p, p->cand.get());
		return;
	}
	if (p->deleted)
		spdlog::info("policy {}: {} is back", p->label(), p->path);
	p->deleted = false;
	if (!p->loading())
		(void)begin_reload(*p, true);
}

// ------------------------------------------------------------------ API

void Engine::load(const std::string &path, const Credentials &owner, Completion done, bool keep_on_failure)
{
	start_load(path, owner, std::move(done), keep_on_failure, false);
	run_completions();
}

void Engine::start_load(const std::string &path_in, const Credentials &owner, Completion done, bool keep,
			bool from_dir)
{
	std::string path = absolute_path(path_in);
	if (Policy *p = find_path(path)) {
		if (p->version || p->loading()) {
			complete(done, err(path + ": already loaded" + (p->version ? " as policy " + p->name : "")));
			return;
		}
		// listed but never loaded: try again, as this requester
		if (p->on_loaded)
			complete(p->on_loaded, err(path + ": superseded by another load of the same file"));
		p->owner = owner;
		p->file_owner.reset();
		p->keep_on_failure = p->keep_on_failure || keep;
		p->on_loaded = std::move(done);
		if (auto r = begin_reload(*p, false); !r)
			load_failed(*p, r.error());
		return;
	}
	auto c = create(path, from_dir);
	if (!c) {
		complete(done, c.error());
		return;
	}
	Policy *p = *c;
	p->owner = owner;
	p->keep_on_failure = keep || from_dir;
	p->on_loaded = std::move(done);
	auto src = read_source(*p, false);
	if (!src) {
		record(*p, ErrorKind::File, src.error().msg);
		load_failed(*p, src.error());
		return;
	}
	if (auto w = spawn(*p, *src, false); !w) {
		record(*p, ErrorKind::Internal, p->path + ": " + w.error().msg);
		load_failed(*p);
	}
}

Result<std::string> Engine::load(const std::string &path, const Credentials &owner, bool keep_on_failure)
{
	std::optional<Result<std::string>> out;
	load(path, owner, [&](Result<std::string> r) { out.emplace(std::move(r)); }, keep_on_failure);
	wait_until([&] { return out.has_value(); });
	if (!out)
		return err(path + ": the load did not finish");
	return std::move(*out);
}

Result<void> Engine::unload(const std::string &name)
{
	Policy *p = find_listed(name);
	if (!p)
		return err(Errc::not_found, "no policy named " + name + " (see `policy list`)");
	spdlog::info("policy {} unloaded", p->label());
	destroy(p);
	run_completions();
	return {};
}

Result<void> Engine::reload(const std::string &name)
{
	Policy *p = find_listed(name);
	if (!p)
		return err(Errc::not_found, "no policy named " + name + " (see `policy list`)");
	if (p->loading())
		return {};	// its load is under way
	auto r = begin_reload(*p, false);
	if (!r && !p->version)
		load_failed(*p, r.error());
	run_completions();
	return r;
}

Result<void> Engine::watch_dir(const std::string &dir_in)
{
	std::string dir = absolute_path(dir_in);
	if (!dir.empty() && dir.size() > 1 && dir.back() == '/')
		dir.pop_back();
	std::error_code ec;
	if (!fs::is_directory(dir, ec))
		return err(Errc::not_found, dir + ": not a directory");
	if (auto r = watcher_->watch_dir(dir); !r)
		return r;
	if (std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end())
		dirs_.push_back(dir);
	std::vector<std::string> files;
	for (auto &e : fs::directory_iterator(dir, ec)) {
		auto name = e.path().filename().string();
		if (e.is_regular_file() && name.size() > 4 && name[0] != '.' && e.path().extension() == ".lua")
			files.push_back(e.path().string());
	}
	std::sort(files.begin(), files.end());
	for (auto &f : files) {
		if (find_path(f))
			continue;
		// failures stay listed: saving a fixed version loads it
		bool finished = false;
		start_load(f, Credentials::of_process(), [&](Result<std::string>) { finished = true; }, true, true);
		wait_until([&] { return finished; });
	}
	return {};
}

std::vector<PolicyInfo> Engine::list() const
{
	std::vector<PolicyInfo> out;
	for (auto &p : policies_) {
		PolicyInfo i;
		i.name = p->label();
		i.path = p->path;
		i.description = p->description;
		i.running = p->version && p->cur;
		i.worker_ready = p->cur && p->cur->ready;
		i.file_deleted = p->deleted;
		i.reload_pending = p->cand && p->cand->ready;
		i.interval_ms = p->interval_ms;
		i.budget_ms = p->version ? budget_ms(*p) : 0;
		i.version = p->version;
		i.ticks = p->ticks;
		i.overruns = p->overruns + p->timeouts;
		i.timeouts = p->timeouts;
		i.errors = p->errors;
		i.last_error = p->last_error;
		i.loaded_at = p->loaded_at;
		i.worker_pid = p->cur && p->cur->proc ? p->cur->proc->pid() : 0;
		i.lua_bytes = p->lua_bytes;
		i.last_tick_us = p->last_tick_us;
		out.push_back(std::move(i));
	}
	return out;
}

std::vector<PolicyError> Engine::errors() const
{
	return {errors_.begin(), errors_.end()};
}

Result<TickReport> Engine::tick_now(const std::string &name)
{
	Policy *p = find_name(name);
	if (!p)
		return err("no policy named " + name);
	if (p->busy)
		return err("policy " + name + ": a tick is already running");
	Worker *w = p->cand && p->cand->ready ? p->cand.get() : p->cur && p->cur->ready ? p->cur.get() : nullptr;
	if (!w)
		return err("policy " + name + " has no worker ready (it is restarting); try again");
	p->sched++;
	uint64_t index = p->sched;
	start_tick(*p, *w, index);
	while (p->busy)
		wait_sync(*p, *p->busy);
	run_completions();
	// (after a failed new version, the old one ran this tick: that counts)
	if (p->last_report && p->last_report->index == index)
		return *p->last_report;
	return err(p->last_error.empty() ? "tick failed" : p->last_error);
}

} // namespace lotto::policy
