// engine.h — lotto-host's Lua policy engine: loads policy files, runs each
// one's tick on its own drift-free timer in a worker process (worker.h),
// turns their outputs into tickets through the TicketBook, and reloads a
// policy when its file changes.
//
// Single-threaded: everything runs on the host's EventLoop. A tick, a load
// and a `lua` evaluation are requests to a policy's worker whose replies are
// handled when they arrive; the daemon uses only these asynchronous forms.
// The synchronous load(), eval() and tick_now() (start-up, tests,
// lotto-bench) wait on the policy workers alone, never longer than the
// budgets in force (at most EngineOptions::budget_limit, init_budget for
// compile + init).
//
// Load: compile + init, then the policy's first tick (bounded, like compile
// + init, by init_budget); only when that tick succeeds is the policy loaded (its tickets applied, its timer started, its
// file watched). A load's file is read with the rights of whoever asked
// (Credentials), as are its reloads later, which also refuse a file whose
// owner changed (a symlink swapped in to make root read something else).
//
// `lua`: an admin's evaluation runs in the policy's worker (it may set the
// policy's globals and ctx.state); a read-only one runs in a disposable
// child of the worker with the requester's rights (eval_child.h), while the
// policy ticks on.
//
// Reload (file saved in place, renamed over, or reload()): the new version
// starts in a fresh worker (compile + init) while the old one keeps ticking.
// At the policy's next tick time the new version runs that tick; if it
// succeeds it takes over from that tick on, if it fails (compile, init, the
// first tick, its budget) the error is kept, the old version runs that same
// tick, and keeps running. So no tick is lost and none runs twice.
#pragma once

#include "core/backend.h"
#include "core/credentials.h"
#include "core/event_loop.h"
#include "core/limits.h"
#include "core/policy_api.h"
#include "core/result.h"
#include "core/group_book.h"
#include "core/ticket_book.h"
#include "policy/channel.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lotto::policy {

struct EngineOptions {
	bool unsafe = false;				// --unsafe-policies: no sandbox
	double budget_fraction = 0.5;			// default tick budget = this x interval_ms
	std::chrono::milliseconds budget_limit = limits::kMaxBudget;	// hard limit of any tick/eval budget
	std::chrono::milliseconds init_budget = limits::kMaxBudget;	// compile + init(ctx)
	size_t memory_cap = size_t(64) << 20;		// Lua heap bytes per policy
	std::chrono::milliseconds debounce{25};		// file events settle this long
	bool timers = true;	// false: no tick timers; ticks only through tick_now()
	size_t max_errors_kept = 100;			// errors() history
	size_t max_queued_evals = limits::kMaxQueuedEvals;	// `lua` requests waiting, all policies
};

using lotto::Completion;
using lotto::PolicyError;
using lotto::PolicyInfo;

// What the after-tick hook gets, once per good tick.
struct TickReport {
	std::string name;
	uint64_t index = 0;	// the policy's tick schedule slot (1, 2, ...: late ticks skip numbers)
	uint64_t version = 0;	// which version ran it
	uint32_t tasks = 0;	// #tasks
	uint32_t assigned = 0;	// tasks given tickets
	double worker_us = 0;	// inside the worker
	double fill_us = 0;	// TicketBook::fill_input
	double output_us = 0;	// TicketBook::policy_output
	double total_us = 0;	// fill_input + worker + channel + policy_output
};

class Engine : public PolicyApi {
public:
	// The backend must be started: workers are forked with its tables mapped.
	Engine(EventLoop &loop, Backend &backend, TicketBook &book, EngineOptions opts = {});
	~Engine() override;
	Engine(const Engine &) = delete;
	Engine &operator=(const Engine &) = delete;

	// Load a policy file read as `owner`: compile, init, first tick; on
	// success it ticks every interval_ms from now and its file is watched.
	// `done` gets the policy's name or "file:line: message". With
	// keep_on_failure a policy that fails stays listed (not running, its
	// error kept) and loads when its file is saved again (policies restored
	// from the state file). `done` may run before load() returns.
	void load(const std::string &path, const Credentials &owner, Completion done,
		  bool keep_on_failure = false) override;
	// The same, waiting for the outcome (start-up, tests, lotto-bench).
	Result<std::string> load(const std::string &path, const Credentials &owner = Credentials::of_process(),
				 bool keep_on_failure = false);
	// By name; a listed policy that never loaded also by its file's stem
	// or path.
	Result<void> unload(const std::string &name) override;
	// Reload from the file now (as if it was saved). The outcome shows in
	// list()/errors() and the log: the new version takes over at its next
	// tick, or the error is kept and the old version runs on.
	Result<void> reload(const std::string &name) override;
	// Load every *.lua in dir (sorted by name; files that fail are kept as
	// errors and retried when saved) and load files added to it later.
	Result<void> watch_dir(const std::string &dir);

	std::vector<PolicyInfo> list() const override;	// load order
	std::vector<PolicyError> errors() const override;	// oldest first

	// `lua EXPR` from the REPL, evaluated in the worker of a policy: the
	// first loaded, or NAME when expr is "@NAME EXPR". `tasks`, `ctx`,
	// `policy` and the policy's globals are visible; without admin every
	// write fails ("permission denied: ...") and nothing the expression
	// does outlives it (it runs in a child with `who`'s rights); tickets
	// are never writable here (pins are). `done` gets the value(s)
	// rendered as text.
	void eval(const std::string &expr, const Credentials &who, bool admin, Completion done) override;
	// The same, as this process, waiting for the outcome.
	Result<std::string> eval(const std::string &expr, bool admin);

	// Run one tick of `name` now and wait for it (lotto-bench, tests;
	// normally timers do this). Fails if a tick of it is already running.
	Result<TickReport> tick_now(const std::string &name);

	// Called after every good tick, after TicketBook::policy_output(). Without
	// a hook the engine calls TicketBook::apply() itself.
	void set_after_tick(std::function<void(const TickReport &)> hook);
	// The policy groups (ctx.group) go here after each good tick, and
	// GroupBook::apply() runs with TicketBook::apply() when there is no
	// hook. Without a book, policies' groups are dropped.
	void set_group_book(GroupBook *groups);

	const EngineOptions &options() const { return opts_; }

	struct Policy;
	struct Worker;
	struct PendingEval;

private:
	Policy *find_name(const std::string &name) const;
	Policy *find_listed(const std::string &name) const;
	Policy *find_path(const std::string &path) const;
	Worker *find_worker(uint64_t serial, Policy **p) const;
	bool name_taken(const std::string &name, const Policy *except) const;
	void start_load(const std::string &path, const Credentials &owner, Completion done, bool keep, bool from_dir);
	Result<Policy *> create(const std::string &path, bool from_dir);
	Result<std::string> read_source(Policy &p, bool check_owner);
	void destroy(Policy *p);
	Result<Worker *> spawn(Policy &p, const std::string &source, bool candidate);
	void kill_worker(Policy &p, Worker *w);
	bool wait_sync(Policy &p, Worker &w);
	void wait_until(const std::function<bool()> &done);

	enum class WorkerEvent { Readable, DeadlinePassed };
	void on_worker_event(uint64_t serial, WorkerEvent ev);
	void handle_ready(Policy &p, Worker &w, ReadyMsg m);
	void handle_tick_done(Policy &p, Worker &w, TickDoneMsg m);
	void handle_eval_done(Policy &p, Worker &w, EvalDoneMsg m);
	void handle_failure(Policy &p, Worker &w, ErrorKind kind, std::string message);
	void first_tick(Policy &p, Worker &w);
	void activate(Policy &p);
	void load_failed(Policy &p, std::optional<Error> e = std::nullopt);
	void promote(Policy &p);

	void on_timer(Policy &p, uint64_t missed);
	void start_tick(Policy &p, Worker &w, uint64_t index);
	void after_tick_failed(Policy &p, Worker &w, bool trial, uint64_t index, bool spent);
	void groups_output(Policy &p, uint32_t n);
	void file_event(const std::string &path, bool exists);
	Result<void> begin_reload(Policy &p, bool from_file);

	void record(Policy &p, ErrorKind kind, std::string message, std::string traceback = {});
	void complete(Completion &done, Result<std::string> r);
	void run_completions();
	void pump_evals(Policy &p);
	void abandon_evals(Policy &p, Worker &w, const std::string &why);
	void expire_evals();
	size_t queued_evals() const;
	void forward_logs(const Policy &p, const std::vector<LogLine> &logs, uint32_t dropped);
	void sync_order();
	double budget_ms(const Policy &p) const;
	double budget_for(double cfg_ms, uint32_t interval_ms) const;

	EventLoop &loop_;
	Backend &backend_;
	TicketBook &book_;
	GroupBook *groups_ = nullptr;
	EngineOptions opts_;
	std::vector<std::unique_ptr<Policy>> policies_;	// load order
	std::deque<PolicyError> errors_;
	std::function<void(const TickReport &)> after_tick_;
	std::unique_ptr<class Watcher> watcher_;
	std::vector<std::string> dirs_;
	uint64_t next_serial_ = 1;
	uint64_t next_eval_ = 1;
	EventLoop::Id eval_timer_ = 0;	// gives up on evaluations nobody answers, while any wait
	// callbacks are run when the engine's state is settled, never in the
	// middle of a change (they may call the engine again)
	std::vector<std::function<void()>> completions_;
	bool completing_ = false;
};

} // namespace lotto::policy
