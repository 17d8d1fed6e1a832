// workload.h — what runs on the simulated machine: a line-based text file
// (format in docs/sim.md) parsed into task specifications.
//
//   cpus 2
//   tick 4ms
//   stall 5% 60ms
//   task name=hog cpu=100% count=2
//   task name=io nice=5 run=2ms sleep=8ms pin=0 start=1s stop=30s
//   task name=srv serve=2ms count=3          (a server thread per client)
//   task name=cli run=100us call=srv tickets=800
//
// Every error is one line, "FILE:LINE: message", returned as a value.
#pragma once

#include "core/result.h"
#include "sim/cpu_set.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotto::sim {

inline constexpr uint32_t kMaxCpus = 1024;
inline constexpr uint64_t kMaxWorkloadTasks = 1000000;	// threads over the whole file

struct TaskSpec {
	int line = 0;			// line in the workload file that declared it
	std::string name = "task";	// comm, cut to 15 characters like the kernel does
	int32_t nice = 0;		// reported only: tickets come from lotto_ctl
	uint32_t uid = 1000;
	std::string cgroup = "/";
	// Behaviour: bursts of `run_ns` CPU time, each followed by `sleep_ns` of
	// sleep. run_ns == 0: CPU-bound, never blocks. sleep_ns == 0 with
	// run_ns > 0: yields after each burst (stays runnable, redraws).
	uint64_t run_ns = 0;
	uint64_t sleep_ns = 0;
	std::optional<CpuSet> pin;	// allowed CPUs; none: all
	std::string pin_text;		// as written, for error messages
	uint64_t start_ns = 0;		// first wake-up
	std::optional<uint64_t> stop_ns;	// exit time; none: runs forever
	uint32_t count = 1;		// processes
	uint32_t threads = 1;		// threads per process (same tgid)
	uint32_t tickets = 0;		// written to lotto_ctl at start; 0: none
	// Client-server (ticket transfers): a server thread sleeps until its
	// client calls, runs serve_ns of CPU, wakes its client and sleeps again.
	// A client runs run_ns, calls its server and sleeps until the reply.
	// Each client thread has a server thread of its own: the threads of the
	// specs named `call`, in file order. A server with tail_ns runs that
	// much CPU after each reply (and once at its start) before it reads the
	// next call; a call that comes meanwhile is read at once, no sleep (a
	// socket buffers it), so such a server need not be woken by its client.
	uint64_t serve_ns = 0;		// > 0: a server
	uint64_t tail_ns = 0;		// a server's CPU between a reply and its next read
	std::string call;		// non-empty: a client of the servers named so

	uint64_t nr_threads() const { return uint64_t(count) * threads; }
};

// `cgroup PATH weight=N`: the cgroup's cpu.weight (its funding as a group)
struct CgroupSpec {
	int line = 0;
	std::string path;
	uint32_t weight = 100;
};

struct Workload {
	std::string source;		// file name, used in error messages
	uint32_t cpus = 0;		// 0: not given in the file
	uint64_t tick_ns = 0;		// 0: exact slice accounting
	uint32_t stall_pct = 0;		// a quantum is held up with this chance (0: never) ...
	uint64_t stall_mean_ns = 0;	// ... for an exponential time of this mean
	std::vector<TaskSpec> tasks;
	std::vector<CgroupSpec> cgroups;	// weights given; others weigh 100

	uint64_t nr_threads() const;
};

// `source` names the text in error messages ("FILE:LINE: ...").
Result<Workload> parse_workload(std::string_view text, std::string_view source);
Result<Workload> load_workload(const std::string &path);

// Used when lotto-host runs the sim without --workload (docs/sim.md).
std::string_view default_workload_text();
Workload default_workload();

// "20ms", "1.5s", "250us", "0": durations as the workload file writes them
Result<uint64_t> parse_duration_ns(std::string_view s);
// "0", "0,2", "1-3,6": a CPU list as taskset -c takes it
Result<CpuSet> parse_cpu_list(std::string_view s);

} // namespace lotto::sim
