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

	// Write tickets for a thread into its ctl slot. The stored pid guards
	// against the slot being reused by another thread in the meantime.
	void set_tickets(uint32_t slot, uint32_t pid, uint32_t tickets)
	{
		lotto_ctl c{pid, tickets};
		uint64_t word;
		static_assert(sizeof(word) == sizeof(c));
		__builtin_memcpy(&word, &c, sizeof(word));
		__atomic_store_n(reinterpret_cast<uint64_t *>(&ctl()[slot]), word, __ATOMIC_RELAXED);
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
