// backend.h — what lotto-host drives: the real sched_ext core (kernel) or an
// in-process simulated machine (sim). Both expose the same memory layout
// (bpf/lotto_abi.h): a slot table of task statistics that the backend writes
// and a control table of requested tickets that the host writes. A policy
// tick is therefore the same code path on both backends.
#pragma once

#include "core/fd.h"
#include "core/result.h"

extern "C" {
#include "bpf/lotto_abi.h"
}

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotto {

struct GlobalStats {
	std::array<uint64_t, LOTTO_STAT_NR> total{};	// summed over CPUs
	std::vector<std::array<uint64_t, LOTTO_STAT_NR>> per_cpu;
};

struct ExitInfo {
	int kind = 0;
	int64_t exit_code = 0;
	std::string reason;
	std::string msg;
};

// One group (currency) as the backend sees it: lotto_groups' slot plus what
// user space wrote for it in lotto_group_ctl.
struct GroupStat {
	uint32_t gid = 0;
	lotto_group_kind kind = LOTTO_GROUP_FREE;	// a policy gid is POLICY once it has a funding or a task
	uint64_t cgroup_id = 0;		// a cgroup group's cgroup
	uint32_t funding = 0;		// in force: user space's, else cpu.weight, else the default
	uint32_t funding_set = 0;	// what user space wrote (0: none)
	uint32_t weight = 0;		// a cgroup's cpu.weight
	uint32_t flags = 0;		// LOTTO_GROUP_F_*
	uint64_t runtime_ns = 0;	// CPU time of its tasks under lotto
	uint64_t wins = 0;		// draws the group won
};

const char *group_kind_name(uint32_t kind);	// "free", "root", "cgroup", "policy"
bool policy_gid(uint32_t gid);			// LOTTO_POLICY_GID_MIN..MAX

struct BackendConfig {
	uint32_t default_tickets = LOTTO_TICKETS_DEFAULT;
	uint32_t slice_us = LOTTO_SLICE_US_DEFAULT;	// the longest quantum
	uint32_t latency_us = LOTTO_LATENCY_US_DEFAULT;	// quanta shrink with load towards it
	uint32_t min_run_us = LOTTO_MIN_RUN_US_DEFAULT;	// shortest quantum / run before a wake-up draw
	lotto_preempt_mode preempt = LOTTO_PREEMPT_DEFAULT;
	uint32_t starve_ms = LOTTO_STARVE_MS_DEFAULT;
	bool compensation = true;
	bool catchup = true;
	uint32_t handoff_us = LOTTO_HANDOFF_US_DEFAULT;	// a woken task's wait for its waker's CPU
	bool cgroups = true;		// cgroups are groups (currencies)
	bool transfers = false;		// a woken task runs on its blocked waker's tickets too
	bool verbose = false;
	// sim only
	std::string workload;		// path of a workload file
	uint32_t sim_cpus = 0;		// 0: from the workload file, else nproc
	double sim_speed = 1.0;		// simulated seconds per real second; 0 = as fast as possible
	uint64_t sim_seed = 1;
};

class Backend {
public:
	virtual ~Backend() = default;

	virtual const char *name() const = 0;	// "kernel" or "sim"

	// Load/attach (kernel) or build the simulated machine (sim).
	virtual Result<void> start() = 0;
	// Detach / stop. Idempotent.
	virtual void stop() = 0;

	// The slot tables. Valid between start() and stop(). Slots at or above
	// slots_hw() are all free. Readers must tolerate concurrent updates.
	virtual const lotto_task_stat *tasks() const = 0;
	virtual lotto_ctl *ctl() = 0;
	virtual uint32_t slots_hw() const = 0;

	virtual GlobalStats stats() const = 0;
	virtual uint32_t nr_cpus() const = 0;

	// Set when the scheduler was stopped from outside (kernel exit, SysRq-S).
	virtual std::optional<ExitInfo> exit_info() const = 0;

	// Called by the event loop every `poll_interval_ms()`: the sim advances
	// its machine here, the kernel backend checks for an exit.
	virtual void poll() {}
	virtual int poll_interval_ms() const { return 100; }

	// ---- groups (currencies; bpf/lotto_abi.h). A backend without them
	// returns nullptr and answers every write with an error.
	virtual const lotto_group_stat *group_stats() const { return nullptr; }	// LOTTO_MAX_GROUPS
	virtual lotto_group_ctl *group_ctl() { return nullptr; }			// LOTTO_MAX_GROUPS
	virtual lotto_task_group *task_groups() { return nullptr; }		// LOTTO_MAX_TASKS, by slot
	// the path of a cgroup (as under /sys/fs/cgroup, "/" for the root) by
	// its id; "" when unknown. Bounded: never a long walk on the event loop.
	virtual std::string cgroup_path(uint64_t /*cgroup_id*/) { return ""; }

	// The groups in use: the root, every cgroup and policy group the core
	// has, and every policy group user space funded or flagged; by gid.
	std::vector<GroupStat> groups();
	// Thread `pid` in `slot` into policy group gid (LOTTO_POLICY_GID_MIN..MAX)
	// from its next draw, or back to its cgroup's group with gid 0.
	// Errc::invalid for a gid out of range or a slot out of the table.
	Result<void> set_task_group(uint32_t slot, uint32_t pid, uint32_t gid);
	// The group `slot` has been put in by user space for `pid` (0: none)
	uint32_t task_group(uint32_t slot, uint32_t pid);
	// A policy group's funding (LOTTO_FUNDING_MIN..MAX; 0 takes it back to
	// the default) and flags (LOTTO_GROUP_F_*). Errc::invalid out of range.
	Result<void> set_group_funding(uint32_t gid, uint32_t funding);
	Result<void> set_group_flags(uint32_t gid, uint32_t flags);

	// Write tickets for a thread into its ctl slot. The stored pid guards
	// against the slot being reused by another thread in the meantime.
	void set_tickets(uint32_t slot, uint32_t pid, uint32_t tickets)
	{
		static_assert(sizeof(uint64_t) == sizeof(lotto_ctl));
		__atomic_store_n(reinterpret_cast<uint64_t *>(&ctl()[slot]), lotto_ctl_pack(pid, tickets),
				 __ATOMIC_RELAXED);
	}
};

// The settings both backends share, checked the same way (one line per error).
Result<void> check_backend_config(const BackendConfig &cfg);
// "off", "tick", "kick" (and back: nullopt for anything else)
const char *preempt_name(lotto_preempt_mode m);
std::optional<lotto_preempt_mode> preempt_from_name(std::string_view s);
// the scheduling settings in one line, for start-up logs
std::string describe_timing(const BackendConfig &cfg);
// the lotto_config the BPF core is loaded with
lotto_config bpf_config(const BackendConfig &cfg);

std::unique_ptr<Backend> make_kernel_backend(const BackendConfig &cfg);
std::unique_ptr<Backend> make_sim_backend(const BackendConfig &cfg);
// true when this kernel can run a sched_ext scheduler
bool kernel_has_sched_ext();

} // namespace lotto
