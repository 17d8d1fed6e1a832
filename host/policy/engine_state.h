// engine_state.h — what the engine keeps per policy and per worker process
// (engine.cpp: lifecycle and ticks, engine_eval.cpp: `lua`).
//
// Per policy: the running version's worker (`cur`), maybe a reload
// candidate (`cand`), at most one request in flight (`busy`: init, tick or
// an admin's evaluation), the `lua` requests waiting, and at most one
// read-only evaluation running (in a child of `cur`). Each worker has a
// serial number; every event names the serial, and a worker that was
// killed in the meantime simply is not found any more, so no callback ever
// touches a dead worker.
#pragma once

#include "core/fd.h"
#include "policy/engine.h"
#include "policy/policy_shm.h"
#include "policy/shared_region.h"
#include "policy/worker_proc.h"

#include <chrono>
#include <deque>
#include <optional>

namespace lotto::policy {

using SteadyClock = std::chrono::steady_clock;

struct Engine::PendingEval {
	uint64_t id = 0;
	std::string expr;
	Credentials who;
	bool admin = false;
	Completion done;
	SteadyClock::time_point give_up;	// answered with an error by then, wherever it is
};

struct Engine::Worker {
	enum class Req { None, Init, Tick, Eval };

	uint64_t serial = 0;
	bool candidate = false;
	EventLoop *loop = nullptr;
	std::unique_ptr<WorkerProc> proc;
	EventLoop::Id fd_id = 0, deadline_id = 0;	// deadline: a one-shot timer of the loop
	SteadyClock::time_point deadline_at;
	std::string source;

	bool ready = false;			// init done
	Req req = Req::None;
	ReadyMsg info;				// name, interval, budget from the policy table
	uint64_t attempts = 0;			// ticks sent to this worker (ctx.tick)

	// the tick in flight
	uint64_t tick_index = 0;
	uint32_t tick_n = 0;
	double tick_now = 0;
	bool trial = false;			// a candidate's first tick
	double budget_ms = 0;
	double fill_us = 0;
	SteadyClock::time_point tick_started;

	std::optional<PendingEval> admin_eval;	// req == Eval
	std::optional<PendingEval> ro_eval;	// running in a child of this worker
	std::vector<uint64_t> given_up;		// ids answered with an error already

	~Worker()
	{
		if (loop && fd_id)
			loop->remove(fd_id);
		if (loop && deadline_id)
			loop->remove(deadline_id);
		// proc's destructor kills and reaps
	}

	void arm(double ms)
	{
		long long ns = std::max(1LL, (long long)(ms * 1e6));
		deadline_at = SteadyClock::now() + std::chrono::nanoseconds(ns);
		loop->arm_at(deadline_id, deadline_at);
	}
	void disarm() { loop->disarm(deadline_id); }
};

struct Engine::Policy {
	std::string path;
	std::string name;		// empty until a version loaded (or its first tick runs)
	bool from_dir = false;
	bool keep_on_failure = false;	// listed even when it does not load (dir, state file)
	Credentials owner;		// the file is read with these rights
	std::optional<uid_t> file_owner;	// st_uid of the file last read: a reload needs the same
	Completion on_loaded;		// the load waiting for its first tick
	SharedRegion shm;
	std::string source;		// of the running version
	std::string description;
	uint32_t interval_ms = 0;
	double budget_cfg = 0;		// the policy's budget_ms, 0: default
	uint64_t version = 0;
	std::chrono::system_clock::time_point loaded_at;

	std::unique_ptr<Worker> cur, cand;
	Worker *busy = nullptr;		// the worker with a request in flight
	bool reload_queued = false;	// a save arrived while the candidate ticked
	std::deque<PendingEval> evals;	// `lua` requests not sent yet

	EventLoop::Id timer = 0;
	uint64_t sched = 0;		// tick schedule slots so far

	// runtime snapshots in shm (policy_shm.h)
	uint32_t prev_idx = 0;
	bool prev_valid = false;
	double prev_now = 0;

	bool deleted = false;
	uint64_t ticks = 0, overruns = 0, timeouts = 0, errors = 0;
	std::string last_error;
	uint64_t lua_bytes = 0;
	double last_tick_us = 0;
	std::optional<TickReport> last_report;

	PolicyShm *mem() const { return shm.as<PolicyShm>(); }
	std::string label() const;
	bool loading() const { return !version && cur != nullptr; }
	Worker *by_serial(uint64_t s) const
	{
		if (cur && cur->serial == s)
			return cur.get();
		if (cand && cand->serial == s)
			return cand.get();
		return nullptr;
	}
};

} // namespace lotto::policy
