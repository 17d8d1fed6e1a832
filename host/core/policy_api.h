// policy_api.h — what the rest of lotto-host asks of the Lua policy engine:
// one small interface (PolicyApi) that policy::Engine implements, and the one
// PolicyInfo and PolicyError the control protocol, the metrics and the log
// report. Errors are values with a kind (Errc), decided where they are made:
// not_found (no such policy), busy (too many `lua` waiting), invalid, and for
// a policy file permission, not_regular, too_large.
#pragma once

#include "core/credentials.h"
#include "core/result.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lotto {

// What went wrong with a policy. Values travel in the worker channel's messages.
enum class ErrorKind : uint32_t {
	None = 0,
	File,		// cannot read the file
	Compile,	// syntax error
	Policy,		// the returned table is not a valid policy
	Init,		// init(ctx) raised
	Tick,		// tick(tasks, ctx) raised (bad tickets included)
	Memory,		// the policy hit its memory cap
	Timeout,	// over its time budget: worker killed
	Crash,		// the worker died
	Eval,		// `lua EXPR` failed
	Internal,	// the worker could not set itself up
};

inline const char *to_string(ErrorKind k)
{
	switch (k) {
	case ErrorKind::None: return "none";
	case ErrorKind::File: return "file";
	case ErrorKind::Compile: return "compile";
	case ErrorKind::Policy: return "policy";
	case ErrorKind::Init: return "init";
	case ErrorKind::Tick: return "tick";
	case ErrorKind::Memory: return "memory";
	case ErrorKind::Timeout: return "timeout";
	case ErrorKind::Crash: return "crash";
	case ErrorKind::Eval: return "eval";
	case ErrorKind::Internal: return "internal";
	}
	return "?";
}

struct PolicyError {
	std::string policy;	// policy name, or the file name if it never loaded
	std::string path;
	ErrorKind kind = ErrorKind::None;
	std::string message;	// "file:line: message" (see policies/README.md)
	std::string traceback;	// "stack traceback:\n..." when there is one
	std::chrono::system_clock::time_point when;
};

struct PolicyInfo {
	std::string name;
	std::string path;
	std::string description;
	bool running = false;		// a version is loaded and ticking (false: it never loaded; see last_error)
	bool worker_ready = false;	// its worker is initialised (false while one restarts)
	bool file_deleted = false;	// its file is gone: the last good version runs on
	bool reload_pending = false;	// a new version waits for its first tick
	uint32_t interval_ms = 0;
	double budget_ms = 0;
	uint64_t version = 0;		// 1 after load, +1 per reload that took over
	uint64_t ticks = 0;		// good ticks, all versions
	uint64_t overruns = 0;		// tick times without a tick: skipped (late, previous still running) or stopped
	uint64_t timeouts = 0;		// of those, ticks stopped at their budget
	uint64_t errors = 0;		// errors of any kind
	std::string last_error;		// "file:line: message", empty when none
	std::chrono::system_clock::time_point loaded_at;	// the running version took over
	int worker_pid = 0;
	uint64_t lua_bytes = 0;		// Lua heap after the last tick
	double last_tick_us = 0;	// the last good tick, engine side, request to reply
};

// How an asynchronous load or evaluation ended: the policy's name or the
// evaluation's text, or the error.
using Completion = std::function<void(Result<std::string>)>;

class PolicyApi {
public:
	virtual ~PolicyApi() = default;

	virtual std::vector<PolicyInfo> list() const = 0;	// load order
	virtual std::vector<PolicyError> errors() const = 0;	// oldest first
	// Load a file read with `owner`'s rights: compile, init, first tick.
	// `done` gets the policy's name; it may run before load() returns.
	virtual void load(const std::string &path, const Credentials &owner, Completion done,
			  bool keep_on_failure = false) = 0;
	// By name (a listed policy that never loaded also by its file's stem or
	// path); Errc::not_found when there is none.
	virtual Result<void> unload(const std::string &name) = 0;
	virtual Result<void> reload(const std::string &name) = 0;
	// `lua EXPR` ("@NAME EXPR" for another policy than the first): with
	// `admin` it may change the policy's state, else it runs apart with
	// `who`'s rights. Errc::busy when too many are waiting.
	virtual void eval(const std::string &expr, const Credentials &who, bool admin, Completion done) = 0;
};

} // namespace lotto
