// fixture.h — what the policy tests run on: a small Backend over MAP_SHARED
// memory laid out like the BPF maps (bpf/lotto_abi.h), so forked policy
// workers see it exactly as they see the kernel's mmapped maps; a temporary
// directory for policy files; and an engine wired to both.
#pragma once

#include "core/backend.h"
#include "core/event_loop.h"
#include "core/group_book.h"
#include "core/ticket_book.h"
#include "policy/engine.h"
#include "policy/shared_region.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

namespace lotto::test {

class TableBackend : public Backend {
public:
	explicit TableBackend(uint32_t ncpus = 4);
	const char *name() const override { return "test"; }
	Result<void> start() override { return {}; }
	void stop() override {}
	const lotto_task_stat *tasks() const override { return tasks_.as<lotto_task_stat>(); }
	lotto_ctl *ctl() override { return ctl_.as<lotto_ctl>(); }
	uint32_t slots_hw() const override { return hw_; }
	GlobalStats stats() const override { return {}; }
	uint32_t nr_cpus() const override { return ncpus_; }
	std::optional<ExitInfo> exit_info() const override { return std::nullopt; }
	const lotto_group_stat *group_stats() const override { return groups_.data(); }
	lotto_group_ctl *group_ctl() override { return group_ctl_.data(); }
	lotto_task_group *task_groups() override { return task_groups_.data(); }
	// the policy group the host put the task in slot in (0: none)
	uint32_t ctl_group(uint32_t slot)
	{
		auto g = task_groups_[slot];
		return g.pid == at(slot).pid ? g.group : 0;
	}

	// put a task into `slot` (as the BPF core does: gen bumped, counters zero)
	lotto_task_stat &add(uint32_t slot, uint32_t pid, int nice = 0, uint32_t uid = 1000, const char *comm = "task");
	void remove(uint32_t slot);
	lotto_task_stat &at(uint32_t slot) { return tasks_.as<lotto_task_stat>()[slot]; }
	// tickets the host wrote for the task in slot (0: nothing written for it)
	uint32_t ctl_tickets(uint32_t slot);

private:
	policy::SharedRegion tasks_, ctl_;
	std::vector<lotto_group_stat> groups_ = std::vector<lotto_group_stat>(LOTTO_MAX_GROUPS);
	std::vector<lotto_group_ctl> group_ctl_ = std::vector<lotto_group_ctl>(LOTTO_MAX_GROUPS);
	std::vector<lotto_task_group> task_groups_ = std::vector<lotto_task_group>(LOTTO_MAX_TASKS);
	uint32_t hw_ = 0;
	uint32_t ncpus_;
};

// a directory under /tmp, removed with everything in it
class TempDir {
public:
	TempDir();
	~TempDir();
	const std::string &path() const { return path_; }
	std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

// everything the engine logs, for assertions
class LogCapture {
public:
	LogCapture();
	~LogCapture();
	std::string text();
	bool contains(const std::string &s) { return text().find(s) != std::string::npos; }

private:
	std::ostringstream out_;
	std::shared_ptr<spdlog::logger> prev_;
};

struct Harness {
	explicit Harness(policy::EngineOptions o = quiet_options(), uint32_t ncpus = 4);

	static policy::EngineOptions quiet_options()
	{
		policy::EngineOptions o;
		o.timers = false;	// ticks only through tick_now(): deterministic
		return o;
	}

	// write (truncate in place) a file in the temp dir; returns its path
	std::string write(const std::string &name, const std::string &text);
	// write a temp file then rename it over `name` (an editor's save)
	std::string write_rename(const std::string &name, const std::string &text);
	// run the event loop until pred() or timeout; returns pred()
	bool run_until(const std::function<bool()> &pred, std::chrono::milliseconds timeout);
	void run_for(std::chrono::milliseconds d);
	// the info of policy `name` (fails the test if missing)
	policy::PolicyInfo info(const std::string &name);
	// eval "@name expr" as admin; "ERROR: msg" on failure
	std::string eval(const std::string &name, const std::string &expr, bool admin = true);

	LogCapture log;
	TempDir dir;
	TableBackend backend;
	TicketBook book;
	GroupBook groups;
	EventLoop loop;
	std::unique_ptr<policy::Engine> engine;
};

// How a policy worker that faults ends: SIGSEGV, or in a sanitizer build
// (which keeps ASan's fault handler in the worker) the abort after its report.
#ifdef LOTTO_SANITIZE
inline constexpr const char *kSegvDeath = "killed by signal 6";
#else
inline constexpr const char *kSegvDeath = "killed by signal 11";
#endif

// a policy file with one tick body (tasks, ctx in scope)
std::string policy_src(const std::string &name, const std::string &tick_body, int interval_ms = 100,
		       const std::string &extra = "");

} // namespace lotto::test
