/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto_transfers.bpf.h — ticket transfers in the core (the rules, shared
 * with the sim, are in lotto_rules.h; the design in docs/design.md).
 *
 * Who woke whom. A wake-up makes the waker and the woken task point at each
 * other (lotto_rules.h). It is recorded by the sched_waking tracepoint
 * (lotto_waking in lotto.bpf.c), which fires in try_to_wake_up() in the
 * waker's context for every wake-up, pinned tasks included, unless an
 * interrupt did the waking (then the "current" task is whoever was
 * interrupted, and nothing is recorded) or a kernel thread is either side
 * (user_task). Not in ops.enqueue(): with queued
 * wake-ups it runs on the woken task's CPU, where current is not the waker.
 *
 * When a transfer takes effect. A funded task's tickets are counted at each
 * of its draws. The woken task draws its key at enqueue, while its waker
 * still runs: no transfer yet. So when a task goes to sleep, the next
 * dispatch on its CPU redraws the task it points at, if that one waits
 * and its tickets changed: a fresh key at its clock with the tickets it has
 * now. That is exact, by memorylessness (the residual of a task that has not
 * won is again exponential; discarding it and drawing with the new rate is
 * the race with the new tickets from now on). The redraw looks at the first
 * LOTTO_XFER_SCAN tasks of that queue; a task further back gets the transfer
 * at its next draw. A transfer that ends while its task waits (its funder
 * woke up) ends at that task's next draw: a wake-up cannot move tasks
 * between queues.
 */
#ifndef LOTTO_TRANSFERS_BPF_H
#define LOTTO_TRANSFERS_BPF_H

#define LOTTO_XFER_SCAN		64

/* per slot: how often its task went to sleep, and whether it sleeps now */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_MAX_TASKS);
	__type(key, u32);
	__type(value, struct lotto_sleep);
} lotto_sleeps SEC(".maps");

static __always_inline struct lotto_sleep *sleep_of(s32 slot)
{
	u32 k = slot;

	if (slot < 0)
		return NULL;
	return bpf_map_lookup_elem(&lotto_sleeps, &k);
}

/*
 * Interrupt context: NMI, hard IRQ, or serving a soft IRQ (preempt_count
 * bits as in include/linux/preempt.h). A wake-up from there is not the
 * current task's doing. Kernels without the per-CPU __preempt_count in BTF
 * record no waker at all: no transfers rather than wrong ones.
 */
extern const int __preempt_count __ksym __weak;
#define LOTTO_NMI_MASK		0x00f00000
#define LOTTO_HARDIRQ_MASK	0x000f0000
#define LOTTO_SOFTIRQ_OFFSET	0x00000100

static __always_inline bool in_task_context(void)
{
	if (!bpf_ksym_exists(&__preempt_count))
		return false;
	return !(*(const int *)bpf_this_cpu_ptr(&__preempt_count) &
		 (LOTTO_NMI_MASK | LOTTO_HARDIRQ_MASK | LOTTO_SOFTIRQ_OFFSET));
}

/*
 * Kernel threads are nobody's partner. A task's syscalls wake kworkers,
 * rcu_preempt or the CPU stopper in its own context, and wait for them
 * (flush_work, synchronize_rcu): recorded, such a kernel thread, asleep most
 * of the time, funded the task it last met with its default tickets (the
 * paper's client-server run: a server thread at 400 for its client's 300),
 * and a client that woke one between its calls funded it instead of its
 * server. Their wake-ups are the kernel's work, not a call between tasks.
 */
#define LOTTO_PF_KTHREAD	0x00200000	/* PF_KTHREAD, include/linux/sched.h */

static __always_inline bool user_task(const struct task_struct *t)
{
	return !(t->flags & LOTTO_PF_KTHREAD);
}

static __always_inline u32 group_flags(u32 gid)
{
	u32 k = gmask(gid);
	struct lotto_group_ctl *gc = bpf_map_lookup_elem(&lotto_group_ctl, &k);

	return gc ? READ_ONCE(gc->flags) : 0;
}

static __always_inline bool transfers_on(void)
{
	return lotto_cfg.flags & LOTTO_CFG_TRANSFERS;
}

/* a task in group gid may receive transfers at all */
static __always_inline bool xfer_may(u32 gid)
{
	return transfers_on() || (group_flags(gid) & LOTTO_GROUP_F_TRANSFERS);
}

/*
 * The task fc (pid fpid, sleep record fs) now points at the task tc (pid
 * tpid): it funds that one whenever it sleeps, and is recorded as its funder.
 */
static __always_inline void xfer_point(struct task_ctx *fc, struct lotto_sleep *fs, u32 fpid,
				       struct task_ctx *tc, u32 tpid)
{
	int use[LOTTO_FUNDERS];
	int i;

	WRITE_ONCE(fs->woke, tpid);
	fc->xpid = tpid;
	fc->xslot = tc->slot;
	for (i = 0; i < LOTTO_FUNDERS; i++) {
		struct lotto_funder *f = &tc->fund[i];
		struct lotto_sleep *s = sleep_of(f->slot);

		use[i] = s ? lotto_funder_use(s, f->pid, tpid) : LOTTO_FUNDER_STALE;
	}
	lotto_funder_note(tc->fund, use, &tc->fnext, fpid, fc->slot);
}

/*
 * p (context c) was woken: if the running task woke it, the two point at
 * each other (lotto_rules.h); each edge only where its receiver takes
 * transfers.
 */
static __always_inline void xfer_note_waker(struct task_struct *p, struct task_ctx *c)
{
	struct task_struct *w = bpf_get_current_task_btf();
	struct lotto_sleep *ws, *ps;
	struct task_ctx *wc;
	bool fwd, back;

	if (!w->pid || w->pid == p->pid || !user_task(w) || !user_task(p))
		return;
	wc = ctx_of(w);
	if (!wc)
		return;
	fwd = xfer_may(c->gid);		/* p may receive */
	back = xfer_may(wc->gid);	/* its waker may */
	if ((!fwd && !back) || !in_task_context())
		return;
	stat_inc(LOTTO_STAT_XFER_WAKES);
	ws = sleep_of(wc->slot);
	if (fwd && ws && ws->pid == (u32)w->pid)
		xfer_point(wc, ws, w->pid, c, p->pid);
	ps = sleep_of(c->slot);
	if (!back || !ps || ps->pid != (u32)p->pid)
		return;
	/* it runs from now on: no funder of anyone while it points anew */
	WRITE_ONCE(ps->asleep, 0);
	xfer_point(c, ps, p->pid, wc, w->pid);
}

/*
 * The tickets p's funders add now for a draw in group gid (its own are
 * `own`); the first of them and the sum are noted in p's slot (st).
 */
static __always_inline u32 xfer_tickets(const struct task_struct *p, struct task_ctx *c, u32 gid,
					u32 own, struct lotto_task_stat *st)
{
	u32 gflags = group_flags(gid), by = 0, t;
	bool on = transfers_on();
	u64 sum = 0;
	int i;

	if (on || (gflags & LOTTO_GROUP_F_TRANSFERS)) {
		for (i = 0; i < LOTTO_FUNDERS; i++) {
			struct lotto_funder *f = &c->fund[i];
			struct lotto_sleep *s;

			if (!f->pid)
				continue;
			s = sleep_of(f->slot);
			if (!s || !lotto_funder_counts(s, f->pid, p->pid) ||
			    !lotto_transfer_allowed(on, READ_ONCE(s->gid), gid, gflags))
				continue;
			sum += slot_tickets(f->pid, f->slot);
			if (!by)
				by = f->pid;
		}
	}
	t = lotto_tickets_funded(own, sum);
	if (st) {
		st->funded_by = by;
		st->funded_tickets = t - own;
	}
	if (by)
		stat_inc(LOTTO_STAT_TRANSFERS);
	return t;
}

/* p goes to sleep: it may fund from now on, and its own funders end */
static __always_inline void xfer_sleeps(struct task_struct *p, struct task_ctx *c)
{
	struct lotto_sleep *s = sleep_of(c->slot);

	if (s && s->pid == (u32)p->pid) {
		s->gid = c->gid;
		WRITE_ONCE(s->asleep, 1);
	}
	__builtin_memset(c->fund, 0, sizeof(c->fund));
}

/*
 * The redraw a sleep calls for, done by the next dispatch on its CPU: not in
 * ops.quiescent, which holds the rq lock (no DSQ moves there), and not only
 * in the dispatch that follows the sleep, which the kernel skips when the
 * CPU's local DSQ already holds a task, and which the guard may end early.
 * Up to LOTTO_XFER_PEND per CPU (lotto_pend_at): more sleeps there before a
 * dispatch replace notes round robin (those fundees get their transfers at
 * their next draws).
 */
struct xfer_pending {
	u32 pid[LOTTO_XFER_PEND];	/* the tasks to redraw, 0: none */
	u32 slot[LOTTO_XFER_PEND];
	u32 next;			/* the note to replace next when all are taken */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct xfer_pending);
} lotto_xfer_pending SEC(".maps");

static __always_inline struct xfer_pending *xfer_pending_of(s32 cpu)
{
	u32 k = 0;

	return bpf_map_lookup_percpu_elem(&lotto_xfer_pending, &k, (u32)cpu);
}

/* c's task went to sleep here: the task it points at may be redrawn */
static __always_inline void xfer_pend(struct task_ctx *c)
{
	struct xfer_pending *xp;
	u32 at;

	if (!c->xpid)	/* set only where transfers may happen */
		return;
	xp = xfer_pending_of(bpf_get_smp_processor_id());
	if (!xp)
		return;
	at = lotto_pend_at(xp->pid, &xp->next, c->xpid);
	if (at >= LOTTO_XFER_PEND)
		return;
	xp->slot[at] = c->xslot;
	WRITE_ONCE(xp->pid[at], c->xpid);
}

static __always_inline void xfer_wakes(struct task_struct *p, struct task_ctx *c)
{
	struct lotto_sleep *s = sleep_of(c->slot);

	if (s && s->pid == (u32)p->pid)
		WRITE_ONCE(s->asleep, 0);
}

static __always_inline void xfer_slot_init(struct task_struct *p, s32 slot)
{
	struct lotto_sleep *s = sleep_of(slot);

	if (s) {
		s->asleep = 0;
		s->woke = 0;
		s->gid = 0;
		WRITE_ONCE(s->pid, p->pid);
	}
}

#endif /* LOTTO_TRANSFERS_BPF_H */
