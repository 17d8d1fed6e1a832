// host_api.h — everything the control socket (and the metrics endpoint)
// needs from lotto-host, as one abstract interface, and the values it
// answers with. The ControlServer only ever talks to a HostApi; the daemon
// provides one (HostImpl, host_impl.h, built from the Backend, the
// TicketBook, the policy engine's PolicyApi and the state file). lotto-shell
// decodes the same values (protocol.h) and links nothing else of the host.
//
// All calls happen on the host's event-loop thread; none may block for long.
// Errors are values: the message is one line meant for a person, and the
// ErrorCode tells the protocol layer which stable `code` to send (see
// docs/protocol.md).
#pragma once

#include "control/task_query.h"
#include "core/backend.h"
#include "core/credentials.h"
#include "core/policy_api.h"
#include "core/result.h"
#include "core/ticket_change.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <variant>
#include <string>
#include <vector>

namespace lotto::control {

// Stable error codes of the protocol (docs/protocol.md lists each).
enum class ErrorCode {
	bad_json,		// the line is not a JSON object
	bad_request,		// a field is missing or has the wrong type
	unknown_command,	// "cmd" names nothing this server knows
	too_long,		// the line exceeded the size cap
	unsupported_version,	// "version"/"v" is not one this server speaks
	permission_denied,	// a write from a peer that is not an admin
	no_such_pid,		// no lotto task has this pid (now)
	not_pinned,		// unpin of a pid that has no pin and no boost
	no_match,		// a comm pattern matched no lotto task
	no_such_group,		// no policy group has this name or gid
	out_of_range,		// tickets, factor or duration outside its range
	no_such_policy,		// policy name not loaded
	policy_error,		// the policy engine refused (compile error, file missing, ...)
	eval_error,		// `lua EXPR` failed
	unavailable,		// the host has no such facility (e.g. no policy engine)
	not_saved,		// the state file could not be written: nothing was changed
	busy,			// too many clients, connections of this user, or waiting requests
	internal,		// a bug: the request was fine, the host failed
};

const char *to_string(ErrorCode c);

// An error the host returns to a client: code + one line for a person.
struct HostError {
	ErrorCode code;
	std::string message;
};

// Either a value or a HostError: lotto::Result with the protocol's code
// instead of an Errc (the layer below decides the kind, the control layer
// which code a client sees).
template <typename T> class [[nodiscard]] HostResult {
public:
	HostResult(T v) : v_(std::move(v)) {}
	HostResult(HostError e) : v_(std::move(e)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }
	T &operator*() { return std::get<0>(v_); }
	const T &operator*() const { return std::get<0>(v_); }
	T *operator->() { return &std::get<0>(v_); }
	const HostError &error() const { return std::get<1>(v_); }

private:
	std::variant<T, HostError> v_;
};
struct Ok {};

// How an asynchronous call ends: called once, maybe before the call returns.
template <typename T> using Reply = std::function<void(HostResult<T>)>;

// Who sent a request (from SO_PEERCRED / SO_PEERGROUPS at accept time).
struct Peer {
	uint32_t uid = 0;
	uint32_t gid = 0;
	int32_t pid = 0;
	bool admin = false;		// root or a member of the admin group
	std::vector<uint32_t> groups;	// supplementary groups
	Credentials creds() const { return Credentials{uid, gid, {groups.begin(), groups.end()}}; }
};

using Pins = std::unordered_map<uint32_t, uint32_t>;	// pid -> tickets

// One lotto task as the REPL shows it.
struct TaskRow {
	uint32_t pid = 0;
	uint32_t tgid = 0;
	std::string comm;
	uint32_t uid = 0;
	std::string user;		// user name, or the uid as text when unknown
	int32_t nice = 0;
	uint32_t tickets = 0;		// effective tickets the host wants now (boost included)
	std::string source;		// "pin", "policy NAME", "default"
	bool pinned = false;
	double boost = 1.0;		// multiplier in force (1.0: none)
	double ticket_share = 0;	// tickets / sum of all lotto tasks' tickets, 0..1
	double cpu_share = 0;		// runtime delta / sum of all deltas, last interval, 0..1
	double cpu_pct = 0;		// percent of one CPU over the last interval (top's %CPU)
	uint64_t runtime_ns = 0;	// cumulative CPU time under lotto
	uint64_t delta_ns = 0;		// runtime over the last sample interval
	uint64_t wins = 0;
	uint64_t wait_avg_ns = 0;
	uint64_t wait_max_ns = 0;
	uint64_t waits = 0;
	uint64_t rescues = 0;
	uint64_t cgroup_id = 0;
	uint32_t last_cpu = 0;
	uint32_t group = 0;		// its group (currency) at its last draw, 0: the root
};

// `show PID`: the row plus what is only worth fetching for one task.
struct TaskDetail {
	TaskRow row;
	std::optional<uint32_t> pin;			// pinned tickets (before boost)
	std::optional<double> boost_factor;
	std::optional<double> boost_left_s;		// none: until unpinned/forever
	uint32_t stat_tickets = 0;			// tickets the core used at the last draw
	uint32_t comp_q10 = 1024;			// compensation factor at the last draw
	std::string group_name;				// its group's name or cgroup path ("" for the root)
	uint32_t funded_by = 0;				// transfers: the blocked waker it runs on (0: none)
	uint32_t funded_tickets = 0;			// the tickets that waker adds
	std::vector<TicketChange> history;		// oldest first
};

// One group (currency) as `groups` shows it. Shares are over the groups that
// are active: those with a task that ran in the last sample interval (the
// host's stand-in for "has a runnable task"); the root counts with the
// tickets of its active tasks.
struct GroupRow {
	uint32_t gid = 0;
	std::string kind;		// "root", "cgroup", "policy"
	std::string name;		// a policy group's name, a cgroup's path ("/" is the root cgroup), "" unknown
	uint64_t cgroup_id = 0;
	uint32_t funding = 0;		// in force (root: the tickets of its active tasks)
	std::string source;		// "pin", "policy NAME", "cpu.weight", "default", "set" (lotto-ctl), "tickets" (root)
	uint32_t weight = 0;		// a cgroup's cpu.weight
	bool transfers = false;		// LOTTO_GROUP_F_TRANSFERS
	bool transfers_in = false;	// LOTTO_GROUP_F_TRANSFERS_IN
	uint32_t tasks = 0;		// lotto tasks in it (at their last draw)
	uint32_t active = 0;		// of those, tasks that ran in the last interval
	double ticket_share = 0;	// funding / (active groups' funding + active root tickets), 0 when inactive
	double cpu_share = 0;		// its tasks' runtime delta / all tasks' delta, last interval
	double cpu_pct = 0;		// percent of one CPU over the last interval
	uint64_t runtime_ns = 0;	// CPU time of its tasks under lotto (the core's count)
	uint64_t delta_ns = 0;		// its tasks' runtime over the last interval
	uint64_t wins = 0;		// draws the group won
};

struct HostStats {
	std::string backend;		// Backend::name(): "kernel" / "sim"
	std::string version;		// lotto-host version
	std::string state;		// "enabled" or "exited"
	std::optional<ExitInfo> exit;	// set when state == "exited"
	double uptime_s = 0;
	uint32_t nr_cpus = 0;
	uint32_t nr_tasks = 0;
	uint64_t total_tickets = 0;
	double draws_per_s = 0;		// over the last sample interval
	uint32_t pins = 0;
	uint32_t boosts = 0;
	uint32_t policies = 0;
	std::array<uint64_t, LOTTO_STAT_NR> total{};
	std::vector<std::array<uint64_t, LOTTO_STAT_NR>> per_cpu;
};

// Names of the global counters, indexed by enum lotto_stat_idx, as used in
// the protocol ("draws", "enqueues", ...).
const char *stat_name(int idx);

class HostApi {
public:
	virtual ~HostApi() = default;

	// ---- read-only
	// The lotto tasks the query selects, in its order (slot order by
	// default); shares are of all tasks, whatever the query keeps.
	virtual std::vector<TaskRow> tasks(const TaskQuery &q = {}) = 0;
	virtual HostResult<TaskDetail> task(uint32_t pid) = 0;
	virtual HostStats stats() = 0;
	// every group in use, by gid (the root first); empty when the backend has none
	virtual std::vector<GroupRow> groups() = 0;
	virtual HostResult<std::vector<PolicyInfo>> policies() = 0;
	virtual HostResult<std::vector<PolicyError>> policy_errors() = 0;
	// `lua EXPR`: a peer that is not an admin gets a view where nothing
	// can be changed (writes fail with eval_error "permission denied:
	// ...") and that runs with its own rights. The value rendered as text.
	// Asynchronous: the event loop goes on while it runs.
	virtual void eval(const std::string &expr, const Peer &peer, Reply<std::string> done) = 0;

	// ---- writes (the server checks the peer is an admin before calling).
	// A change that must survive a restart (pins, policies loaded or
	// unloaded) is in the state file before it succeeds; if it cannot be
	// written the change is not made (not_saved).
	// tickets in LOTTO_TICKETS_MIN..LOTTO_TICKETS_MAX
	virtual HostResult<Ok> pin(uint32_t pid, uint32_t tickets) = 0;
	// Every task whose comm matches the glob, in one pass and one save
	// (no_match when none does). The pids pinned, in slot order.
	virtual HostResult<std::vector<uint32_t>> pin_matching(const std::string &pattern, uint32_t tickets) = 0;
	virtual HostResult<Ok> unpin(uint32_t pid) = 0;
	virtual HostResult<size_t> unpin_all() = 0;
	// factor in LOTTO_BOOST_MIN..LOTTO_BOOST_MAX; duration none = until
	// unpinned. unpin drops the pin and the boost of a task. (Boosts are
	// not kept across restarts.)
	virtual HostResult<Ok> boost(uint32_t pid, double factor,
				     std::optional<std::chrono::milliseconds> duration) = 0;
	// the file is read with the peer's rights; the loaded policy's name.
	// Asynchronous: compile, init and the first tick run meanwhile.
	virtual void policy_load(const std::string &file, const Peer &peer, Reply<std::string> done) = 0;
	virtual HostResult<Ok> policy_unload(const std::string &name) = 0;
	// A policy group's funding pinned from a shell (over the policies'),
	// by name or gid as text; funding in LOTTO_FUNDING_MIN..MAX. Kept in
	// the state file by name. Returns the group's gid.
	virtual HostResult<uint32_t> fund_group(const std::string &group, uint32_t funding) = 0;
	virtual HostResult<Ok> unfund_group(const std::string &group) = 0;
	virtual HostResult<Ok> policy_reload(const std::string &name) = 0;
};

} // namespace lotto::control
