/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto — a lottery scheduler for sched_ext.
 *
 * Policy. Every time a CPU needs a task, the winner is drawn at random among
 * the runnable lotto tasks allowed on that CPU with probability
 * tickets_i / sum(tickets): an exact lottery (Waldspurger & Weihl, 1994), not
 * a deterministic approximation such as stride or vtime order. What a user is
 * promised is the share: over time each task gets tickets / (sum of the
 * runnable tasks' tickets) of the machine, capped at one CPU, on any number
 * of CPUs.
 *
 * How a draw costs O(log n): an exponential race. A task entering the race
 * gets the key
 *
 *	key = V + E * f / t,	E ~ Exp(1), t = its tickets, f = compensation
 *
 * and waits in a vtime-ordered DSQ (an rb-tree). For independent exponentials
 * with rates t_i/f_i the minimum belongs to task i with probability
 * (t_i/f_i) / sum_j(t_j/f_j). After a draw won with residual d, every key
 * still waiting is above V + d, and by memorylessness what is left of it is
 * again Exp(t_j/f_j), exactly as if task j had drawn afresh: so V moves by d
 * and the next pop is again an exact lottery among whoever is runnable then,
 * without redrawing anyone. Insert and pop are O(log n). E = -ln(U) comes
 * from lotto_math.h in fixed point (Q16, error below 2/65536); keys are
 * compared wrap-safe, like the DSQ itself compares them.
 *
 * prev takes part in the draw. ops.dispatch(cpu, prev) runs while the task
 * whose quantum just ended is still on the CPU and has not been handed back
 * to ops.enqueue. A lottery among the DSQs alone would never let prev win
 * twice in a row: two pinned hogs with 3:1 tickets measured 1.08:1. So
 * dispatch draws prev afresh and lets it compete; if it wins, its quantum is
 * renewed and it keeps the CPU. If prev loses it is enqueued a moment later
 * and draws again: by memorylessness the discarded draw and the fresh one
 * have the same law. That enqueue comes before the winner's ops.running(), so
 * the clocks move in dispatch, as soon as the winner is taken: drawing at an
 * old clock would give the loser a head start of d.
 *
 * Domains, one clock each. A single V is exact only if every draw is among
 * all waiting tasks. With one V for all CPUs, pops on CPU 1 pushed V past
 * keys of tasks only CPU 0 may run (a pinned 10:1 pair measured 3.6:1). So
 * waiting tasks are split by where they may run, each domain with its clock:
 *   - shared: tasks that may run on more than one CPU, in LOTTO_DSQ, clock
 *     lotto_vshared;
 *   - pinned to c: tasks whose only CPU is c (nr_cpus_allowed == 1: taskset
 *     to one CPU, per-CPU kthreads), in LOTTO_DSQ_PIN_BASE + c, clock
 *     lotto_vpin[c].
 * A task draws at its domain's clock, and its domain is chosen afresh at every
 * enqueue, so a mask change moves it at its next enqueue. A draw on CPU c
 * compares residuals (key - clock of its domain, lotto_residual) of: prev, the
 * head of c's pinned DSQ and the first shared task allowed on c. The smallest
 * wins, and its residual d moves both clocks allowed on c: every task in
 * those domains lost a race to d, so their residuals are again exponential.
 *
 * Several CPUs: catch-up (lotto_rules.h). The draw above is exact among the
 * tasks *waiting*, but a task running on another CPU cannot take part in it,
 * and a big holder is more often the one running elsewhere: four unpinned
 * hogs 1:2:3:4 on 2 CPUs got .13/.23/.30/.34 of the machine, 4:1 on 4 CPUs
 * got 2.25:1. The race fixes this after the fact: while a shared task runs,
 * the shared clock moves by the residuals of the other CPUs' winners, and the
 * task's own race is a Poisson process of rate t/f on that clock. When its
 * quantum ends, dispatch counts the events of that process that fell within
 * the clock's move (lotto_catchup): each is a draw it would have won had it
 * been waiting, and it is credited as one more quantum where it runs (no draw
 * is made for it). The other CPUs' winners are not changed by this (the
 * smallest key among the waiting tasks is what it is), so every decision is
 * an exact lottery among all runnable tasks that may run on that CPU,
 * running elsewhere or not, and each task's share of the wins is its share of
 * the tickets. The credit is capped (LOTTO_CATCHUP_MAX quanta): a task that
 * would need more than one CPU fills it and is held to one CPU, its surplus
 * going to the others by their tickets. Credit is spent only when a quantum
 * expires by itself, never on a wake-up's early draw (below), and is dropped
 * when the task blocks. Pinned tasks need none: their clock moves only by
 * their own CPU's draws, which they are part of.
 *
 * Quanta and wake-ups (lotto_rules.h): latency from more draws, never from
 * bending one. Because every task is charged the CPU it used (compensation,
 * below), deciding more often changes nobody's expected share; it only
 * shortens the time a task waits for a draw it can win.
 *   - A quantum is latency / (tasks waiting per CPU + 1), clamped to
 *     [min_run, slice]: a round of the waiting tasks takes about `latency`.
 *   - Nothing else may run here: the task keeps its CPU, no draw (ALONE).
 *   - A wake-up that finds no idle CPU makes a busy CPU the task may use draw
 *     early: the one whose task has run longest in its quantum (the CPU it
 *     waits on, its waker's, if that one has run min_run), ended now by an
 *     IPI (SCX_KICK_PREEMPT) or at its next tick (its slice set to 0), or,
 *     if it has not run min_run
 *     yet, once it has (its slice cut), so a storm of wake-ups cannot become
 *     a storm of switches. A CPU is asked once per quantum: later wake-ups
 *     ask another or none (their tasks are in the draw that comes anyway),
 *     so a storm does not become a storm of IPIs either. The woken task is
 *     in that draw with its compensation tickets; the CPU's own task is too,
 *     charged what it used.
 *
 * Currencies: groups, an exact two-level lottery (lotto_groups.bpf.h).
 * Every task belongs to a group: the root (gid 0, its tasks race with their
 * own tickets, as if there were no groups), its cgroup (funded by
 * cpu.weight; ops.cgroup_init/exit/set_weight) or a group user space put it
 * in (lotto_task_groups, funded through lotto_group_ctl). In each domain
 * above (shared, or pinned to c) a group with tasks waiting races as one
 * entry with its funding on the domain's clock, and its waiting tasks race
 * in a DSQ of their own on the group's inner clock. A draw takes the
 * smallest residual among the root tasks and the group entries (a segment
 * tree of group keys under a spin lock: minimum O(1), update O(log groups));
 * if a group wins, its first task. Both levels are exponential races, so
 * both choices are exact: a group with probability funding / (sum of the
 * active funding and root tickets), a task in it by tickets / (sum inside).
 * A group with nothing waiting is out of the race and dilutes no one; more
 * tasks or tickets inside a group change no other group's share
 * (insulation). Catch-up applies at both levels: a group whose tasks all run
 * elsewhere is credited the outer wins it missed, thinned to each running
 * task by its tickets (lotto_rules.h). Nested cgroups are flattened as the
 * fair class weighs them (lotto_cgroups.bpf.h): a nested cgroup's group
 * races with its top-level cgroup's funding times its share of it, the
 * product of weight / (active weight of the parent) down its path, folded
 * into the charge; the share is read at each of the group's draws
 * (docs/design.md, section 11).
 *
 * Ticket transfers (lotto_transfers.bpf.h, rules in lotto_rules.h; on with
 * --transfers, or per group by a policy). A task that goes to sleep lends
 * its own tickets to its partner in its last wake-up (the task it woke or
 * the one that woke it, whichever came last), while that task has not
 * slept since: a client blocked on its request funds the server thread
 * serving it. One hop, no chains; at most LOTTO_FUNDERS funders per task.
 * Who woke whom (two user tasks: kernel threads are nobody's partner) is
 * recorded by the sched_waking tracepoint (lotto_waking), in the waker's
 * context; the sleep (ops.quiescent) makes the next dispatch on
 * that CPU redraw the funded task at its clock with its new tickets, which
 * is exact by memorylessness.
 *
 * Compensation tickets. A won draw does not buy a fixed amount of CPU: a task
 * may block early, a wake-up may end its quantum, quanta vary with load, and
 * with tick-granular accounting (HZ=250: 4 ms) a hog overruns its quantum by
 * a variable amount. Counting wins right but CPU time wrong measured 2.27:1
 * for 2:1 and 5.80:1 for 5:1. So each task carries f = used / slice, the CPU
 * it used since it last took part in a draw (running() to stopping(), summed
 * over preemptions) against the longest quantum (a fixed reference, so the
 * charge is the CPU time itself whatever the quantum was), and its next key
 * is scaled by f: a task that used a quarter of it competes with 4 x tickets.
 * Clamped to [1/64, 8] by lotto_comp_q10(). Switchable (compensation).
 *
 * Starvation guard. Whatever the ticket skew, no runnable task may wait
 * longer than lotto_cfg.starve_ms (default 5 s; the kernel's watchdog ejects
 * the scheduler at 30 s). Each enqueue pushes a {slot, seq, pid, DSQ, time}
 * record onto a FIFO map; the slot's wait entry says whether that wait is still
 * live. Each dispatch pops a few records: dead ones are dropped, young live
 * ones go back to the tail (so dead records behind them keep draining), and a
 * live one older than the bound gets a starving task moved straight to a CPU
 * it may run on, overriding the draw (LOTTO_STAT_RESCUES): its own, or one
 * found first on the way to it (guard_rescue); a young one of a task
 * whose group is out of its tree puts the group back (guard_group_in: an
 * enqueue's insert lands after ops.enqueue returns, and can race the draw
 * that empties the group). How much this bends the
 * lottery: with quantum L and bound B a task of share s waits longer than B
 * in an ideal lottery with probability about (1 - s)^(B/L) per wait. For
 * L = 20 ms, B = 5 s that is below 1% for s >= 2% and the guard almost never
 * acts; a task with s well below L/B (0.4%) is raised to about one quantum
 * per B, i.e. a share floor of ~L/(B + L), taken from everyone else in
 * proportion to their wins (1,000,000:1 with B = 500 ms measured 4.3%,
 * predicted 4.5%). A live record is looked at again after about (waiting
 * tasks / LOTTO_GUARD_LIVE) dispatches, which adds to B on very long queues.
 *
 * Where a woken task goes. An idle CPU first (select_cpu, direct insert, no
 * contest: nobody waiting may run there or the CPU would not be idle); if
 * none is idle, the waker's CPU: the task waits in its domain's DSQ as
 * always, and only its runqueue is the waker's, so the CPU that takes it
 * when the waker sleeps (a request handed over, a pipe) does so without a
 * migration, which costs a dispatch most of its time (docs/benchmarks.md).
 * Which task a CPU takes stays the draw's choice. Enqueue kicks an idle CPU
 * the task may use: no CPU idles while a task that may run there waits. A
 * CPU takes only from its own pinned DSQ and, in the shared DSQ, only tasks
 * whose cpumask contains it.
 *
 * Queued wake-ups (SCX_OPS_ALLOW_QUEUED_WAKEUP). Without it, a wake-up onto
 * another CPU is done by the waker: it takes that CPU's runqueue lock,
 * enqueues, and sends the IPI while holding it. Under TCG the waker then
 * stalled until its next tick while the woken CPU spun on that lock (traces
 * of a dispatcher and one worker: p99 wake-up latency 2.6-3.5 ms against
 * 80-110 us for the default scheduler, which queues such wake-ups). With it,
 * the woken CPU does its own enqueue (ops.enqueue() runs there, in its
 * interrupt or idle context), as the fair class does. So nothing in enqueue
 * may take the current task for the waker: who woke whom is recorded by the
 * sched_waking tracepoint, in the waker's context (lotto_waking).
 *
 * Trade-offs we live with: tasks whose mask holds some CPUs but not all wait
 * in the shared DSQ, and a draw on a CPU they may not use moves the shared
 * clock under them (close to exact, not exact); two CPUs drawing at the same
 * moment move the shared clock to the larger of their targets, not by the
 * sum; finding the first shared task allowed on c walks past tasks with
 * partial masks that exclude c, as the kernel's own move_to_local would; a
 * task taken by another CPU between our look and our move is skipped; a
 * wake-up looks at up to LOTTO_VICTIM_SCAN CPUs for one to draw early; CPUs
 * from LOTTO_PIN_CPUS up have no pinned group and are never made to draw
 * early; a full slot table (LOTTO_MAX_TASKS live threads) leaves further
 * tasks on default tickets, without statistics or a wait record of their own
 * (LOTTO_STAT_NO_SLOT; a rescue walk may still take one past the bound).
 */
#include "lotto_common.bpf.h"
#include "lotto_abi.h"
#include "lotto_rules.h"

char _license[] SEC("license") = "GPL";

#define LOTTO_GUARD_SCAN	16	/* wait records popped per dispatch, at most */
#define LOTTO_GUARD_LIVE	2	/* of which live (rotated) ones, at most */
#define LOTTO_WAITQ_LEN		(2 * LOTTO_MAX_TASKS)
#define LOTTO_VICTIM_SCAN	64	/* CPUs a wake-up looks at for an early draw */

/* set by the host between open and load */
const volatile struct lotto_config lotto_cfg = {
	.default_tickets = LOTTO_TICKETS_DEFAULT,
	.slice_us = LOTTO_SLICE_US_DEFAULT,
	.starve_ms = LOTTO_STARVE_MS_DEFAULT,
	.compensation = 1,
	.latency_us = LOTTO_LATENCY_US_DEFAULT,
	.min_run_us = LOTTO_MIN_RUN_US_DEFAULT,
	.preempt = LOTTO_PREEMPT_DEFAULT,
	.catchup = 1,
	.handoff_us = LOTTO_HANDOFF_US_DEFAULT,
	.flags = LOTTO_CFG_CGROUPS,
};

/* read by the host through the mmaped .bss */
u32 lotto_slots_hw;
struct lotto_exit_info lotto_exit;

/*
 * The groups and their race clocks V. The shared group waits in LOTTO_DSQ
 * with clock lotto_vshared; CPU c's pinned group waits in
 * LOTTO_DSQ_PIN_BASE + c with clock lotto_vpin[c]. Each clock sits in a cache
 * line of its own: every draw writes the shared one and its CPU's one. CPUs
 * from LOTTO_PIN_CPUS up (and, on such machines, their pinned tasks) use the
 * shared group only.
 */
#define LOTTO_PIN_CPUS		512
struct vclock {
	u64 v;
	u64 pad[7];
};
struct vclock lotto_vshared;
struct vclock lotto_vpin[LOTTO_PIN_CPUS];
u32 lotto_nr_pin;	/* pinned DSQs made by lotto_init: CPUs 0 .. lotto_nr_pin - 1 */
u32 lotto_nr_cpus;	/* scx_bpf_nr_cpu_ids() */

/*
 * When the lotto quantum running on each CPU began (0: none), for a wake-up
 * that looks for a CPU to draw early. Written by that CPU only; read by
 * wakers elsewhere without a lock: a stale value at worst picks a CPU whose
 * draw is a little early or late, never a wrong draw.
 */
struct cpu_run {
	u64 start;
	u64 woke_at;	/* a wake-up asked this CPU for an early draw (lotto_wake_pending) */
	u64 pad[6];
};
struct cpu_run lotto_cpu_run[LOTTO_PIN_CPUS];

/*
 * The mask keeps the verifier sure of the bound (callers check cpu <
 * LOTTO_PIN_CPUS already, and clang drops a plain mask as redundant).
 */
static __always_inline struct cpu_run *cpu_run_of(u32 cpu)
{
	u64 i = cpu;

	asm volatile("%[i] &= %[m]" : [i] "+r"(i) : [m] "i"(LOTTO_PIN_CPUS - 1));
	return &lotto_cpu_run[i];
}

/*
 * A timer per CPU ends quanta that are shorter than the longest one (under
 * load, lotto_slice_ns; or cut to the minimum run by a wake-up) exactly,
 * instead of at the next scheduler tick: with HZ=250 a 3 ms quantum would
 * otherwise last up to 7 ms, and each lost draw of a woken task would cost a
 * tick. The timer is armed for a quantum (identified by its start, as in
 * lotto_cpu_run) and kicks the CPU only if that quantum is still running.
 * A timer that already fires no later than the new quantum's end is left
 * alone, and re-armed when it fires if the quantum it finds has not ended:
 * arming reprograms the clock event, which under TCG costs about as much
 * as the rest of a switch, and a CPU that switches tasks every 200 us would
 * otherwise pay it at every switch (docs/design.md, section 4.3).
 */
struct qtimer {
	struct bpf_timer timer;
	u64 start;	/* the quantum to end: its start */
	u64 end;	/* and when it ends */
	u64 expires;	/* when the timer fires; 0: not armed */
};

#define LOTTO_QTIMER_EARLY_NS	10000	/* a quantum this close to its end is ended */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_PIN_CPUS);
	__type(key, u32);
	__type(value, struct qtimer);
} lotto_qtimers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LOTTO_MAX_TASKS);
	__type(key, u32);
	__type(value, struct lotto_task_stat);
} lotto_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LOTTO_MAX_TASKS);
	__type(key, u32);
	__type(value, struct lotto_ctl);
} lotto_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, __u64[LOTTO_STAT_NR]);
} lotto_stats SEC(".maps");

/* free slot indices; lotto_init pushes them so that low slots pop first */
struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, LOTTO_MAX_TASKS);
	__type(value, u32);
} lotto_free_slots SEC(".maps");

/* the starvation guard's wait records and, per slot, which wait is live */
struct wait_rec {
	u32 slot;
	u32 seq;
	u32 pid;
	u32 dsq;	/* where the task waits: a rescue walks this DSQ only */
	u64 since;
};

struct slot_wait {
	u32 seq;	/* bumped at every enqueue of the slot's task */
	u32 live;	/* 1 from enqueue until the task runs */
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, LOTTO_WAITQ_LEN);
	__type(value, struct wait_rec);
} lotto_waitq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_MAX_TASKS);
	__type(key, u32);
	__type(value, struct slot_wait);
} lotto_slot_wait SEC(".maps");

/* per-task private state */
struct task_ctx {
	u64 run_start;		/* running() or a renewed quantum; 0 while not running */
	u64 wait_start;		/* became runnable or was switched out runnable */
	u64 used;		/* CPU used since its last draw, before run_start */
	u64 granted;		/* length of the quantum it is running */
	u64 pos;		/* shared clock when that quantum began (catch-up) */
	u32 credit;		/* wins credited by catch-up, not run yet */
	s32 slot;		/* in lotto_tasks, -1: none */
	u32 woken;		/* woke up and has not run since */
	u32 handoff;		/* select_cpu queued it on its waker's CPU (--handoff-us) */
	u32 fdraw;		/* f at its last draw (its group's next outer key uses it) */
	u32 gid;		/* its group at its last draw; 0: the root */
	s32 gpin;		/* the domain of that group's place: -1 shared, else the CPU */
	u32 gslot;		/* the place's slot in that domain's tree */
	u32 gidx;		/* the place in lotto_gstate */
	u32 run_tickets;	/* its tickets counted in its place's run_tickets (0: none) */
	u64 ipos;		/* its group's inner clock when its quantum began */
	u64 apos;		/* its group's absence (g_absent) then */
	u32 tickets;		/* its tickets at its last draw, transfers included */
	u32 fnext;		/* the funder entry a new waker replaces when all are live */
	struct lotto_funder fund[LOTTO_FUNDERS];	/* wakers that may fund it (transfers) */
	u32 xpid;		/* the task it points at (0: none): it funds it while asleep */
	s32 xslot;		/* that task's slot */
	u32 wdsq;		/* the queue it waits in (while lotto_slot_wait says so) */
	u32 hrun;		/* runnable: counted in its cgroups (lotto_cgroups.bpf.h) */
	u32 hgid;		/* the cgroup group it is counted in then (0: none) */
	u32 hgen;		/* that group's generation (lotto_cgroups.bpf.h) */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} lotto_task_ctx SEC(".maps");

static __always_inline struct task_ctx *ctx_of(struct task_struct *p);

#include "lotto_groups.bpf.h"
#include "lotto_cgroups.bpf.h"

static __always_inline u64 slice_ns(void)
{
	return (u64)lotto_cfg.slice_us * 1000;
}

static __always_inline u64 min_run_ns(void)
{
	return (u64)lotto_cfg.min_run_us * 1000;
}

/* the task next in line in a DSQ woke up and has not run since */
static __always_inline bool head_woken(u64 dsq)
{
	struct task_struct *q = scx_bpf_dsq_peek(dsq);
	struct task_ctx *c;

	if (!q)
		return false;
	c = ctx_of(q);
	return c && c->woken;
}

/*
 * The quantum of a task that starts (or keeps) running on cpu now. A woken
 * task waits for this CPU if a wake-up marked it (and that task has not run
 * since) or one heads a queue it draws from.
 */
static __always_inline u64 quantum_ns(s32 cpu, u64 now)
{
	u64 latency = (u64)lotto_cfg.latency_us * 1000;
	s32 shared = scx_bpf_dsq_nr_queued(LOTTO_DSQ);
	s32 pinned = 0;
	bool preempt = lotto_cfg.preempt != LOTTO_PREEMPT_OFF;
	bool woken = false;

	if (cpu >= 0 && cpu < LOTTO_PIN_CPUS && preempt)
		woken = lotto_wake_pending(now, READ_ONCE(cpu_run_of(cpu)->woke_at), latency);
	if (!woken && preempt && shared > 0)
		woken = head_woken(LOTTO_DSQ);
	shared += g_nr_active(-1);	/* a group waits as one entry */
	if (cpu >= 0 && (u32)cpu < READ_ONCE(lotto_nr_pin)) {
		pinned = scx_bpf_dsq_nr_queued(LOTTO_DSQ_PIN_BASE + (u32)cpu);
		if (pinned > 0 && !woken && preempt)
			woken = head_woken(LOTTO_DSQ_PIN_BASE + (u32)cpu);
		pinned += g_nr_active(cpu);
	}
	return lotto_slice_ns(latency, min_run_ns(), slice_ns(), shared > 0 ? shared : 0,
			      pinned > 0 ? pinned : 0, lotto_nr_cpus, woken);
}

static __always_inline u64 *cpu_run_start(u32 cpu)
{
	return &cpu_run_of(cpu)->start;
}

static __always_inline void cpu_run_set(s32 cpu, u64 start)
{
	if (cpu >= 0 && cpu < LOTTO_PIN_CPUS)
		WRITE_ONCE(*cpu_run_start(cpu), start);
}

static __always_inline void stat_inc(u32 idx);

static int qtimer_fn(void *map, int *key, struct qtimer *qt)
{
	u32 cpu = *key;
	u64 now = bpf_ktime_get_ns(), start = READ_ONCE(qt->start), end = READ_ONCE(qt->end);

	WRITE_ONCE(qt->expires, 0);
	/* start read again: end belongs to it, not to a quantum armed meanwhile */
	if (cpu >= LOTTO_PIN_CPUS || !start || READ_ONCE(*cpu_run_start(cpu)) != start ||
	    READ_ONCE(qt->start) != start)
		return 0;
	if (end > now + LOTTO_QTIMER_EARLY_NS) {	/* armed for an earlier quantum */
		WRITE_ONCE(qt->expires, end);
		if (bpf_timer_start(&qt->timer, end - now, 0))
			WRITE_ONCE(qt->expires, 0);
		return 0;
	}
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	stat_inc(LOTTO_STAT_TIMER_ENDS);
	return 0;
}

/* end the quantum that began at `start` on cpu ns after now */
static __always_inline void qtimer_arm(s32 cpu, u64 start, u64 now, u64 ns)
{
	struct qtimer *qt;
	u32 k = cpu;
	u64 exp, cut;

	if (cpu < 0 || cpu >= LOTTO_PIN_CPUS)
		return;
	qt = bpf_map_lookup_elem(&lotto_qtimers, &k);
	if (!qt)
		return;
	/* a wake-up's cut of this same quantum (wake_preempt) stands */
	cut = READ_ONCE(qt->end);
	if (READ_ONCE(qt->start) == start && cut > now && cut < now + ns)
		ns = cut - now;
	WRITE_ONCE(qt->start, start);
	WRITE_ONCE(qt->end, now + ns);
	exp = READ_ONCE(qt->expires);
	if (exp > now && exp <= now + ns)
		return;	/* it fires first, and then re-arms for this end */
	WRITE_ONCE(qt->expires, now + ns);
	if (bpf_timer_start(&qt->timer, ns, 0))
		WRITE_ONCE(qt->expires, 0);
}

/*
 * Handoff (--handoff-us, off by default). A task woken by a running task is
 * queued on the waker's CPU first, even when another CPU is idle: a waker
 * that hands work over often blocks right after, and then its CPU takes the
 * woken task without waking another one. If the task still waits after
 * handoff_us, a timer wakes an idle CPU for it: no CPU idles longer than that
 * while a task that may run there waits. One timer per CPU, armed once per
 * window. It was the default while waking an idle CPU was slow (the waker
 * held that CPU's runqueue lock across the IPI; see queued wake-ups in the
 * design comment); since wake-ups are queued, an idle CPU is faster: a
 * dispatcher waking two workers had a median wake-up latency of one worker's
 * burst with handoff (236 us), 63-76 us without (docs/benchmarks.md).
 */
struct handoff {
	struct bpf_timer timer;
	u64 armed;	/* a window is open */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_PIN_CPUS);
	__type(key, u32);
	__type(value, struct handoff);
} lotto_handoffs SEC(".maps");

#define LOTTO_HANDOFF_KICKS	4	/* idle CPUs one window's end may wake */

/* wake an idle CPU in mask, if there is one (true if one was kicked) */
static __always_inline bool kick_idle_for(const struct cpumask *mask)
{
	s32 cpu = scx_bpf_pick_idle_cpu(mask, 0);

	if (cpu < 0)
		return false;
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	return true;
}

static int handoff_fn(void *map, int *key, struct handoff *h)
{
	s32 n = scx_bpf_dsq_nr_queued(LOTTO_DSQ);
	int i;

	WRITE_ONCE(h->armed, 0);
	bpf_for(i, 0, LOTTO_HANDOFF_KICKS) {
		struct task_struct *q;

		if (i >= n)
			break;
		q = scx_bpf_dsq_peek(LOTTO_DSQ);
		if (!q || !kick_idle_for(q->cpus_ptr))
			break;
		stat_inc(LOTTO_STAT_HANDOFF_KICKS);
	}
	return 0;
}

/* open a handoff window on cpu, unless one is open */
static __always_inline void handoff_arm(s32 cpu)
{
	struct handoff *h;
	u32 k = cpu;

	if (cpu < 0 || cpu >= LOTTO_PIN_CPUS)
		return;
	h = bpf_map_lookup_elem(&lotto_handoffs, &k);
	if (!h || READ_ONCE(h->armed))
		return;
	WRITE_ONCE(h->armed, 1);
	if (bpf_timer_start(&h->timer, (u64)lotto_cfg.handoff_us * 1000, 0))
		WRITE_ONCE(h->armed, 0);
}

/* some idle CPU may run p (the idle mask is read, not claimed) */
static __always_inline bool idle_cpu_for(const struct task_struct *p)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	bool any = bpf_cpumask_intersects(idle, p->cpus_ptr);

	scx_bpf_put_idle_cpumask(idle);
	return any;
}

/* a quantum of q began on cpu at start (running() or a renewal) */
static __always_inline void quantum_begins(s32 cpu, u64 start, u64 q)
{
	cpu_run_set(cpu, start);
	if (lotto_quantum_timed(q, slice_ns()))
		qtimer_arm(cpu, start, start, q);
}

static __always_inline struct task_ctx *ctx_of(struct task_struct *p)
{
	return bpf_task_storage_get(&lotto_task_ctx, p, 0, 0);
}

static __always_inline struct lotto_task_stat *slot_stat(s32 slot)
{
	u32 k = slot;

	if (slot < 0)
		return NULL;
	return bpf_map_lookup_elem(&lotto_tasks, &k);
}

static __always_inline void stat_inc(u32 idx)
{
	u32 zero = 0;
	u64 *c = bpf_map_lookup_elem(&lotto_stats, &zero);

	if (c && idx < LOTTO_STAT_NR)
		c[idx]++;
}

/* *var = max(*var, v), wrap-safe, against concurrent CPUs */
static __always_inline void key_max(u64 *var, u64 v)
{
	u64 cur = READ_ONCE(*var);
	int i;

	for (i = 0; i < 4; i++) {
		u64 old;

		if (!lotto_key_before(cur, v))
			return;
		old = __sync_val_compare_and_swap(var, cur, v);
		if (old == cur)
			return;
		cur = old;
	}
}

/* the CPU whose pinned group p belongs to, or -1: the shared group */
static __always_inline s32 pin_cpu_of(const struct task_struct *p)
{
	u32 cpu;

	if (p->nr_cpus_allowed != 1)
		return -1;
	cpu = bpf_cpumask_first(p->cpus_ptr);
	if (cpu >= READ_ONCE(lotto_nr_pin) || cpu >= LOTTO_PIN_CPUS)
		return -1;
	return cpu;
}

static __always_inline u64 *dom_clock(s32 pin)
{
	if (pin < 0)
		return &lotto_vshared.v;
	return &lotto_vpin[(u32)pin & (LOTTO_PIN_CPUS - 1)].v;
}

static __always_inline u64 dom_dsq(s32 pin)
{
	return pin < 0 ? LOTTO_DSQ : LOTTO_DSQ_PIN_BASE + (u32)pin;
}

/*
 * p's group now: the policy group user space put it in (lotto_task_groups),
 * else its cgroup's (with cgroups on), else the root (0).
 */
static __always_inline u32 task_gid(struct task_struct *p, struct task_ctx *c)
{
	if (c->slot >= 0) {
		u32 k = c->slot;
		u64 *w = bpf_map_lookup_elem(&lotto_task_groups, &k);

		if (w) {
			u64 v = READ_ONCE(*w);	/* one load: pid and group agree */
			u32 pid = lotto_ctl_pid(v), g = lotto_task_group_gid(v);

			if (pid == (u32)p->pid && g >= LOTTO_POLICY_GROUP_BASE && g < LOTTO_MAX_GROUPS)
				return g;
		}
	}
	if (lotto_cfg.flags & LOTTO_CFG_CGROUPS) {
		/* its cpu controller's cgroup: where the fair class would put
		 * it (the nearest ancestor with cpu enabled; ops.cgroup_init
		 * sees only those) */
		u64 id = p->cgroups->subsys[cpu_cgrp_id]->cgroup->kn->id;
		u32 *g = bpf_map_lookup_elem(&lotto_cgrp_gid, &id);

		if (g)
			return gmask(*g);
	}
	return 0;
}

/* a group's next outer key on its domain's clock (f: the charge it carries) */
static __always_inline u64 g_outer_key(struct gplace *pl, u32 f)
{
	u64 clock = READ_ONCE(*dom_clock(pl->pin));
	u32 comp, fund = group_rate(pl->gid, f, &comp);

	return clock + lotto_key_delta_g(bpf_get_prandom_u32(), fund, comp);
}

/* the group (place) a task drew in, for its run and its next draw */
static __always_inline void note_group(struct task_ctx *c, struct gplace *pl)
{
	struct lotto_task_stat *st = slot_stat(c->slot);

	c->gid = pl->gid;
	c->gpin = pl->pin;
	c->gslot = pl->slot;
	c->gidx = pl->gidx;
	if (st)
		st->group = pl->gid;
}

static __always_inline void note_root(struct task_ctx *c)
{
	struct lotto_task_stat *st = slot_stat(c->slot);

	c->gid = 0;
	if (st)
		st->group = 0;
}

/* where the group's clocks stand for its task starting a quantum now */
static __always_inline void g_positions(struct task_ctx *c)
{
	struct gstate *g;
	u64 k;
	bool in;

	if (!c->gid)
		return;
	g = gstate_of(c->gidx);
	if (!g)
		return;
	in = g_key(c->gpin, c->gslot, &k);
	c->ipos = READ_ONCE(g->vg);
	c->apos = g_absent(g, READ_ONCE(*dom_clock(c->gpin)), in);
}

/* g_join's step, under its flag: the group in with its key and its debt,
 * if it is out; only the flag's holder puts a group in, so this goes in */
static __always_inline int g_put_in(struct gstate *g, s32 pin, u32 slot, u32 gid, u32 f)
{
	u64 key, clock, k;
	u32 fund, comp;

	if (g_key(pin, slot, &k))
		return 0;
	clock = READ_ONCE(*dom_clock(pin));
	fund = group_rate(gmask(gid), f, &comp);
	key = clock + lotto_key_delta_g(bpf_get_prandom_u32(), fund, comp);
	key += g_debt_take(g, clock);	/* wins its running tasks took */
	if (!g_tree(pin, slot, G_SET, key))
		return 0;
	__sync_fetch_and_add(&g->absent_total, clock - READ_ONCE(g->absent_since));
	return 1;
}

/*
 * Put a group with a waiting task into its domain's tree, if it is out: its
 * outer key, pushed back by what is left of its debt (the wins its running
 * tasks took while it was out, lotto_debt_take), and the clock's moves while
 * it was out into its absence. Returns 1 if this call put it in.
 *
 * One CPU at a time joins a group (`joining`: 0 free, 1 held, 2 held and
 * asked to look again; only the holder moves it out of 2): taking the debt
 * empties it, so of two CPUs joining at once only one key may hold the push,
 * and the tree's lock cannot be held across the debt's. A CPU that finds
 * the flag held asks its holder to look again and leaves the group to it;
 * the holder, before it lets go, puts the group in if it is out (the asking
 * CPU's task may not have landed in the group's DSQ yet: ops.enqueue's
 * insert lands after it returns). A holder asked again and again lets go
 * after its fifth look, by exchange, so the flag is never left set; an ask
 * that comes after that look is lost, and the guard's rejoin
 * (guard_group_in) is the backstop.
 */
__noinline int g_join(s32 pin, u32 slot, u32 gidx, u32 gid, u32 f)
{
	struct gstate *g = gstate_of(gidx);
	u64 k;
	u32 seen;
	bool held = false;
	int in = 0, i;

	if (!g || g_key(pin, slot, &k))
		return 0;
	bpf_for(i, 0, 4) {
		seen = __sync_val_compare_and_swap(&g->joining, 0, 1);
		if (!seen) {
			held = true;
			break;
		}
		if (seen == 2 || __sync_val_compare_and_swap(&g->joining, 1, 2))
			return 0;	/* its holder looks again before it lets go */
		/* it was let go between the two: try to take it again */
	}
	if (!held)
		return 0;
	bpf_for(i, 0, 4) {
		in |= g_put_in(g, pin, slot, gid, f);
		if (__sync_val_compare_and_swap(&g->joining, 1, 0) == 1)
			return in;
		WRITE_ONCE(g->joining, 1);	/* asked: look again */
	}
	in |= g_put_in(g, pin, slot, gid, f);
	__sync_lock_test_and_set(&g->joining, 0);
	return in;
}

static __always_inline void slots_hw_raise(u32 hw)
{
	u32 cur = READ_ONCE(lotto_slots_hw);
	int i;

	for (i = 0; i < 4 && cur < hw; i++) {
		u32 old = __sync_val_compare_and_swap(&lotto_slots_hw, cur, hw);

		if (old == cur)
			return;
		cur = old;
	}
}

/* tickets in force: the host's lotto_ctl entry if it still names this thread */
static __always_inline u32 slot_tickets(u32 pid, s32 slot)
{
	u32 k = slot;

	if (slot >= 0) {
		u64 *w = bpf_map_lookup_elem(&lotto_ctl, &k);

		if (w) {
			u64 v = READ_ONCE(*w);	/* one load: pid and tickets agree */
			u32 owner = lotto_ctl_pid(v), t = lotto_ctl_tickets(v);

			if (owner == pid && lotto_tickets_valid(t))
				return t;
		}
	}
	return lotto_clamp_tickets(lotto_cfg.default_tickets);
}

static __always_inline u32 task_tickets(const struct task_struct *p, s32 slot)
{
	return slot_tickets(p->pid, slot);
}

#include "lotto_transfers.bpf.h"

/* f for a task that used used_ns since its last draw (1 without compensation) */
static __always_inline u32 comp_of(u64 used_ns)
{
	if (!lotto_cfg.compensation)
		return LOTTO_COMP_ONE;
	return lotto_comp_q10(used_ns, slice_ns());
}

/*
 * Tickets and f in force for p's next draw in group gid, noted in its slot:
 * its own tickets plus what blocked wakers add (transfers).
 */
static __always_inline u32 note_draw(const struct task_struct *p, struct task_ctx *c, u32 f,
				     u32 gid)
{
	struct lotto_task_stat *st = slot_stat(c->slot);
	u32 own = task_tickets(p, c->slot);
	u32 t = xfer_tickets(p, c, gid, own, st);

	if (st) {
		st->tickets = own;
		st->comp_q10 = f;
	}
	c->tickets = t;
	return t;
}

static __always_inline void refresh_identity(struct task_struct *p, struct lotto_task_stat *st)
{
	__builtin_memcpy(st->comm, p->comm, LOTTO_COMM_LEN);
	st->nice = p->static_prio - 120;
	st->uid = p->cred->uid.val;
	st->cgroup_id = p->cgroups->dfl_cgrp->kn->id;
}

/* ---- starvation guard ---- */

static __always_inline void guard_note_wait(const struct task_struct *p, s32 slot, u64 now,
					    u64 dsq)
{
	struct wait_rec r = {};
	struct slot_wait *w;
	u32 k = slot;

	if (slot < 0)
		return;
	w = bpf_map_lookup_elem(&lotto_slot_wait, &k);
	if (!w)
		return;
	w->seq++;
	w->live = 1;
	r.slot = k;
	r.seq = w->seq;
	r.pid = p->pid;
	r.dsq = (u32)dsq;
	r.since = now;
	bpf_map_push_elem(&lotto_waitq, &r, 0);	/* full: this wait goes unguarded */
}

static __always_inline void guard_wait_over(s32 slot)
{
	struct slot_wait *w;
	u32 k = slot;

	if (slot < 0)
		return;
	w = bpf_map_lookup_elem(&lotto_slot_wait, &k);
	if (w)
		w->live = 0;
}

static __always_inline bool wait_live(const struct wait_rec *r)
{
	u32 k = r->slot;
	struct slot_wait *w = bpf_map_lookup_elem(&lotto_slot_wait, &k);

	return w && w->live && w->seq == r->seq;
}

/*
 * Move a starving task to a CPU it may run on: this one if it may, else the
 * one it last ran on, else any of its CPUs. The task is the first, from the
 * DSQ's tail, that is the record's or has waited longer than the bound
 * itself: by memorylessness a task's residual says nothing of how long it
 * has waited, so starving tasks sit anywhere in the DSQ, and in overload
 * (a round of the runnable tasks longer than the bound) many starve at once:
 * the walk then ends after about (waiting / starving) tasks instead of
 * reaching the record's, half the DSQ on average (5.7 ms of TCG time per
 * rescue at 10,000 runnable threads, docs/benchmarks.md). It never takes
 * more steps than the walk to the record's task. If another task is chosen,
 * the record goes back to the queue: its task still waits. The walk carries no
 * step counter on purpose: the verifier tracks such a counter exactly and
 * would explore every value of it. Returns true if the task now waits on
 * this CPU.
 */
static __always_inline bool guard_rescue(s32 cpu, const struct wait_rec *r, u64 now, u64 bound)
{
	struct task_struct *q;

	bpf_for_each(scx_dsq, q, r->dsq, SCX_DSQ_ITER_REV) {
		struct lotto_task_stat *st;
		struct task_ctx *qc = ctx_of(q);
		u64 dsq = SCX_DSQ_LOCAL;
		s32 tcpu = cpu;
		bool mine = (u32)q->pid == r->pid;
		u64 since = qc ? READ_ONCE(qc->wait_start) : 0;

		if (!mine && !(since && (s64)(now - since) >= (s64)bound))
			continue;
		if (!mine)
			bpf_map_push_elem(&lotto_waitq, r, 0);	/* its task still waits */
		if (!bpf_cpumask_test_cpu(cpu, q->cpus_ptr)) {
			tcpu = scx_bpf_task_cpu(q);
			if (tcpu < 0 || !bpf_cpumask_test_cpu(tcpu, q->cpus_ptr))
				tcpu = bpf_cpumask_any_distribute(q->cpus_ptr);
			/* an invalid LOCAL_ON target would get lotto ejected */
			if (tcpu < 0 || !bpf_cpumask_test_cpu(tcpu, q->cpus_ptr))
				return false;
			dsq = SCX_DSQ_LOCAL_ON | (u32)tcpu;
		}
		/* no clock moves: the rescued task did not win a race */
		if (!scx_bpf_dsq_move(BPF_FOR_EACH_ITER, q, dsq, 0))
			return false;	/* another CPU took it meanwhile */
		stat_inc(LOTTO_STAT_RESCUES);
		stat_inc(LOTTO_STAT_DISPATCHES);
		st = qc ? slot_stat(qc->slot) : NULL;
		if (st)
			__sync_fetch_and_add(&st->rescues, 1);
		if (tcpu != cpu) {
			scx_bpf_kick_cpu(tcpu, SCX_KICK_IDLE);
			return false;
		}
		return true;
	}
	return false;
}

/*
 * A group's task may wait in the group's DSQ while the group is out of its
 * tree. ops.enqueue's insert lands after ops.enqueue returns (the kernel's
 * direct dispatch), so an enqueue that found its group in the tree can race
 * a draw on another CPU that takes the group's last landed task, sees the
 * DSQ empty and takes the group out: the new task then lands in a group that
 * nothing draws, until another task of the group is enqueued or wins inside
 * it as prev's, or the bound below passes. The guard, looking at the live
 * record of a task that has waited longer than the longest quantum in a
 * group's DSQ, puts its group back if it is out (g_join: a fresh outer key
 * at the domain's clock with no charge, exact by memorylessness; counted in
 * LOTTO_STAT_GROUP_REJOINS) and wakes a CPU that may draw it if one idles.
 * The tree is read without its lock first (a hint; g_join decides under it).
 */
static __always_inline void guard_group_in(s32 cpu, const struct wait_rec *r, u64 now)
{
	struct task_struct *q;
	struct gplace pl;

	if ((s64)(now - r->since) < (s64)slice_ns())
		return;
	if (!g_place_of_dsq(r->dsq, &pl) || g_in_hint(pl.pin, pl.slot) || scx_bpf_dsq_nr_queued(pl.dsq) <= 0)
		return;
	if (!g_join(pl.pin, pl.slot, pl.gidx, pl.gid, LOTTO_COMP_ONE))
		return;
	stat_inc(LOTTO_STAT_GROUP_REJOINS);
	if (pl.pin >= 0) {
		if (pl.pin != cpu)
			scx_bpf_kick_cpu(pl.pin, SCX_KICK_IDLE);
		return;
	}
	q = scx_bpf_dsq_peek(pl.dsq);
	if (q && !bpf_cpumask_test_cpu(cpu, q->cpus_ptr))
		kick_idle_for(q->cpus_ptr);
}

/* true if a starving task was moved onto this CPU (it overrides the draw) */
static __always_inline bool guard_check(s32 cpu, u64 now)
{
	u64 bound = (u64)lotto_cfg.starve_ms * 1000000;
	u32 live = 0;
	int i;

	for (i = 0; i < LOTTO_GUARD_SCAN; i++) {
		struct wait_rec r;

		if (bpf_map_pop_elem(&lotto_waitq, &r))
			return false;	/* nothing waits */
		if (!wait_live(&r))
			continue;	/* it ran, exited or was re-enqueued since */
		/* signed: another CPU may have pushed it after we read `now` */
		if ((s64)(now - r.since) < (s64)bound) {
			bpf_map_push_elem(&lotto_waitq, &r, 0);
			guard_group_in(cpu, &r, now);
			if (++live >= LOTTO_GUARD_LIVE)
				return false;
			continue;
		}
		return guard_rescue(cpu, &r, now, bound);
	}
	return false;
}

/* ---- the draw ---- */

enum { WON_NONE, WON_DSQ, WON_PREV, WON_PIN, WON_ALONE, WON_SGROUP, WON_PGROUP, WON_RETRY };

/*
 * The winner's residual d moves the clock of every domain allowed on this
 * CPU: all their waiting entries lost a race to d, so what is left of theirs
 * above the moved clock is again exponential. This CPU's pinned clock has one
 * writer (this CPU's dispatch); the shared clock has all of them, so it moves
 * to (the value this draw read) + d unless another CPU's draw already moved
 * it further. That keeps it below every key the draw looked at.
 */
static __always_inline void advance(u64 *vpin, u64 vs, u64 d)
{
	if (vpin)
		WRITE_ONCE(*vpin, *vpin + d);
	key_max(&lotto_vshared.v, vs + d);
}

/*
 * A group won a draw and its task was taken: its next outer key if tasks of
 * it still wait, else out of the tree (and in again at once if one arrived).
 */
static __always_inline void g_after_win(struct gplace *pl, struct gstate *g, u32 f)
{
	struct lotto_group_stat *gs = group_stat(pl->gid);

	if (gs)
		__sync_fetch_and_add(&gs->wins, 1);
	if (scx_bpf_dsq_nr_queued(pl->dsq) > 0) {
		g_tree(pl->pin, pl->slot, G_SET_IF_IN, g_outer_key(pl, f));
		return;
	}
	if (g_tree(pl->pin, pl->slot, G_OUT, 0))
		WRITE_ONCE(g->absent_since, READ_ONCE(*dom_clock(pl->pin)));
	if (scx_bpf_dsq_nr_queued(pl->dsq) > 0)
		g_join(pl->pin, pl->slot, pl->gidx, pl->gid, f);
}

/*
 * The group in slot of domain pin won the outer draw on cpu: its task with
 * the smallest residual on the group's inner clock, that may run here, goes
 * to this CPU and the inner clock moves by its residual. If nothing of it
 * waits, the win was its running tasks' (gstate.owed) and it leaves the
 * tree. Returns 1 if a task was taken.
 */
__noinline int g_take(s32 cpu, s32 pin, u32 slot)
{
	struct gplace pl;
	struct task_struct *q;
	struct gstate *g;
	u64 vg;

	g = g_place_at(pin, slot, &pl);
	if (!g)
		return 0;
	vg = READ_ONCE(g->vg);
	bpf_for_each(scx_dsq, q, pl.dsq, 0) {
		struct task_ctx *qc;
		u64 d;

		if (!bpf_cpumask_test_cpu(cpu, q->cpus_ptr))
			continue;
		d = lotto_residual(q->scx.dsq_vtime, vg);
		if (!scx_bpf_dsq_move(BPF_FOR_EACH_ITER, q, SCX_DSQ_LOCAL, 0))
			continue;	/* another CPU took it meanwhile */
		key_max(&g->vg, vg + d);
		qc = ctx_of(q);
		g_after_win(&pl, g, qc ? qc->fdraw : LOTTO_COMP_ONE);
		return 1;
	}
	if (scx_bpf_dsq_nr_queued(pl.dsq) > 0)
		return 0;	/* its tasks may not run here: it stays in */
	if (g_tree(pin, pl.slot, G_OUT, 0)) {
		WRITE_ONCE(g->absent_since, READ_ONCE(*dom_clock(pin)));
		__sync_fetch_and_add(&g->owed, 1);
	}
	if (scx_bpf_dsq_nr_queued(pl.dsq) > 0)
		g_join(pin, pl.slot, pl.gidx, pl.gid, LOTTO_COMP_ONE);
	return 0;
}

/*
 * The draw on this CPU among: prev (if it takes part, with the residual
 * prev_d: its own fresh draw, or its group's outer residual), the head of
 * this CPU's pinned DSQ, the groups heading this CPU's and the shared
 * domain's trees, and the first task of the shared DSQ allowed here. Each has
 * a residual above its domain's clock (lotto_residual): the smallest wins,
 * and advance() moves the clocks by it (*adv). prev's own group, when it is
 * in a tree (prev_grp: domain prev_pin, slot prev_slot), is prev's side, not
 * a rival. The clocks move at once, not at the winner's running(): a prev
 * that lost is enqueued, and draws, before the winner runs, and drawing at an
 * old clock would hand it a head start. Returns WON_DSQ if a waiting task won
 * and now sits on this CPU's local DSQ, WON_PREV if prev's side won,
 * WON_ALONE if prev was the only one that may run here (no draw, no clock
 * moves), WON_RETRY if a group won with nothing to run here (the clocks
 * moved; draw again), WON_NONE if nothing here could run.
 *
 * A global function: the verifier checks it once, with unknown arguments,
 * not again for every path into dispatch. Inlined (twice) it took dispatch
 * past the verifier's 10^6 instructions.
 */
/* prev's side of a draw, for take_winner (five arguments at most in BPF) */
struct prev_side {
	s32 pin;	/* prev's group is in the tree of this domain ... */
	u32 slot;	/* ... at this slot ... */
	u32 grp;	/* ... if set */
	u32 pad;
	u64 adv;	/* out: how far the clocks moved */
};

__noinline int take_winner(s32 cpu, u32 with_prev, u64 prev_d, struct prev_side *ps)
{
	u64 vs = READ_ONCE(lotto_vshared.v);
	struct task_struct *q;
	u64 *vpin = NULL;
	u64 best_d = prev_d, k;
	int best = with_prev ? WON_PREV : WON_NONE;
	bool others = false;	/* something other than prev may run here */
	s32 s, gslot = -1;

	s32 prev_pin;
	u32 prev_slot, prev_grp;
	u64 *adv;

	if (!ps)
		return WON_NONE;
	prev_pin = ps->pin;
	prev_slot = ps->slot;
	prev_grp = ps->grp;
	adv = &ps->adv;
	*adv = 0;
	if (cpu >= 0 && (u32)cpu < READ_ONCE(lotto_nr_pin) && cpu < LOTTO_PIN_CPUS) {
		vpin = dom_clock(cpu);
		q = scx_bpf_dsq_peek(LOTTO_DSQ_PIN_BASE + (u32)cpu);
		/* a mask change re-enqueues a task; the test is for safety */
		if (q && bpf_cpumask_test_cpu(cpu, q->cpus_ptr)) {
			u64 d = lotto_residual(q->scx.dsq_vtime, READ_ONCE(*vpin));

			others = true;
			if (best == WON_NONE || lotto_key_before(d, best_d)) {
				best = WON_PIN;
				best_d = d;
			}
		}
		/*
		 * A group in the tree has tasks waiting (others), and prev's own
		 * group there is prev's side: a group behind it cannot beat it.
		 * An empty tree is seen without its lock (g_nr_active), as a
		 * moment earlier.
		 */
		s = g_nr_active(cpu) ? g_min(cpu, &k) : -1;
		if (s >= 0)
			others = true;
		if (s >= 0 && !(prev_grp && prev_pin == cpu && prev_slot == (u32)s)) {
			u64 d = lotto_residual(k, READ_ONCE(*vpin));

			if (best == WON_NONE || lotto_key_before(d, best_d)) {
				best = WON_PGROUP;
				best_d = d;
				gslot = s;
			}
		}
	}
	s = g_nr_active(-1) ? g_min(-1, &k) : -1;
	if (s >= 0)
		others = true;
	if (s >= 0 && !(prev_grp && prev_pin < 0 && prev_slot == (u32)s)) {
		u64 d = lotto_residual(k, vs);

		if (best == WON_NONE || lotto_key_before(d, best_d)) {
			best = WON_SGROUP;
			best_d = d;
			gslot = s;
		}
	}

	/*
	 * The shared DSQ's first task allowed here. Only tasks with partial
	 * masks are skipped, the same ones the kernel's move_to_local would
	 * skip. No step counter: the verifier tracks one exactly and explores
	 * every value of it; the kernel's iterator ends by itself. An empty
	 * DSQ is not walked.
	 */
	if (scx_bpf_dsq_nr_queued(LOTTO_DSQ) > 0) {
		bpf_for_each(scx_dsq, q, LOTTO_DSQ, 0) {
			u64 d;

			if (!bpf_cpumask_test_cpu(cpu, q->cpus_ptr))
				continue;
			others = true;
			d = lotto_residual(q->scx.dsq_vtime, vs);
			if (best != WON_NONE && !lotto_key_before(d, best_d))
				break;	/* lost; the tasks behind it hold larger keys */
			if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, q, SCX_DSQ_LOCAL, 0)) {
				advance(vpin, vs, d);
				*adv = d;
				return WON_DSQ;
			}
			/* another CPU took it between our look and our move: the next one */
		}
	}
	if (best == WON_PGROUP || best == WON_SGROUP) {
		advance(vpin, vs, best_d);
		*adv = best_d;
		return g_take(cpu, best == WON_PGROUP ? cpu : -1, gslot) ? WON_DSQ : WON_RETRY;
	}
	if (best == WON_PIN) {
		/* only this CPU takes from its pinned DSQ, apart from a rescue */
		if (scx_bpf_dsq_move_to_local(LOTTO_DSQ_PIN_BASE + (u32)cpu)) {
			advance(vpin, vs, best_d);
			*adv = best_d;
			return WON_DSQ;
		}
		if (!with_prev)
			return WON_NONE;
		best = WON_PREV;
		best_d = prev_d;
	}
	if (best == WON_PREV) {
		if (!others)
			return WON_ALONE;
		advance(vpin, vs, best_d);
		*adv = best_d;
	}
	return best;
}

/* ---- catch-up and early draws ---- */

__noinline __u64 lotto_key_delta_g(__u32 r, __u32 tickets, __u32 comp_q10)
{
	return lotto_key_delta(r, tickets, comp_q10);
}

/*
 * prev's quantum ended: count the wins its race had while it ran (the shared
 * clock's move since pos, lotto_catchup) into its credit, and restart the
 * count from here. A global function, checked once by the verifier.
 */
__noinline u32 catch_up(struct task_struct *prev __arg_trusted, u32 f)
{
	struct task_ctx *c;
	u64 v;
	u32 n, room;

	if (!prev)
		return 0;
	c = ctx_of(prev);
	if (!c)
		return 0;
	v = READ_ONCE(lotto_vshared.v);
	room = c->credit < LOTTO_CATCHUP_MAX ? LOTTO_CATCHUP_MAX - c->credit : 0;
	n = lotto_catchup(lotto_residual(v, c->pos), c->tickets, f, room, NULL);
	c->credit += n;
	c->pos = v;
	if (n) {
		u32 zero = 0;
		u64 *cnt = bpf_map_lookup_elem(&lotto_stats, &zero);

		if (cnt)
			cnt[LOTTO_STAT_CATCHUP] += n;
	}
	return c->credit;
}

/*
 * A woken task found no idle CPU: make a busy CPU it may use draw early
 * (lotto_victim_score, lotto_wake_action), so that it competes in a draw
 * soon instead of after a whole quantum. Looks at up to LOTTO_VICTIM_SCAN of
 * its CPUs, starting at its last one.
 */
__noinline void wake_preempt(struct task_struct *p __arg_trusted, u64 now)
{
	struct task_struct *curr;
	s32 last, best = -1;
	u64 best_score = 0, best_ran = 0, best_start = 0;
	u32 nr = READ_ONCE(lotto_nr_cpus);
	int i;

	if (!p)
		return;
	last = scx_bpf_task_cpu(p);
	if (last < 0 || (u32)last >= nr)
		last = 0;
	bpf_for(i, 0, LOTTO_VICTIM_SCAN) {
		u32 cpu;
		u64 start, ran, score;
		bool asked;

		if ((u32)i >= nr)
			break;
		cpu = ((u32)last + (u32)i) % nr;
		if (cpu >= LOTTO_PIN_CPUS || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		start = READ_ONCE(*cpu_run_start(cpu));
		ran = start && now > start ? now - start : 0;
		asked = lotto_early_draw_asked(READ_ONCE(cpu_run_of(cpu)->woke_at), start);
		score = lotto_victim_score(ran, start != 0, asked, cpu == (u32)last, min_run_ns());
		if (score > best_score) {
			best_score = score;
			best_ran = ran;
			best_start = start;
			best = cpu;
		}
	}
	if (best_score)
		WRITE_ONCE(cpu_run_of(best)->woke_at, now);	/* short quanta until it runs */
	switch (lotto_wake_action(best_score, best_ran, min_run_ns())) {
	case LOTTO_WAKE_NOW:
		if (lotto_cfg.preempt == LOTTO_PREEMPT_KICK) {
			scx_bpf_kick_cpu(best, SCX_KICK_PREEMPT);
		} else {
			curr = scx_bpf_cpu_curr(best);
			if (curr)
				scx_bpf_task_set_slice(curr, 0);
		}
		stat_inc(LOTTO_STAT_WAKE_PREEMPTS);
		break;
	case LOTTO_WAKE_SHRINK:
		if (lotto_cfg.preempt == LOTTO_PREEMPT_KICK) {
			/* exactly when it has run min_run (lotto_qtimers) */
			qtimer_arm(best, best_start, now, min_run_ns() - best_ran);
		} else {
			curr = scx_bpf_cpu_curr(best);
			if (curr)
				scx_bpf_task_set_slice(curr, min_run_ns() - best_ran);
		}
		stat_inc(LOTTO_STAT_WAKE_SHRINKS);
		break;
	default:
		break;
	}
}

/* ---- a group's task whose quantum ended ---- */

/* p starts running: its group's place now, and its tickets among the running */
static __always_inline void group_runs(struct task_struct *p, struct task_ctx *c)
{
	struct gplace pl;
	struct gstate *g;
	u32 gid = task_gid(p, c);

	if (gid && g_place(pin_cpu_of(p), gid, &pl)) {
		note_group(c, &pl);
		g = gstate_of(pl.gidx);
		if (g && !c->run_tickets) {
			c->run_tickets = c->tickets;
			__sync_fetch_and_add(&g->run_tickets, c->run_tickets);
		}
		g_positions(c);
	} else {
		note_root(c);
		gid = 0;
	}
	hier_follow(p, c, gid);
}

/* a task stops running: out of its group's running tickets, its CPU time in */
static __always_inline void group_stops(struct task_ctx *c, u64 used)
{
	struct lotto_group_stat *gs;
	struct gstate *g;

	if (c->run_tickets) {
		g = gstate_of(c->gidx);
		if (g)
			__sync_fetch_and_sub(&g->run_tickets, c->run_tickets);
		c->run_tickets = 0;
	}
	gs = group_stat(c->gid);
	if (gs)
		__sync_fetch_and_add(&gs->runtime_ns, used);
	policy_group_seen(c->gid, gs);	/* also when it only ever ran on idle CPUs */
}

/*
 * Catch-up for a group's task (lotto_rules.h, design comment): the wins it
 * had inside its group while it ran (events of its race within the group's
 * inner clock's move), each of which took one of the group's own wins, so the
 * group's race is pushed back by one outer draw each, charged this task's f:
 * its key if it is in the tree, else its absence from now on (debt,
 * lotto_debt_add); plus, for the time its group was out of the tree and not
 * in a draw through another of its tasks (less its debt's pushes), the
 * group's own race thinned to this task's share of the group's running
 * tickets; plus empty wins of its group (owed). Returns the credit.
 */
__noinline u32 g_catch_up(struct task_struct *prev __arg_trusted, u32 f)
{
	struct task_ctx *c;
	struct gstate *g;
	u64 vg, ab, k, push = 0, clock;
	u32 t, room, n_in, n_out, owed, fund, fc;
	bool in;
	int i;

	if (!prev)
		return 0;
	c = ctx_of(prev);
	if (!c)
		return 0;
	g = gstate_of(c->gidx);
	if (!g)
		return c->credit;
	t = c->tickets;
	fund = group_rate(c->gid, f, &fc);	/* the group's race: charged fc */
	room = c->credit < LOTTO_CATCHUP_MAX ? LOTTO_CATCHUP_MAX - c->credit : 0;
	vg = READ_ONCE(g->vg);
	in = g_key(c->gpin, c->gslot, &k);
	n_in = lotto_catchup(lotto_residual(vg, c->ipos), t, f, room, NULL);
	/* one outer draw each, charged this task's f */
	bpf_for(i, 0, LOTTO_CATCHUP_STEP) {
		if ((u32)i >= n_in)
			break;
		push += lotto_key_delta_g(bpf_get_prandom_u32(), fund, fc);
	}
	clock = READ_ONCE(*dom_clock(c->gpin));
	ab = g_absent(g, clock, in);
	if (n_in && in)
		g_tree(c->gpin, c->gslot, G_SET_IF_IN, k + push);
	else if (n_in)
		g_debt_add(g, clock, push);	/* its race, while out */
	n_out = lotto_catchup(lotto_residual(ab, c->apos), lotto_thin_funding(fund, t, READ_ONCE(g->run_tickets)),
			      fc, room - n_in, NULL);
	owed = __sync_lock_test_and_set(&g->owed, 0);
	if (owed > room - n_in - n_out) {
		__sync_fetch_and_add(&g->owed, owed - (room - n_in - n_out));
		owed = room - n_in - n_out;
	}
	c->credit += n_in + n_out + owed;
	c->ipos = vg;
	c->apos = ab;
	if (n_in + n_out + owed) {
		u32 zero = 0;
		u64 *cnt = bpf_map_lookup_elem(&lotto_stats, &zero);

		if (cnt)
			cnt[LOTTO_STAT_CATCHUP] += n_in + n_out + owed;
	}
	return c->credit;
}

/*
 * prev's group won the outer draw on cpu: the inner race between prev (a
 * fresh draw on the group's inner clock) and the group's waiting task with
 * the smallest residual that may run here. Returns 1 if that task won and is
 * on this CPU's local DSQ (prev lost), 0 if prev keeps the CPU.
 */
__noinline int g_inner(s32 cpu, struct gplace *place, u32 t, u32 f)
{
	struct gplace pl;
	struct task_struct *q;
	struct gstate *g;
	u64 vg, pi;
	bool rival = false;

	if (!place)
		return 0;
	pl = *place;
	g = gstate_of(pl.gidx);
	if (!g)
		return 0;
	vg = READ_ONCE(g->vg);
	pi = lotto_key_delta(bpf_get_prandom_u32(), t, f);
	bpf_for_each(scx_dsq, q, pl.dsq, 0) {
		struct task_ctx *qc;
		u64 d;

		if (!bpf_cpumask_test_cpu(cpu, q->cpus_ptr))
			continue;
		rival = true;
		d = lotto_residual(q->scx.dsq_vtime, vg);
		if (!lotto_key_before(d, pi))
			break;	/* prev wins inside its group */
		if (!scx_bpf_dsq_move(BPF_FOR_EACH_ITER, q, SCX_DSQ_LOCAL, 0))
			continue;
		key_max(&g->vg, vg + d);
		qc = ctx_of(q);
		g_after_win(&pl, g, qc ? qc->fdraw : LOTTO_COMP_ONE);
		return 1;
	}
	if (rival)	/* an inner race was run: its clock moves */
		key_max(&g->vg, vg + pi);
	g_after_win(&pl, g, f);
	return 0;
}

/*
 * A task went to sleep on this CPU: the task it points at (pid, in slot k),
 * if that one waits and its tickets changed (the sleeper's now count), draws
 * afresh (lotto_transfers.bpf.h: exact by memorylessness).
 */
__noinline void xfer_redraw_one(u32 pid, u32 k)
{
	struct task_struct *q, *fundee;
	struct task_ctx *qc;
	struct slot_wait *w;
	u64 dsq = 0, key = 0, clock;
	u32 old, t, n = 0;

	w = bpf_map_lookup_elem(&lotto_slot_wait, &k);
	if (!w || !w->live)
		return;
	fundee = bpf_task_from_pid(pid);
	if (!fundee)
		return;
	qc = ctx_of(fundee);
	if (qc && qc->slot == (s32)k) {
		old = qc->tickets;
		t = note_draw(fundee, qc, qc->fdraw, qc->gid);
		if (t != old) {
			if (qc->gid) {
				struct gstate *g = gstate_of(qc->gidx);

				clock = g ? READ_ONCE(g->vg) : 0;
			} else {
				clock = READ_ONCE(*dom_clock(pin_cpu_of(fundee)));
			}
			key = clock + lotto_key_delta(bpf_get_prandom_u32(), t, qc->fdraw);
			dsq = qc->wdsq;
		}
	}
	bpf_task_release(fundee);
	if (!dsq)
		return;
	bpf_for_each(scx_dsq, q, dsq, 0) {
		if (++n > LOTTO_XFER_SCAN)
			break;
		if (q->pid != pid)
			continue;
		scx_bpf_dsq_move_set_vtime(BPF_FOR_EACH_ITER, key);
		if (scx_bpf_dsq_move_vtime(BPF_FOR_EACH_ITER, q, dsq, 0))
			stat_inc(LOTTO_STAT_XFER_REDRAWS);
		break;
	}
}

/* the redraws the sleeps on this CPU left (xfer_pend); run by its next dispatch */
static __always_inline void xfer_redraw(s32 cpu)
{
	struct xfer_pending *xp = xfer_pending_of(cpu);
	u32 i, pid;

	if (!xp)
		return;
	bpf_for(i, 0, LOTTO_XFER_PEND) {
		if (i >= LOTTO_XFER_PEND)
			break;
		pid = xp->pid[i];
		if (!pid)
			continue;
		xp->pid[i] = 0;
		xfer_redraw_one(pid, xp->slot[i]);
	}
}

/*
 * Who woke whom (transfers), recorded in the waker's context: the tracepoint
 * fires in try_to_wake_up() before select_cpu, for every wake-up, pinned
 * tasks included. select_cpu is skipped for pinned tasks, and with queued
 * wake-ups (SCX_OPS_ALLOW_QUEUED_WAKEUP, below) ops.enqueue() runs on the
 * wakee's CPU, where the current task is not the waker. Not recorded: a
 * task still on its runqueue (woken before it slept, or still switching out
 * on another CPU: a missed transfer, not a wrong one), real-time or
 * deadline tasks, which lotto does not schedule, and (xfer_note_waker) a
 * wake-up from an interrupt or with a kernel thread on either side.
 */
SEC("tp_btf/sched_waking")
int BPF_PROG(lotto_waking, struct task_struct *p)
{
	struct task_ctx *c;

	if (READ_ONCE(p->on_rq) || p->policy == SCHED_FIFO || p->policy == SCHED_RR ||
	    p->policy == SCHED_DEADLINE)
		return 0;
	c = ctx_of(p);
	if (c)
		xfer_note_waker(p, c);
	return 0;
}

/* a running task woke p (not an interrupt) on a CPU p may use */
static __always_inline bool woken_by_task(const struct task_struct *p, const struct task_ctx *c,
					  const struct task_struct *waker, s32 this)
{
	return c && waker->pid && in_task_context() && bpf_cpumask_test_cpu(this, p->cpus_ptr);
}

/* ---- ops ---- */

s32 BPF_STRUCT_OPS(lotto_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_struct *waker = bpf_get_current_task_btf();
	s32 this = bpf_get_smp_processor_id();
	struct task_ctx *c = ctx_of(p);
	bool is_idle = false;
	s32 cpu;

	/* --handoff-us: woken by a running task, its CPU first */
	if (lotto_cfg.handoff_us && woken_by_task(p, c, waker, this)) {
		c->handoff = 1;
		stat_inc(LOTTO_STAT_HANDOFFS);
		return this;
	}
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		if (c)
			c->used = 0;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns(), 0);
		stat_inc(LOTTO_STAT_DIRECT);
		return cpu;
	}
	/* no idle CPU: it waits on its waker's run queue (no migration when the waker sleeps) */
	if (woken_by_task(p, c, waker, this)) {
		stat_inc(LOTTO_STAT_AFFINE);
		return this;
	}
	return cpu;
}

void BPF_STRUCT_OPS(lotto_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *c = ctx_of(p);
	u64 now = bpf_ktime_get_ns();
	/* the group is chosen afresh at every enqueue: a mask change moves p */
	s32 pin = pin_cpu_of(p);
	u64 dsq = dom_dsq(pin);
	u64 key = READ_ONCE(*dom_clock(pin));
	struct gplace pl;
	u32 f, t, gid;

	stat_inc(LOTTO_STAT_ENQUEUES);
	if (!c) {
		scx_bpf_dsq_insert_vtime(p, dsq, slice_ns(), key, enq_flags);
		return;
	}
	f = comp_of(c->used);
	gid = task_gid(p, c);
	t = note_draw(p, c, f, gid);
	c->used = 0;
	c->fdraw = f;
	c->woken = (enq_flags & SCX_ENQ_WAKEUP) != 0;
	if (gid && g_place(pin, gid, &pl)) {
		/* a group's task: its key on the group's inner clock */
		struct gstate *g = gstate_of(pl.gidx);

		dsq = pl.dsq;
		key = (g ? READ_ONCE(g->vg) : 0) + lotto_key_delta(bpf_get_prandom_u32(), t, f);
		note_group(c, &pl);
	} else {
		if (gid)	/* its CPU's pinned group slots are all taken */
			stat_inc(LOTTO_STAT_NO_GROUP);
		gid = 0;
		key += lotto_key_delta(bpf_get_prandom_u32(), t, f);
		note_root(c);
	}
	guard_note_wait(p, c->slot, now, dsq);
	c->wdsq = (u32)dsq;
	scx_bpf_dsq_insert_vtime(p, dsq, slice_ns(), key, enq_flags);
	if (gid)
		g_join(pl.pin, pl.slot, pl.gidx, pl.gid, f);

	/* queued on its waker's CPU: an idle CPU is woken only if it still waits */
	if (c->handoff) {
		c->handoff = 0;
		if ((enq_flags & SCX_ENQ_WAKEUP) && pin < 0 && idle_cpu_for(p)) {
			handoff_arm(bpf_get_smp_processor_id());
			return;
		}
	}
	/* an idle CPU that may run p would otherwise sleep through the draw */
	if (kick_idle_for(p->cpus_ptr))
		return;
	if ((enq_flags & SCX_ENQ_WAKEUP) && lotto_cfg.preempt != LOTTO_PREEMPT_OFF)
		wake_preempt(p, now);
}

/* prev keeps the CPU for a new quantum, charged from now */
static __always_inline void renew(s32 cpu, struct task_struct *prev, struct task_ctx *pc, u64 now,
				  bool won)
{
	struct lotto_task_stat *st = slot_stat(pc->slot);
	u64 q = quantum_ns(cpu, now);

	if (st) {
		if (pc->run_start)
			st->runtime_ns += now - pc->run_start;
		if (won)
			st->wins++;
	}
	pc->run_start = now;
	pc->used = 0;
	pc->granted = q;
	pc->pos = READ_ONCE(lotto_vshared.v);
	g_positions(pc);
	prev->scx.slice = q;
	quantum_begins(cpu, now, q);
}

void BPF_STRUCT_OPS(lotto_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 now = bpf_ktime_get_ns();
	struct task_ctx *pc = NULL;
	struct prev_side side = { .pin = -1 };
	struct gplace pl = { .pin = -1 };
	u64 stint, used, po, k;
	s32 shared, pinned = 0, pin;
	u32 f, t, gid, fc, credit = 0;
	bool in = false;
	int won = WON_NONE, i;

	xfer_redraw(cpu);	/* a task that went to sleep here funds another */
	if (guard_check(cpu, now))
		return;

	/* prev takes part if still runnable here (a mask change may exclude it) */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED) &&
	    bpf_cpumask_test_cpu(cpu, prev->cpus_ptr))
		pc = ctx_of(prev);
	if (!pc) {
		/* a group that won with nothing to run here: draw again, once */
		bpf_for(i, 0, 2) {
			won = take_winner(cpu, false, 0, &side);
			if (won != WON_RETRY)
				break;
		}
		if (won == WON_DSQ) {
			stat_inc(LOTTO_STAT_DRAWS);
			stat_inc(LOTTO_STAT_DISPATCHES);
		}
		return;
	}

	/* prev's quantum ended (or was cut short) and it is still runnable */
	stint = pc->run_start ? now - pc->run_start : 0;
	used = pc->used + stint;
	f = comp_of(used);
	pin = pin_cpu_of(prev);
	gid = task_gid(prev, pc);
	if (gid && !g_place(pin, gid, &pl))
		gid = 0;
	t = note_draw(prev, pc, f, gid);
	if (lotto_cfg.catchup) {
		if (gid && gid == pc->gid && pl.gidx == pc->gidx)
			credit = g_catch_up(prev, f);
		else if (!gid && !pc->gid && pin < 0)
			credit = catch_up(prev, f);
		else
			credit = pc->credit;
	}
	if (gid)
		note_group(pc, &pl);
	else
		note_root(pc);
	hier_follow(prev, pc, gid);
	shared = scx_bpf_dsq_nr_queued(LOTTO_DSQ) + (s32)g_nr_active(-1);
	if ((u32)cpu < READ_ONCE(lotto_nr_pin))
		pinned = scx_bpf_dsq_nr_queued(LOTTO_DSQ_PIN_BASE + (u32)cpu) + (s32)g_nr_active(cpu);
	switch (lotto_prev_action(shared > 0 || pinned > 0, pinned > 0, credit, stint >= pc->granted)) {
	case LOTTO_PREV_ALONE:
		renew(cpu, prev, pc, now, false);
		stat_inc(LOTTO_STAT_ALONE);
		return;
	case LOTTO_PREV_CREDIT:
		pc->credit--;
		renew(cpu, prev, pc, now, true);
		stat_inc(LOTTO_STAT_CREDIT_RUNS);
		return;
	default:
		break;
	}

	/*
	 * A fresh draw for prev: its residual is the whole of it; or, for a
	 * group's task, its group's outer residual (a fresh draw with the
	 * group's funding if the group is out of the tree, else its key).
	 */
	pc->fdraw = f;
	if (gid)
		in = g_key(pl.pin, pl.slot, &k);
	if (in)
		po = lotto_residual(k, READ_ONCE(*dom_clock(pl.pin)));
	else if (gid)
		po = lotto_key_delta(bpf_get_prandom_u32(), group_rate(gid, f, &fc), fc);
	else
		po = lotto_key_delta(bpf_get_prandom_u32(), t, f);
	side.pin = pl.pin;
	side.slot = pl.slot;
	side.grp = in;
	bpf_for(i, 0, 2) {
		won = take_winner(cpu, true, po, &side);
		if (won != WON_RETRY)
			break;
		po = po > side.adv ? po - side.adv : 0;	/* what is left of it */
	}
	/* prev's group was in this draw through prev: not absent for it */
	if (gid && !in && won != WON_ALONE) {
		struct gstate *g = gstate_of(pl.gidx);

		if (g)
			__sync_fetch_and_add(&g->represented, side.adv);
	}
	if (won == WON_DSQ) {
		stat_inc(LOTTO_STAT_DRAWS);
		stat_inc(LOTTO_STAT_DISPATCHES);
		return;
	}
	if (won == WON_ALONE) {
		/* the waiting tasks may not run here (partial masks) */
		renew(cpu, prev, pc, now, false);
		stat_inc(LOTTO_STAT_ALONE);
		return;
	}
	if (won != WON_PREV)
		return;
	stat_inc(LOTTO_STAT_DRAWS);
	/* prev's side won: for a group's task, the race inside its group */
	if (gid && g_inner(cpu, &pl, t, f)) {
		stat_inc(LOTTO_STAT_DISPATCHES);
		return;
	}
	renew(cpu, prev, pc, now, true);
	stat_inc(LOTTO_STAT_PREV_WINS);
}

void BPF_STRUCT_OPS(lotto_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *c = ctx_of(p);

	if (!c)
		return;
	c->wait_start = bpf_ktime_get_ns();
	xfer_wakes(p, c);
	if (!c->hrun) {
		c->hrun = 1;
		hier_runnable(c, task_gid(p, c));
	}
}

void BPF_STRUCT_OPS(lotto_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *c = ctx_of(p);

	if (!c)
		return;
	if (deq_flags & SCX_DEQ_SLEEP) {
		xfer_sleeps(p, c);
		xfer_pend(c);
	}
	if (c->hrun) {
		c->hrun = 0;
		hier_quiescent(c);
	}
}

void BPF_STRUCT_OPS(lotto_running, struct task_struct *p)
{
	struct task_ctx *c = ctx_of(p);
	struct lotto_task_stat *st;
	u64 now = bpf_ktime_get_ns();
	s32 cpu = bpf_get_smp_processor_id();
	u64 q, since;

	if (!c)
		return;
	if (c->woken && cpu < LOTTO_PIN_CPUS)
		WRITE_ONCE(cpu_run_of(cpu)->woke_at, 0);	/* the woken task runs */
	c->woken = 0;
	group_runs(p, c);
	q = quantum_ns(cpu, now);
	p->scx.slice = q;
	c->granted = q;
	c->run_start = now;
	c->pos = READ_ONCE(lotto_vshared.v);
	quantum_begins(cpu, now, q);
	guard_wait_over(c->slot);

	since = c->wait_start;
	c->wait_start = 0;	/* the wait is over, with or without a slot */
	st = slot_stat(c->slot);
	if (!st)
		return;
	st->wins++;
	st->last_cpu = cpu;
	if (since) {
		u64 w = now - since;

		st->wait_ns += w;
		st->waits++;
		if (w > st->wait_max_ns)
			st->wait_max_ns = w;
	}
	refresh_identity(p, st);
}

void BPF_STRUCT_OPS(lotto_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *c = ctx_of(p);
	struct lotto_task_stat *st;
	u64 now = bpf_ktime_get_ns();
	u64 used;

	cpu_run_set(bpf_get_smp_processor_id(), 0);
	if (!c || !c->run_start)
		return;
	used = now - c->run_start;
	c->used += used;
	c->run_start = 0;
	if (runnable)
		c->wait_start = now;
	else
		c->credit = 0;	/* credit is for a task that stays runnable */
	group_stops(c, used);
	st = slot_stat(c->slot);
	if (st)
		st->runtime_ns += used;
}

s32 BPF_STRUCT_OPS(lotto_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct lotto_task_stat *st;
	struct task_ctx *c;
	u32 slot, gen;

	c = bpf_task_storage_get(&lotto_task_ctx, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return -ENOMEM;
	c->slot = -1;
	c->run_start = 0;
	c->wait_start = 0;
	c->used = lotto_first_used_ns(min_run_ns());	/* no history yet */
	c->granted = slice_ns();
	c->tickets = task_tickets(p, -1);

	if (bpf_map_pop_elem(&lotto_free_slots, &slot)) {
		stat_inc(LOTTO_STAT_NO_SLOT);
		return 0;
	}
	st = slot_stat(slot);
	if (!st)
		return 0;
	gen = st->gen + 1;
	__builtin_memset(st, 0, sizeof(*st));
	st->gen = gen;
	st->tgid = p->tgid;
	st->tickets = task_tickets(p, -1);
	st->comp_q10 = LOTTO_COMP_ONE;
	st->last_cpu = scx_bpf_task_cpu(p);
	refresh_identity(p, st);
	WRITE_ONCE(st->pid, p->pid);	/* last: a reader seeing the pid sees the rest */
	c->slot = slot;
	xfer_slot_init(p, slot);
	slots_hw_raise(slot + 1);
	return 0;
}

void BPF_STRUCT_OPS(lotto_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx *c = ctx_of(p);
	struct lotto_task_stat *st;
	u32 slot, gen;

	if (!c || c->slot < 0)
		return;
	slot = c->slot;
	c->slot = -1;
	guard_wait_over(slot);
	st = slot_stat(slot);
	if (st) {
		WRITE_ONCE(st->pid, 0);	/* first: the slot reads as free from now on */
		gen = st->gen;
		__builtin_memset(st, 0, sizeof(*st));
		st->gen = gen;
	}
	bpf_map_push_elem(&lotto_free_slots, &slot, 0);
}

/* the groups' DSQs (shared: one per gid; pinned: LOTTO_PIN_GROUPS per CPU) and free cgroup gids */
static __always_inline s32 groups_init(u32 nr_pin)
{
	struct lotto_group_stat *root = group_stat(0);
	s32 ret;
	int i;

	bpf_for(i, 1, LOTTO_MAX_GROUPS) {
		struct gstate *g = gstate_of(i);

		ret = scx_bpf_create_dsq(LOTTO_DSQ_GROUP_BASE + i, -1);
		if (ret)
			return ret;
		if (g)
			g->gid = i;
	}
	bpf_for(i, 0, nr_pin * LOTTO_PIN_GROUPS) {
		ret = scx_bpf_create_dsq(LOTTO_DSQ_PGROUP_BASE + i, -1);
		if (ret)
			return ret;
	}
	/* the last pushed pops first: gid 1 */
	bpf_for(i, 1, LOTTO_CGROUP_GROUPS) {
		u32 gid = LOTTO_CGROUP_GROUPS - i;

		if (bpf_map_push_elem(&lotto_free_gids, &gid, 0))
			return -ENOMEM;
	}
	if (root)
		root->kind = LOTTO_GROUP_ROOT;
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(lotto_init)
{
	u32 nr_pin = scx_bpf_nr_cpu_ids();
	s32 ret;
	int i;

	ret = scx_bpf_create_dsq(LOTTO_DSQ, -1);
	if (ret)
		return ret;
	if (nr_pin > LOTTO_PIN_CPUS)
		nr_pin = LOTTO_PIN_CPUS;
	bpf_for(i, 0, nr_pin) {
		struct handoff *h;
		struct qtimer *qt;
		u32 k = i;

		ret = scx_bpf_create_dsq(LOTTO_DSQ_PIN_BASE + i, -1);
		if (ret)
			return ret;
		qt = bpf_map_lookup_elem(&lotto_qtimers, &k);
		if (!qt)
			return -ENOMEM;
		ret = bpf_timer_init(&qt->timer, &lotto_qtimers, CLOCK_MONOTONIC);
		if (ret)
			return ret;
		ret = bpf_timer_set_callback(&qt->timer, qtimer_fn);
		if (ret)
			return ret;
		h = bpf_map_lookup_elem(&lotto_handoffs, &k);
		if (!h)
			return -ENOMEM;
		ret = bpf_timer_init(&h->timer, &lotto_handoffs, CLOCK_MONOTONIC);
		if (ret)
			return ret;
		ret = bpf_timer_set_callback(&h->timer, handoff_fn);
		if (ret)
			return ret;
	}
	ret = groups_init(nr_pin);
	if (ret)
		return ret;
	lotto_nr_cpus = scx_bpf_nr_cpu_ids();
	lotto_nr_pin = nr_pin;	/* last: enqueue uses pinned DSQs only once they exist */
	/* the last pushed pops first: slot 0 */
	bpf_for(i, 0, LOTTO_MAX_TASKS) {
		u32 slot = LOTTO_MAX_TASKS - 1 - i;

		if (bpf_map_push_elem(&lotto_free_slots, &slot, 0))
			return -ENOMEM;
	}
	return 0;
}

/*
 * cgroups are groups (with LOTTO_CFG_CGROUPS): each cgroup below the root
 * gets a gid while it exists, funded by its cpu.weight (the root cgroup's
 * tasks are the root group). A nested cgroup races with its top-level
 * cgroup's funding times its share of it among its active siblings at each
 * level (lotto_cgroups.bpf.h). A task's group is looked up at each of its
 * draws, so a move between cgroups takes effect at its next draw; its count
 * in the hierarchy follows at once (the move dequeues and enqueues it;
 * cgroup_move covers a move without).
 */
s32 BPF_STRUCT_OPS_SLEEPABLE(lotto_cgroup_init, struct cgroup *cgrp, struct scx_cgroup_init_args *args)
{
	struct lotto_group_stat *gs;
	struct gstate *g;
	u64 id = cgrp->kn->id;
	u32 gid, gen;

	if (!cgrp->level)
		return 0;
	if (bpf_map_pop_elem(&lotto_free_gids, &gid)) {
		stat_inc(LOTTO_STAT_NO_GROUP);
		return 0;	/* out of gids: its tasks race in the root */
	}
	gid = gmask(gid);
	gs = group_stat(gid);
	g = gstate_of(gid);
	if (gs) {
		gen = gs->gen + 1;
		__builtin_memset(gs, 0, sizeof(*gs));
		gs->gen = gen;
		gs->cgroup_id = id;
		gs->weight = args->weight;
		gs->funding = args->weight;
		WRITE_ONCE(gs->kind, LOTTO_GROUP_CGROUP);
	}
	if (g) {
		g_debt_clear(g);
		g->owed = 0;
		g->absent_since = READ_ONCE(lotto_vshared.v);
	}
	hier_init(gid, cgrp);
	bpf_map_update_elem(&lotto_cgrp_gid, &id, &gid, BPF_ANY);
	return 0;
}

void BPF_STRUCT_OPS(lotto_cgroup_exit, struct cgroup *cgrp)
{
	struct lotto_group_stat *gs;
	u64 id = cgrp->kn->id;
	u32 *g, gid;

	g = bpf_map_lookup_elem(&lotto_cgrp_gid, &id);
	if (!g)
		return;
	gid = gmask(*g);
	hier_drop(gid);
	bpf_map_delete_elem(&lotto_cgrp_gid, &id);
	gs = group_stat(gid);
	if (gs)
		WRITE_ONCE(gs->kind, LOTTO_GROUP_FREE);
	bpf_map_push_elem(&lotto_free_gids, &gid, 0);
}

void BPF_STRUCT_OPS(lotto_cgroup_set_weight, struct cgroup *cgrp, u32 weight)
{
	struct lotto_group_stat *gs;
	u64 id = cgrp->kn->id;
	u32 *g;

	g = bpf_map_lookup_elem(&lotto_cgrp_gid, &id);
	if (!g)
		return;
	gs = group_stat(*g);
	if (gs)
		WRITE_ONCE(gs->weight, weight);
	hier_add(gmask(*g), 0, 0);	/* its parent's active weight follows */
}

/* a runnable task's count moves with it; its draws follow at the next one */
void BPF_STRUCT_OPS(lotto_cgroup_move, struct task_struct *p, struct cgroup *from, struct cgroup *to)
{
	struct task_ctx *c = ctx_of(p);
	u64 id = to->kn->id;
	u32 *g, gid = 0;

	if (!c || !c->hrun)
		return;
	hier_quiescent(c);
	g = bpf_map_lookup_elem(&lotto_cgrp_gid, &id);
	if (g && (lotto_cfg.flags & LOTTO_CFG_CGROUPS) && task_gid(p, c) < LOTTO_POLICY_GROUP_BASE)
		gid = gmask(*g);
	hier_runnable(c, gid);
}

/* named _op: the ABI's .bss record is called lotto_exit */
void BPF_STRUCT_OPS(lotto_exit_op, struct scx_exit_info *ei)
{
	bpf_probe_read_kernel_str(lotto_exit.reason, sizeof(lotto_exit.reason), ei->reason);
	bpf_probe_read_kernel_str(lotto_exit.msg, sizeof(lotto_exit.msg), ei->msg);
	lotto_exit.exit_code = ei->exit_code;
	WRITE_ONCE(lotto_exit.kind, ei->kind);	/* last: the host polls it */
}

SEC(".struct_ops.link")
struct sched_ext_ops lotto_ops = {
	.select_cpu	= (void *)lotto_select_cpu,
	.enqueue	= (void *)lotto_enqueue,
	.dispatch	= (void *)lotto_dispatch,
	.runnable	= (void *)lotto_runnable,
	.running	= (void *)lotto_running,
	.stopping	= (void *)lotto_stopping,
	.quiescent	= (void *)lotto_quiescent,
	.init_task	= (void *)lotto_init_task,
	.exit_task	= (void *)lotto_exit_task,
	.init		= (void *)lotto_init,
	.exit		= (void *)lotto_exit_op,
	.cgroup_init	= (void *)lotto_cgroup_init,
	.cgroup_exit	= (void *)lotto_cgroup_exit,
	.cgroup_set_weight = (void *)lotto_cgroup_set_weight,
	.cgroup_move	= (void *)lotto_cgroup_move,
	.flags		= SCX_OPS_ALLOW_QUEUED_WAKEUP,
	.name		= LOTTO_OPS_NAME,
};
