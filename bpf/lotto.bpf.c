/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto — a lottery scheduler for sched_ext.
 *
 * Policy. Every time a CPU needs a task, the winner among the runnable lotto
 * tasks allowed on that CPU is drawn at random with probability
 * tickets_i / sum(tickets): an exact lottery (Waldspurger & Weihl, 1994), not
 * a deterministic approximation such as stride or vtime order.
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
 * whose slice just ended is still on the CPU and has not been handed back to
 * ops.enqueue. A lottery among the DSQs alone would never let prev win twice
 * in a row: two pinned hogs with 3:1 tickets measured 1.08:1. So dispatch
 * draws prev afresh and lets it compete; if it wins, its slice is refilled
 * and it keeps the CPU. If prev loses it is enqueued a moment later and draws
 * again: by memorylessness the discarded draw and the fresh one have the same
 * law. That enqueue comes before the winner's ops.running(), so the clocks
 * move in dispatch, as soon as the winner is taken: drawing at an old clock
 * would give the loser a head start of d.
 *
 * Groups, one clock each (the sim's RunQueue does the same, in general). A
 * single V is exact only if every draw is among all waiting tasks. With one V
 * for all CPUs, pops on CPU 1 pushed V past keys of tasks only CPU 0 may run
 * (a pinned 10:1 pair measured 3.6:1); with one V per CPU, keys of unpinned
 * tasks drawn at different CPUs' clocks were compared with each other, which
 * is only close to exact (four unpinned hogs 1:2:3:4 on 2 CPUs measured
 * .105 .207 .289 .399 against an exact lottery's .129 .229 .300 .343). So
 * waiting tasks are grouped by where they may run, each group with its clock:
 *   - shared: tasks that may run on more than one CPU, in LOTTO_DSQ, clock
 *     lotto_vshared;
 *   - pinned to c: tasks whose only CPU is c (nr_cpus_allowed == 1: taskset
 *     to one CPU, per-CPU kthreads), in LOTTO_DSQ_PIN_BASE + c, clock
 *     lotto_vpin[c].
 * A task draws at its group's clock, and its group is chosen afresh at every
 * enqueue, so a mask change moves it at its next enqueue (the kernel
 * re-enqueues a queued task whose mask changes). A draw on CPU c compares
 * residuals (key - clock of its group, lotto_residual) of: prev, the head of
 * c's pinned DSQ and the first shared task allowed on c. The smallest wins,
 * and its residual d moves both clocks allowed on c, the shared one and c's
 * pinned one: every task in those groups lost a race to d, so their residuals
 * are again exponential. No other clock moves. Each draw is then an exact
 * lottery among all tasks that may run on c, pinned or not.
 *
 * What stays approximate: tasks whose mask holds some CPUs but not all (they
 * wait in the shared DSQ: a draw on c skips those not allowed on c, yet moves
 * the shared clock under them), and draws that two CPUs make at the same
 * moment (the shared clock then moves to the larger of their targets, not by
 * the sum; a clock that passed a key counts that key's residual as 0).
 *
 * Compensation tickets. A won draw does not buy a fixed amount of CPU: a task
 * may block early, and with tick-granular slice accounting (HZ=250: 4 ms) a
 * hog overruns its slice by a variable amount. Counting wins right but CPU
 * time wrong measured 2.27:1 for 2:1 and 5.80:1 for 5:1. So each task carries
 * f = used / slice of the slice it was last granted (running() to stopping(),
 * summed over preemptions, restarted when prev re-wins in dispatch), and its
 * next key is scaled by f: a task that used half its slice competes with
 * 2 x tickets, one that overran by 20% with tickets / 1.2. Clamped to
 * [1/64, 8] by lotto_comp_q10(). Switchable (lotto_cfg.compensation).
 *
 * Starvation guard. Whatever the ticket skew, no runnable task may wait
 * longer than lotto_cfg.starve_ms (default 5 s; the kernel's watchdog ejects
 * the scheduler at 30 s). Each enqueue pushes a {slot, seq, pid, DSQ, time}
 * record onto a FIFO map; the slot's wait entry says whether that wait is still
 * live. Each dispatch pops a few records: dead ones are dropped, young live
 * ones go back to the tail (so dead records behind them keep draining), and a
 * live one older than the bound gets its task moved straight to a CPU it may
 * run on, overriding the draw (LOTTO_STAT_RESCUES). How much this bends the
 * lottery: with slice L and bound B a task of share s waits longer than B in
 * an ideal lottery with probability about (1 - s)^(B/L) per wait. For
 * L = 20 ms, B = 5 s that is below 1% for s >= 2% and the guard almost never
 * acts; a task with s well below L/B (0.4%) is raised to about one slice per
 * B, i.e. a share floor of ~L/(B + L), taken from everyone else in proportion
 * to their wins (1,000,000:1 with B = 500 ms measured 4.3%, predicted 4.5%).
 * A live record is looked at again after about (waiting tasks /
 * LOTTO_GUARD_LIVE) dispatches, which adds to B on very long queues.
 *
 * Several CPUs. Idle CPUs are used at wakeup (select_cpu, direct insert, no
 * contest: nobody waiting may run there or the CPU would not be idle), and
 * enqueue kicks an idle CPU the task may use. Pinned tasks are honoured: a
 * CPU takes only from its own pinned DSQ and, in the shared DSQ, only tasks
 * whose cpumask contains it.
 *
 * Trade-offs we live with: finding the first shared task allowed on c walks
 * past tasks with partial masks that exclude c, as the kernel's own
 * move_to_local would (no partial masks: no walk); a task taken by another
 * CPU between our look and our move is skipped; CPUs from LOTTO_PIN_CPUS up
 * have no pinned group (their pinned tasks wait in the shared DSQ); a full
 * slot table (LOTTO_MAX_TASKS live threads) leaves further tasks on default
 * tickets, without statistics or guard (LOTTO_STAT_NO_SLOT).
 */
#include "lotto_common.bpf.h"
#include "lotto_abi.h"
#include "lotto_math.h"

char _license[] SEC("license") = "GPL";

#define LOTTO_GUARD_SCAN	16	/* wait records popped per dispatch, at most */
#define LOTTO_GUARD_LIVE	2	/* of which live (rotated) ones, at most */
#define LOTTO_WAITQ_LEN		(2 * LOTTO_MAX_TASKS)

/* set by the host between open and load */
const volatile struct lotto_config lotto_cfg = {
	.default_tickets = LOTTO_TICKETS_DEFAULT,
	.slice_us = LOTTO_SLICE_US_DEFAULT,
	.starve_ms = LOTTO_STARVE_MS_DEFAULT,
	.compensation = 1,
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
	u64 run_start;		/* running() or prev's re-win; 0 while not running */
	u64 wait_start;		/* became runnable or was switched out runnable */
	u64 slice_used;		/* of the slice last granted, before run_start */
	s32 slot;		/* in lotto_tasks, -1: none */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} lotto_task_ctx SEC(".maps");

static __always_inline u64 slice_ns(void)
{
	return (u64)lotto_cfg.slice_us * 1000;
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

static __always_inline u64 *group_clock(s32 pin)
{
	if (pin < 0)
		return &lotto_vshared.v;
	return &lotto_vpin[(u32)pin & (LOTTO_PIN_CPUS - 1)].v;
}

static __always_inline u64 group_dsq(s32 pin)
{
	return pin < 0 ? LOTTO_DSQ : LOTTO_DSQ_PIN_BASE + (u32)pin;
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
static __always_inline u32 task_tickets(const struct task_struct *p, s32 slot)
{
	u32 k = slot;

	if (slot >= 0) {
		u64 *w = bpf_map_lookup_elem(&lotto_ctl, &k);

		if (w) {
			u64 v = READ_ONCE(*w);	/* one load: pid and tickets agree */
			u32 pid = (u32)v, t = (u32)(v >> 32);

			if (pid == (u32)p->pid && lotto_tickets_valid(t))
				return t;
		}
	}
	return lotto_clamp_tickets(lotto_cfg.default_tickets);
}

/*
 * A fresh draw for p: its residual E * f / t above the clock of its group
 * (the key is that clock plus this); f from the slice it last used.
 */
static __always_inline u64 draw_delta(const struct task_struct *p, struct task_ctx *c,
				      u64 used_ns)
{
	struct lotto_task_stat *st = slot_stat(c->slot);
	u32 t = task_tickets(p, c->slot);
	u32 f = LOTTO_COMP_ONE;

	if (lotto_cfg.compensation)
		f = lotto_comp_q10(used_ns, slice_ns());
	if (st) {
		st->tickets = t;
		st->comp_q10 = f;
	}
	return lotto_key_delta(bpf_get_prandom_u32(), t, f);
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
 * Move the task of a starving record to a CPU it may run on: this one if it
 * may, else the one it last ran on, else any of its CPUs. Starving tasks have
 * large keys, so the search starts at the tail. The walk is O(n), but it runs
 * at most once per starving task per bound. It carries no step counter on
 * purpose: the verifier tracks such a counter exactly and would explore every
 * value of it. Returns true if the task now waits on this CPU.
 */
static __always_inline bool guard_rescue(s32 cpu, const struct wait_rec *r)
{
	struct task_struct *q;

	bpf_for_each(scx_dsq, q, r->dsq, SCX_DSQ_ITER_REV) {
		struct lotto_task_stat *st;
		struct task_ctx *qc;
		u64 dsq = SCX_DSQ_LOCAL;
		s32 tcpu = cpu;

		if ((u32)q->pid != r->pid)
			continue;
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
		qc = ctx_of(q);
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
			if (++live >= LOTTO_GUARD_LIVE)
				return false;
			continue;
		}
		return guard_rescue(cpu, &r);
	}
	return false;
}

/* ---- the draw ---- */

enum { WON_NONE, WON_DSQ, WON_PREV, WON_PIN };

/*
 * The winner's residual d moves the clock of every group allowed on this CPU:
 * all their waiting tasks lost a race to d, so what is left of theirs above
 * the moved clock is again exponential. This CPU's pinned clock has one
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
 * The draw on this CPU among: prev (if it takes part, with the residual
 * prev_d it just drew), the head of this CPU's pinned DSQ, and the first task
 * of the shared DSQ allowed here. Each has a residual above its group's clock
 * (lotto_residual): the smallest wins, and advance() moves the clocks by it.
 * The clocks move at once, not at the winner's running(): a prev that lost is
 * enqueued, and draws, before the winner runs, and drawing at an old clock
 * would hand it a head start. Returns WON_DSQ if a waiting task won and now
 * sits on this CPU's local DSQ, WON_PREV if prev won, WON_NONE if nothing
 * here could run.
 *
 * A global function: the verifier checks it once, with unknown arguments,
 * not again for every path into dispatch. Inlined (twice) it took dispatch
 * past the verifier's 10^6 instructions.
 */
__noinline int take_winner(s32 cpu, u32 with_prev, u64 prev_d)
{
	u64 vs = READ_ONCE(lotto_vshared.v);
	struct task_struct *q;
	u64 *vpin = NULL;
	u64 best_d = prev_d;
	int best = with_prev ? WON_PREV : WON_NONE;

	if (cpu >= 0 && (u32)cpu < READ_ONCE(lotto_nr_pin) && cpu < LOTTO_PIN_CPUS) {
		vpin = group_clock(cpu);
		q = scx_bpf_dsq_peek(LOTTO_DSQ_PIN_BASE + (u32)cpu);
		/* a mask change re-enqueues a task; the test is for safety */
		if (q && bpf_cpumask_test_cpu(cpu, q->cpus_ptr)) {
			u64 d = lotto_residual(q->scx.dsq_vtime, READ_ONCE(*vpin));

			if (best == WON_NONE || lotto_key_before(d, best_d)) {
				best = WON_PIN;
				best_d = d;
			}
		}
	}

	/*
	 * The shared DSQ's first task allowed here. Only tasks with partial
	 * masks are skipped, the same ones the kernel's move_to_local would
	 * skip. No step counter: the verifier tracks one exactly and explores
	 * every value of it; the kernel's iterator ends by itself.
	 */
	bpf_for_each(scx_dsq, q, LOTTO_DSQ, 0) {
		u64 d;

		if (!bpf_cpumask_test_cpu(cpu, q->cpus_ptr))
			continue;
		d = lotto_residual(q->scx.dsq_vtime, vs);
		if (best != WON_NONE && !lotto_key_before(d, best_d))
			break;	/* lost; the tasks behind it hold larger keys */
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, q, SCX_DSQ_LOCAL, 0)) {
			advance(vpin, vs, d);
			return WON_DSQ;
		}
		/* another CPU took it between our look and our move: the next one */
	}
	if (best == WON_PIN) {
		/* only this CPU takes from its pinned DSQ, apart from a rescue */
		if (scx_bpf_dsq_move_to_local(LOTTO_DSQ_PIN_BASE + (u32)cpu)) {
			advance(vpin, vs, best_d);
			return WON_DSQ;
		}
		if (!with_prev)
			return WON_NONE;
		best = WON_PREV;
		best_d = prev_d;
	}
	if (best == WON_PREV)
		advance(vpin, vs, best_d);
	return best;
}

/* ---- ops ---- */

s32 BPF_STRUCT_OPS(lotto_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		struct task_ctx *c = ctx_of(p);

		if (c)
			c->slice_used = 0;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns(), 0);
		stat_inc(LOTTO_STAT_DIRECT);
	}
	return cpu;
}

void BPF_STRUCT_OPS(lotto_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *c = ctx_of(p);
	u64 now = bpf_ktime_get_ns();
	/* the group is chosen afresh at every enqueue: a mask change moves p */
	s32 pin = pin_cpu_of(p);
	u64 dsq = group_dsq(pin);
	u64 key = READ_ONCE(*group_clock(pin));
	s32 cpu;

	stat_inc(LOTTO_STAT_ENQUEUES);
	if (!c) {
		scx_bpf_dsq_insert_vtime(p, dsq, slice_ns(), key, enq_flags);
		return;
	}
	key += draw_delta(p, c, c->slice_used);
	c->slice_used = 0;
	guard_note_wait(p, c->slot, now, dsq);
	scx_bpf_dsq_insert_vtime(p, dsq, slice_ns(), key, enq_flags);

	/* an idle CPU that may run p would otherwise sleep through the draw */
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

void BPF_STRUCT_OPS(lotto_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 now = bpf_ktime_get_ns();
	struct lotto_task_stat *st;
	struct task_ctx *pc = NULL;
	u64 used;
	int won;

	if (guard_check(cpu, now))
		return;

	/* prev takes part if still runnable here (a mask change may exclude it) */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED) &&
	    bpf_cpumask_test_cpu(cpu, prev->cpus_ptr))
		pc = ctx_of(prev);
	if (!pc) {
		if (take_winner(cpu, false, 0) == WON_DSQ) {
			stat_inc(LOTTO_STAT_DRAWS);
			stat_inc(LOTTO_STAT_DISPATCHES);
		}
		return;
	}

	/* prev's slice ended and it is still runnable: it draws too */
	used = pc->slice_used + (pc->run_start ? now - pc->run_start : 0);
	/* a fresh draw: its residual is the whole of it */
	stat_inc(LOTTO_STAT_DRAWS);
	won = take_winner(cpu, true, draw_delta(prev, pc, used));
	if (won == WON_DSQ) {
		stat_inc(LOTTO_STAT_DISPATCHES);
		return;
	}
	if (won != WON_PREV)
		return;

	/* prev won: a new slice, charged from now */
	st = slot_stat(pc->slot);
	if (st) {
		if (pc->run_start)
			st->runtime_ns += now - pc->run_start;
		st->wins++;
	}
	pc->run_start = now;
	pc->slice_used = 0;
	prev->scx.slice = slice_ns();
	stat_inc(LOTTO_STAT_PREV_WINS);
}

void BPF_STRUCT_OPS(lotto_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *c = ctx_of(p);

	if (c)
		c->wait_start = bpf_ktime_get_ns();
}

void BPF_STRUCT_OPS(lotto_running, struct task_struct *p)
{
	struct task_ctx *c = ctx_of(p);
	struct lotto_task_stat *st;
	u64 now = bpf_ktime_get_ns();

	if (!c)
		return;
	c->run_start = now;
	guard_wait_over(c->slot);

	st = slot_stat(c->slot);
	if (!st)
		return;
	st->wins++;
	st->last_cpu = bpf_get_smp_processor_id();
	if (c->wait_start) {
		u64 w = now - c->wait_start;

		st->wait_ns += w;
		st->waits++;
		if (w > st->wait_max_ns)
			st->wait_max_ns = w;
		c->wait_start = 0;
	}
	refresh_identity(p, st);
}

void BPF_STRUCT_OPS(lotto_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *c = ctx_of(p);
	struct lotto_task_stat *st;
	u64 now = bpf_ktime_get_ns();
	u64 used;

	if (!c || !c->run_start)
		return;
	used = now - c->run_start;
	c->slice_used += used;
	c->run_start = 0;
	if (runnable)
		c->wait_start = now;
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
	c->slice_used = slice_ns();	/* no history yet: its first draw is at f = 1 */

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
		ret = scx_bpf_create_dsq(LOTTO_DSQ_PIN_BASE + i, -1);
		if (ret)
			return ret;
	}
	lotto_nr_pin = nr_pin;	/* last: enqueue uses pinned DSQs only once they exist */
	/* the last pushed pops first: slot 0 */
	bpf_for(i, 0, LOTTO_MAX_TASKS) {
		u32 slot = LOTTO_MAX_TASKS - 1 - i;

		if (bpf_map_push_elem(&lotto_free_slots, &slot, 0))
			return -ENOMEM;
	}
	return 0;
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
	.init_task	= (void *)lotto_init_task,
	.exit_task	= (void *)lotto_exit_task,
	.init		= (void *)lotto_init,
	.exit		= (void *)lotto_exit_op,
	.name		= LOTTO_OPS_NAME,
};
