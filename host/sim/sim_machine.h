// sim_machine.h — an in-process simulated machine scheduled by lotto's
// lottery, for trying policies anywhere and for tests.
//
// It runs the same decisions as bpf/lotto.bpf.c, with the same arithmetic
// (bpf/lotto_math.h), the same rules (bpf/lotto_rules.h: quantum length,
// whether a CPU draws, catch-up, which CPU a wake-up makes draw early) and
// the same shared tables (bpf/lotto_abi.h):
//
//   - waiting tasks are ordered by key = V + lotto_key_delta(r, tickets, f);
//     a CPU that needs a task takes the smallest residual among the tasks
//     allowed on it (an exact lottery among them), per group of tasks with
//     the same allowed CPUs, each group with its own V (run_queue.h)
//   - the task whose quantum ended takes part in that draw with a fresh key
//     (the kernel calls ops.dispatch before re-enqueueing it; see
//     docs/sim.md); if it wins it keeps its CPU for another quantum; if
//     nothing else may run there it keeps it without a draw
//   - catch-up: before that, it is credited the wins its race had while it
//     ran (lotto_catchup over its group's V), and a credit is run as one more
//     quantum without a draw when the quantum expired by itself
//   - quanta: lotto_slice_ns(latency, min_run, slice, waiting shared, waiting
//     pinned here, CPUs)
//   - a waking task goes straight to an idle allowed CPU (no draw) if any;
//     otherwise it waits, and the CPU lotto_victim_score picks ends its
//     quantum now (kick), at the next tick (tick), or once it has run
//     min_run (lotto_wake_action)
//   - tickets are read from lotto_ctl at every draw (ctl.pid must be the
//     thread, the value valid), else the default tickets
//   - compensation: f = lotto_comp_q10(CPU used since the last draw, slice)
//   - starvation guard: a task that has waited starve_ms is run by the next
//     dispatch on a CPU it may use, whatever its key (V is left alone)
//   - ticket transfers (lotto_rules.h): a wake-up (a call, a reply) makes
//     the two threads funders of each other; a sleeping funder adds its
//     tickets to its partner in its last wake-up, at that task's draws, and
//     the task is redrawn when its funder goes to sleep
//   - a quantum shorter than the slice ends exactly (the core's quantum
//     timer); the slice itself, and everything in --preempt tick mode, ends
//     at the first boundary after that of `tick` in the workload if it has
//     one (HZ ticks in the kernel); CPU time is always charged exactly
//
// Deliberate differences from the BPF core (docs/sim.md): events are
// serial, so no two CPUs ever draw at the same moment (the core's shared clock
// then moves by the larger target, not the sum); tasks with partial CPU masks
// get a group and a V of their own (in the core they wait with the shared
// tasks, and a draw on a CPU they may not use moves the shared clock under
// them); the starvation guard picks the longest waiter directly (the core
// scans a FIFO of wait records, a few per dispatch); a wake-up looks at every
// CPU (the core at up to 64); any number of groups may have tasks pinned to
// one CPU (the core: 16 slots per CPU); an IPI takes no time; the core's optional handoff (a
// task woken by a running task waits for its waker's CPU) is not modelled: a
// server called by its client goes to an idle CPU at once if there is one, as
// in the core by default;
// a call or reply never makes the caller's own CPU draw early (it draws when
// the caller sleeps, a moment later in the core); a server replies and
// sleeps at once (in the core it may be preempted between the two, and then
// serves the next call without sleeping).
//
// Time is simulated: nothing sleeps. run_for() processes the events (slice
// ends, burst ends, wake-ups, task starts and exits) up to the new time.
#pragma once

#include "core/backend.h"
#include "core/result.h"
#include "sim/cgroup_tree.h"
#include "sim/run_queue.h"
#include "sim/slot_table.h"
#include "sim/workload.h"

extern "C" {
#include "bpf/lotto_rules.h"
}

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

namespace lotto::sim {

inline constexpr uint32_t kFirstPid = 10000;

enum class ThreadState { NotStarted, Sleeping, Waiting, Running, Exited };

// What the machine knows about one simulated thread, slot or not, alive or not.
struct ThreadReport {
	uint32_t pid = 0;
	uint32_t tgid = 0;
	std::string comm;
	ThreadState state = ThreadState::NotStarted;
	std::optional<uint32_t> slot;	// none: not started, exited, or table full
	uint64_t runtime_ns = 0;	// CPU time, including the running stint so far
	uint64_t wait_ns = 0;		// runnable but not running
	uint64_t wait_max_ns = 0;
	uint64_t waits = 0;
	uint64_t wins = 0;
	uint64_t rescues = 0;
	uint32_t cpus_used = 0;		// how many distinct CPUs it ran on
};

class SimMachine {
public:
	// Build the machine: nr CPUs = cfg.sim_cpus, else the workload's `cpus`,
	// else this host's CPU count. Tasks that start at 0 are already in their
	// slots when this returns.
	static Result<std::unique_ptr<SimMachine>> create(const Workload &w, const BackendConfig &cfg);
	// the same from workload text ("task name=a cpu=100%\n...")
	static Result<std::unique_ptr<SimMachine>> from_text(std::string_view workload, const BackendConfig &cfg);

	SimMachine(const SimMachine &) = delete;
	SimMachine &operator=(const SimMachine &) = delete;

	// Advance simulated time by `ns`, processing every event on the way.
	void run_for(uint64_t ns);
	uint64_t now_ns() const { return now_; }

	uint32_t nr_cpus() const { return uint32_t(cpus_.size()); }
	uint64_t slice_ns() const { return slice_ns_; }
	uint64_t tick_ns() const { return tick_ns_; }
	size_t nr_threads() const { return threads_.size(); }	// declared, any state
	size_t nr_alive() const { return alive_; }

	// ---- the backend's view (bpf/lotto_abi.h layout, shared memory)
	const lotto_task_stat *tasks() const { return slots_.tasks(); }
	lotto_ctl *ctl() { return slots_.ctl(); }
	uint32_t slots_hw() const { return slots_.hw(); }
	GlobalStats stats() const;

	// ---- conveniences for tests, the REPL and demos
	std::vector<uint32_t> pids() const;			// every declared thread, ascending
	std::vector<uint32_t> pids_named(std::string_view comm) const;
	std::optional<ThreadReport> thread(uint32_t pid) const;
	std::optional<uint32_t> slot_of(uint32_t pid) const;	// none: no slot now
	// Write lotto_ctl for a live thread the way the host does (one 64-bit
	// store of {pid, tickets}); false if it has no slot.
	bool set_tickets(uint32_t pid, uint32_t tickets);
	// as writing cpu.weight (the core's ops.cgroup_set_weight); false if the
	// cgroup is not a group
	bool set_cgroup_weight(const std::string &path, uint32_t weight);
	// as user space writing lotto_task_groups / lotto_group_ctl
	bool set_group(uint32_t pid, uint32_t gid);
	void set_funding(uint32_t gid, uint32_t funding);
	void set_group_flags(uint32_t gid, uint32_t flags);	// LOTTO_GROUP_F_*
	const lotto_group_stat *groups() const { return slots_.groups(); }
	lotto_group_ctl *group_ctl() { return slots_.group_ctl(); }
	lotto_task_group *task_groups() { return slots_.task_groups(); }
	bool ran_on(uint32_t pid, uint32_t cpu) const;
	// the workload's path for a cgroup_id found in lotto_task_stat ("" if unknown)
	std::string cgroup_path(uint64_t cgroup_id) const;
	// a one-line summary for logs
	std::string describe() const;

private:
	struct Thread {
		uint32_t pid = 0, tgid = 0;
		uint32_t spec = 0;		// index into specs_
		uint32_t group = 0;		// run queue group of its allowed CPUs
		uint32_t slot = UINT32_MAX;	// UINT32_MAX: none
		ThreadState state = ThreadState::NotStarted;
		uint64_t key = 0, enq_ns = 0;	// while waiting
		int32_t cpu = -1;		// while running
		uint32_t last_cpu = 0;
		uint64_t burst_left = 0;	// CPU time until it blocks (UINT64_MAX: never)
		uint64_t stint_start = 0;	// charged up to here
		uint64_t run_start = 0;		// its quantum began (run_on)
		uint64_t q_end = 0;		// its quantum ends (run_on; a held-up stint runs past it)
		uint64_t granted = 0;		// length of the quantum it runs
		uint64_t used = 0;		// CPU since its last draw, before stint_start
		uint64_t pos = 0;		// its group's V when the quantum began (catch-up)
		uint32_t credit = 0;		// wins credited by catch-up, not run yet
		uint32_t cur = 0;		// its group (currency) at its last draw or run
		uint32_t tickets = 0;		// its tickets when its quantum began
		uint32_t fdraw = LOTTO_COMP_ONE;	// f at its last draw
		uint64_t ipos = 0;		// its group's V_g when the quantum began
		uint64_t apos = 0;		// its group's absence (RunQueue::absent) then
		bool woken = false;		// woke up and has not run since
		uint64_t wake_token = 0;	// invalidates a pending wake-up
		uint32_t peer = UINT32_MAX;	// client: its server thread; server: its client
		bool in_tail = false;		// a server between its reply and its next read
		bool call_waiting = false;	// a server: its client called while it ran
		lotto_sleep sleep{};		// transfers: asleep, whom it points at (lotto_rules.h)
		std::array<lotto_funder, LOTTO_FUNDERS> fund{};	// wakers that may fund it
		uint32_t fnext = 0;
		uint32_t woke = UINT32_MAX;	// the thread it points at (redrawn when it sleeps)
		bool hrun = false;		// runnable: counted in its cgroups (cgroup_tree.h)
		uint32_t hgid = 0;		// the cgroup group it is counted in then (0: none)
		ThreadReport r;			// counters (slot mirrors them)
		CpuSet ran;
	};
	struct Cpu {
		int64_t cur = -1;		// running thread, -1: idle
		uint64_t token = 0;		// invalidates a pending stint end
		uint64_t end = 0;		// when the pending stint end is due
		uint64_t woke_at = 0;		// a wake-up asked for an early draw (lotto_wake_pending)
		std::array<uint64_t, LOTTO_STAT_NR> stat{};
	};
	enum class Ev : uint8_t { Start, Wake, Stop, StintEnd };
	struct Event {
		uint64_t t;
		uint64_t seq;
		Ev kind;
		uint32_t target;	// thread or CPU
		uint64_t token;
		bool operator>(const Event &o) const { return t != o.t ? t > o.t : seq > o.seq; }
	};

	SimMachine(const BackendConfig &cfg, SlotTable slots, RunQueue rq, uint32_t nr_cpus);
	void populate(const Workload &w);

	void push(uint64_t t, Ev kind, uint32_t target, uint64_t token);
	void advance_to(uint64_t t);
	void handle(const Event &e);

	void start(uint32_t t);
	void wake(uint32_t t, int64_t waker = -1, bool waker_sleeps = true);
	void keep_running(uint32_t cpu, uint32_t t, uint64_t used, bool reply);
	void stop(uint32_t t);
	void stint_end(uint32_t cpu);
	void go_to_sleep(uint32_t cpu, uint32_t t);

	// ticket transfers (lotto_rules.h; the core's lotto_transfers.bpf.h)
	void xfer_note_waker(uint32_t t, uint32_t waker);
	void xfer_point(uint32_t from, uint32_t to);
	bool xfer_may(uint32_t t);
	uint32_t xfer_tickets(uint32_t t, uint32_t gid, uint32_t own);
	void xfer_redraw(uint32_t cpu, uint32_t sleeper);

	void dispatch(uint32_t cpu, int64_t prev, bool expired);
	uint32_t tickets_of(uint32_t t, uint32_t f, uint32_t gid);
	uint32_t comp_of(uint32_t t) const;
	uint32_t group_of(uint32_t t) const;
	uint32_t weight_of(uint32_t gid) const;
	struct Rate {
		uint32_t funding, comp;	// what the group races with at the top
	};
	Rate rate_of(uint32_t gid, uint32_t f);
	void runnable(uint32_t t);
	void quiescent(uint32_t t);
	void follow(uint32_t t, uint32_t gid);
	uint64_t outer_delta(uint32_t gid, uint32_t tickets, uint32_t f);
	void enqueue(uint32_t t, uint32_t gid, uint64_t key, std::optional<uint64_t> outer, uint32_t on_cpu);
	void enter(uint32_t t, uint32_t on_cpu);
	uint32_t take(uint32_t cpu, const RunQueue::Top &top);
	void group_won(uint32_t cpu, uint32_t d, uint32_t gid, uint32_t f);
	uint32_t running_tickets(uint32_t gid) const;
	void catch_up(uint32_t cpu, uint32_t p, uint32_t gid, uint32_t tickets, uint32_t f);
	void run_on(uint32_t cpu, uint32_t t, bool refill, bool won = true);
	uint64_t quantum(uint32_t cpu) const;
	uint64_t tick_after(uint64_t t) const;	// t rounded up to a tick (t if no ticks)
	void end_stint_at(uint32_t cpu, uint64_t t);
	void wake_preempt(uint32_t t, int64_t skip_cpu);
	void kick_idle(uint32_t t);
	void set_cur(uint32_t cpu, int64_t t);	// keeps idle_ in step
	int64_t idle_cpu_for(uint32_t t) const;
	void sync_slot(uint32_t t);
	void sync_running();

	const BackendConfig cfg_;
	const uint64_t slice_ns_;
	const uint64_t latency_ns_;
	const uint64_t min_run_ns_;
	const uint64_t starve_ns_;
	uint64_t tick_ns_ = 0;
	SlotTable slots_;
	RunQueue rq_;
	std::vector<Cpu> cpus_;
	std::vector<TaskSpec> specs_;
	std::vector<uint64_t> spec_cgroup_;		// cgroup_id per spec
	std::vector<uint32_t> spec_gid_;		// its cgroup's group per spec (0: root)
	std::map<uint32_t, uint32_t> gid_weight_;	// cgroup groups' cpu.weight
	std::vector<std::string> cgroups_;		// path per cgroup_id - 1
	CgroupTree tree_{[this](uint32_t gid) { return weight_of(gid); }};
	std::vector<Thread> threads_;			// pid = kFirstPid + index
	std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
	uint64_t seq_ = 0;
	uint64_t now_ = 0;
	uint32_t idle_ = 0;				// CPUs with nothing to run
	lotto_rng rng_{};
	// `stall` (workload): quanta held up, as a host holds up a VM's vCPU;
	// a stream of its own, so that the draws are the same without stalls
	uint32_t stall_pct_ = 0;
	uint64_t stall_mean_ns_ = 0;
	lotto_rng stall_rng_{};
	size_t alive_ = 0;
	std::string source_;
};

} // namespace lotto::sim
