/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto_rules.h — the decisions lotto makes around the draw, shared verbatim
 * by lotto.bpf.c and the sim backend (host/sim), so that the two cannot
 * drift: how long a quantum is, whether a CPU draws at all, how many wins a
 * task running elsewhere missed, which CPU a wake-up makes draw early.
 * Integer only, pure, like lotto_math.h (which holds the draw itself).
 *
 * Randomness: lotto_catchup() takes a `struct lotto_rng *`; in BPF it is
 * ignored and bpf_get_prandom_u32() is used instead (LOTTO_RANDOM).
 */
#ifndef LOTTO_RULES_H
#define LOTTO_RULES_H

#include "lotto_abi.h"
#include "lotto_math.h"

#ifdef __bpf__
#define LOTTO_RANDOM(g) bpf_get_prandom_u32()
/* lotto.bpf.c: lotto_key_delta() as a global function, so that the verifier
 * checks the -ln arithmetic once rather than in every turn of a loop */
__u64 lotto_key_delta_g(__u32 r, __u32 tickets, __u32 comp_q10);
#define LOTTO_KEY_DELTA lotto_key_delta_g
#else
#define LOTTO_RANDOM(g) lotto_rng_next(g)
#define LOTTO_KEY_DELTA lotto_key_delta
#endif

/* wins a running task may hold in credit (see lotto_catchup), and how many
 * one quantum's catch-up may add */
#define LOTTO_CATCHUP_MAX	64
#define LOTTO_CATCHUP_STEP	8

/*
 * A new task has no history to charge: its first draw is charged as if it had
 * run the minimum run since its last one, i.e. like a task whose quantum a
 * wake-up just cut short (f = min_run / slice). Charging it a whole slice
 * (f = 1) made a new task wait tens of draws against hogs on short quanta;
 * charging it nothing would hand every fork 1024 x its tickets.
 */
LOTTO_INLINE __u64 lotto_first_used_ns(__u64 min_run_ns)
{
	return min_run_ns;
}

/* lotto_wake_action(): what a wake-up does to the chosen CPU */
enum lotto_wake_action {
	LOTTO_WAKE_NONE,	/* no CPU worth disturbing */
	LOTTO_WAKE_NOW,		/* its task ran min_run: end its quantum now */
	LOTTO_WAKE_SHRINK,	/* not yet: end its quantum once it has run min_run */
};

/* lotto_prev_action(): what a CPU does when its task's quantum ends */
enum lotto_prev_action {
	LOTTO_PREV_ALONE,	/* nothing else may run here: keep it, no draw */
	LOTTO_PREV_CREDIT,	/* it holds a win credit: keep it, no draw */
	LOTTO_PREV_DRAW,	/* draw between it and the waiting tasks */
};

/*
 * The quantum a task gets when it starts (or keeps) running on a CPU:
 * latency divided among the task and the tasks waiting for this CPU, so that
 * a round of them takes about `latency`, clamped to [min_run, max]. Shared
 * waiters count for 1/nr_cpus each (any CPU may take them). Nothing waiting:
 * the maximum, since a wake-up ends it early anyway. `woken_next` (with
 * wake-up preemption on): a task that woke up and has not run yet waits for
 * this CPU (lotto_wake_pending); then the quantum is min_run, so that a
 * woken task that lost a draw gets the next one soon rather than a round
 * later. Each decision stays one exact draw; a
 * shorter quantum only means more of them.
 */
LOTTO_INLINE __u64 lotto_slice_ns(__u64 latency_ns, __u64 min_run_ns, __u64 max_ns,
				  __u32 waiting_shared, __u32 waiting_pinned, __u32 nr_cpus, int woken_next)
{
	__u64 per_cpu, s;

	if (!waiting_shared && !waiting_pinned)
		return max_ns;
	if (woken_next)
		return min_run_ns < max_ns ? min_run_ns : max_ns;
	if (!nr_cpus)
		nr_cpus = 1;
	per_cpu = waiting_pinned + (waiting_shared + nr_cpus - 1) / nr_cpus;
	s = latency_ns / (per_cpu + 1);
	if (s < min_run_ns)
		s = min_run_ns;
	if (s > max_ns)
		s = max_ns;
	return s;
}

/*
 * Whether a quantum is ended by a timer of its own rather than by the
 * scheduler tick (HZ=250: 4 ms): a quantum shortened by load, or by a wake-up
 * (lotto_wake_action LOTTO_WAKE_SHRINK), must end when it says, or the draws
 * it is there for come a tick late. The longest quantum (nothing waits) is
 * left to the tick.
 */
LOTTO_INLINE int lotto_quantum_timed(__u64 quantum_ns, __u64 max_ns)
{
	return quantum_ns < max_ns;
}

/*
 * Catch-up: the wins a task missed while it ran. A task running on one CPU
 * cannot take part in the draws other CPUs make meanwhile, so a lottery that
 * only draws among waiting tasks favours small holders on several CPUs (four
 * hogs 1:2:3:4 on 2 CPUs measured .13/.23/.30/.34 instead of .1/.2/.3/.4).
 * But the exponential race lets it take part after the fact: while the task
 * ran, its group's clock moved by `span` (the residuals of the other CPUs'
 * winners); the task's own race is a Poisson process of rate tickets / f on
 * that clock, so it "won" every event of its process that falls within span.
 * This counts them (at most `room`), each event a fresh lotto_key_delta. The
 * other CPUs' winners are unaffected (the minimum among the waiting tasks is
 * the same whether or not the running task's events are looked at), so their
 * draws stay exact lotteries among waiting tasks, and every runnable task is
 * in every draw of a CPU it may use: each win of a running task becomes one
 * more quantum where it runs. Tickets / sum is then each task's share of the
 * wins, hence (with compensation) of the CPU; a task that would need more
 * than one CPU fills its credit (room reaches 0) and is capped at one CPU,
 * its surplus going to the others by their tickets.
 */
LOTTO_INLINE __u32 lotto_catchup(__u64 span, __u32 tickets, __u32 comp_q10, __u32 room,
				 struct lotto_rng *g)
{
	__u64 x = 0;
	__u32 n = 0;
	int i;

	(void)g;
	for (i = 0; i < LOTTO_CATCHUP_STEP; i++) {
		if (n >= room)
			break;
		x += LOTTO_KEY_DELTA(LOTTO_RANDOM(g), tickets, comp_q10);
		if (x > span)
			break;
		n++;
	}
	return n;
}

/*
 * A group's own race (rate: its funding) thinned to one of its running
 * tasks: while nothing of the group waits, its wins go to its running tasks
 * in proportion to their tickets, so this task's share of them is a race of
 * rate funding * tickets / (tickets of the group's running tasks).
 */
LOTTO_INLINE __u32 lotto_thin_funding(__u32 funding, __u32 tickets, __u32 running_tickets)
{
	__u64 r;

	if (!running_tickets || running_tickets < tickets)
		running_tickets = tickets;
	r = (__u64)funding * tickets / (running_tickets ? running_tickets : 1);
	return lotto_clamp_tickets(r);
}

/*
 * A group's debt: the wins its running tasks took inside it (catch-up) while
 * nothing of it waited, each of which took one of the group's own wins from
 * a task it had waiting. Had the group been in the race, its key would have
 * been pushed back by one outer draw each, charged the f of the task that
 * took it; out of the race, its race is pushed back the same way, on its
 * absence (the domain clock's moves while it is out and in no draw): the
 * stretch [from, to) of that clock counts for none of its running tasks'
 * catch-up, and what is left of the stretch when the group is back in the
 * race goes onto its new key. Counting the debt in wins and paying it with
 * the next key's draws instead charged every win at the f of whichever task
 * brought the group back: a group whose tasks run longer quanta once all of
 * them run (quanta shrink with what waits) paid for short quanta as if they
 * were long ones (x 0.357 of 0.375 on 2 CPUs, docs/design.md, section 11).
 */
struct lotto_gdebt {
	__u64 from;	/* raw absence where the push began */
	__u64 to;	/* and where it ends */
	__u64 skipped;	/* raw absence pushed over before `from` */
};

/* the absence the group's running tasks catch up on: raw, less the pushes */
LOTTO_INLINE __u64 lotto_debt_absent(const struct lotto_gdebt *d, __u64 raw)
{
	__u64 in = lotto_residual(raw, d->from), len = d->to - d->from;

	return raw - d->skipped - (in < len ? in : len);
}

/* push the group's race back by `push` from the raw absence `raw` (now) */
LOTTO_INLINE void lotto_debt_add(struct lotto_gdebt *d, __u64 raw, __u64 push)
{
	if (!lotto_key_before(raw, d->to)) {
		/* the push before has been gone over: a new one begins here */
		d->skipped += d->to - d->from;
		d->from = raw;
		d->to = raw;
	}
	d->to += push;
}

/* the group is back in the race at raw absence `raw`: what is left of the
 * push, for its new key; the absence stops here until it is out again */
LOTTO_INLINE __u64 lotto_debt_take(struct lotto_gdebt *d, __u64 raw)
{
	__u64 left = lotto_residual(d->to, raw);

	d->skipped += (d->to - d->from) - left;
	d->from = raw;
	d->to = raw;
	return left;
}

/*
 * Nested cgroups, flattened (docs/design.md, section 11). A cgroup group
 * races at the top with its top-level ancestor's funding times its `share`
 * of that ancestor, the product down its path of
 *
 *	weight of the cgroup / active weight of its parent,
 *
 * where a parent's active weight is the weight of its children with a
 * runnable task in their subtree plus LOTTO_FUNDING_DEFAULT per runnable
 * task of its own (as the fair class weighs a nice-0 task against child
 * cgroups); a cgroup with tasks of its own and active children keeps
 * own / (own + children) of its share for them. Shares are Q30 (1 << 30:
 * all of it), floored at LOTTO_SHARE_MIN.
 */
#define LOTTO_CGROUP_LEVELS	16		/* levels flattened; deeper ones are not applied */
#define LOTTO_SHARE_ONE		(1u << 30)
#define LOTTO_SHARE_MIN		(1u << 20)	/* 1/1024: keys stay below 2^57 */

/* one level: `share` times part / whole (part is in whole; a whole that
 * lost track of part, e.g. a weight changed in between, counts it in) */
LOTTO_INLINE __u32 lotto_share_step(__u32 share, __u64 part, __u64 whole)
{
	__u64 s;

	if (whole < part)
		whole = part;
	if (!whole || part == whole)
		return share;
	s = (__u64)share * part / whole;
	return s < LOTTO_SHARE_MIN ? LOTTO_SHARE_MIN : (__u32)s;
}

/*
 * A share folded into the charge: racing with funding F * share and charge
 * f is racing with F and f / share. Kept in the charge so that a small share
 * of a small funding is not rounded to whole tickets (100 * 1/3 would be
 * 33); f / share is rounded to the charge's own resolution (1/1024 of the
 * longest quantum), so it is as exact as the charge of a task in the root:
 * f / share <= LOTTO_COMP_MAX * 1024 < 2^24.
 */
LOTTO_INLINE __u32 lotto_share_comp(__u32 comp_q10, __u32 share)
{
	if (share >= LOTTO_SHARE_ONE)
		return comp_q10;
	if (share < LOTTO_SHARE_MIN)
		share = LOTTO_SHARE_MIN;
	return (__u32)((((__u64)comp_q10 << 30) + share / 2) / share);
}

/* the funding a share of F amounts to, for display (at least 1) */
LOTTO_INLINE __u32 lotto_share_funding(__u32 funding, __u32 share)
{
	__u64 f = ((__u64)funding * share + (LOTTO_SHARE_ONE >> 1)) >> 30;

	return f ? (__u32)f : 1;
}

/*
 * What a CPU does with its task whose quantum ended (still runnable, allowed
 * here). `waiting`: some task waits that may run here; `pinned_waiting`: a
 * task pinned to this CPU alone waits. `expired`: the quantum ran out by
 * itself (not cut short by a wake-up or a yield). A credit is spent only on
 * an expired quantum, so that a wake-up's early draw is a draw, and only
 * where it displaces no task pinned here: the wins it stands for came from
 * draws anywhere, and tasks that can run only here must not pay for them
 * (the credit waits for a quantum that ends where they do not wait).
 */
LOTTO_INLINE enum lotto_prev_action lotto_prev_action(int waiting, int pinned_waiting, __u32 credit,
						      int expired)
{
	if (!waiting)
		return LOTTO_PREV_ALONE;
	if (credit && expired && !pinned_waiting)
		return LOTTO_PREV_CREDIT;
	return LOTTO_PREV_DRAW;
}

/*
 * A wake-up that found no idle CPU makes one CPU draw early, so that the
 * woken task is in a draw soon rather than after a whole quantum: latency
 * from more draws, not from bending one. Which CPU: among those the task may
 * use that run a lotto task, the one whose task has run longest in its
 * current quantum; the task's last CPU if that one has run min_run (its
 * cache). A CPU already asked for an early draw in its current quantum
 * (`asked`, lotto_early_draw_asked) is not asked again: that draw comes, and
 * every task waiting then is in it; asking again only cost an IPI per
 * wake-up of a storm. `ran_ns` is how long the candidate's current task has
 * run; this scores it (higher is better; 0: not a candidate).
 */
LOTTO_INLINE __u64 lotto_victim_score(__u64 ran_ns, int running_lotto, int asked, int last_cpu,
				      __u64 min_run_ns)
{
	if (!running_lotto || asked)
		return 0;
	if (last_cpu && ran_ns >= min_run_ns)
		return ~0ull;
	return ran_ns + 1;
}

/*
 * A wake-up made this CPU draw early at `woke_at` (0: none pending) for a
 * task that has not run yet: until that task runs (the mark is cleared then)
 * or `latency` passes, quanta here are min_run (lotto_slice_ns woken_next).
 */
LOTTO_INLINE int lotto_wake_pending(__u64 now, __u64 woke_at, __u64 latency_ns)
{
	return woke_at && now - woke_at < latency_ns;
}

/*
 * Whether a CPU whose current quantum began at `start` was asked for an
 * early draw since (`woke_at`: the last wake-up that asked it, 0: none
 * pending). The next quantum there may be asked again.
 */
LOTTO_INLINE int lotto_early_draw_asked(__u64 woke_at, __u64 start)
{
	return woke_at && start && woke_at >= start;
}

/* what to do to the best candidate: end now, or once it has run min_run */
LOTTO_INLINE enum lotto_wake_action lotto_wake_action(__u64 score, __u64 ran_ns, __u64 min_run_ns)
{
	if (!score)
		return LOTTO_WAKE_NONE;
	return ran_ns >= min_run_ns ? LOTTO_WAKE_NOW : LOTTO_WAKE_SHRINK;
}

/*
 * Ticket transfers (Waldspurger & Weihl section 3): a task that sleeps lends
 * its tickets to its partner in its last wake-up, the task it woke or the
 * task that woke it, whichever came last, while that task has not slept
 * since (a client waiting for its reply funds the server working on its
 * request). A wake-up makes the two tasks point at each other: each is
 * recorded as a funder of the other (struct lotto_funder, at most
 * LOTTO_FUNDERS per task: several blocked clients fund a server together),
 * and each task's slot says whether it sleeps and whom it points at (struct
 * lotto_sleep, `woke`). Both ways, because a call need not wake its server:
 * a server preempted by its own reply's wake-up (or not yet at its first
 * read) is still runnable when the next call comes, reads it without a
 * sleep, and no wake-up names the client; the client's last wake-up was the
 * server's reply, so it funds the server all the same (tests/vm/transfers.sh
 * saw a server starve on its 1 ticket for whole runs before this).
 * A funder counts while it sleeps and still points at the funded task: so a
 * waker that keeps running funds nobody, a funder woken (by the funded
 * task's reply or anything else) stops at once and points at its new
 * partner, and the funded task's record is dropped when it sleeps. A
 * wake-up from an interrupt or a timer names no waker: the woken task keeps
 * pointing where it did; nor does one between a task and a kernel thread
 * (the kernel's work, not a call: the core checks, the sim has none). A
 * server that is still runnable when the next request comes keeps its
 * client as a funder, since it has not slept. Each
 * sleeping task funds at most one task, with its own tickets, never with
 * what it is funded with: one hop, no chains, and the tickets in the system
 * are never counted twice. Each edge is gated on its receiver: a task
 * receives transfers only where its group takes them
 * (lotto_transfer_allowed). The cost of "whichever came last" (docs/design.md
 * section 12): a task woken by another that then sleeps on something else
 * (a disk, a timer) funds its waker until one of them wakes or the waker
 * sleeps; a task that wakes others and keeps running (a producer, a lock
 * holder, a hog writing to a pipe) is funded by those that sleep pointing at
 * it; and any wake-up, a sibling's futex say, turns a blocked client's
 * funding to its waker.
 */
#define LOTTO_FUNDERS	4

struct lotto_sleep {
	__u32 pid;	/* the slot's task */
	__u32 asleep;	/* 1 from going to sleep until runnable again */
	__u32 woke;	/* pid of its partner in its last wake-up (woken or waker) */
	__u32 gid;	/* its group when it went to sleep */
};

struct lotto_funder {
	__u32 pid;	/* 0: none */
	__u32 slot;
};

/* the funder `pid` (its slot's record: s) funds the task `funded` now */
LOTTO_INLINE int lotto_funder_counts(const struct lotto_sleep *s, __u32 pid, __u32 funded)
{
	return pid && s->pid == pid && s->asleep && s->woke == funded;
}

/* the funder still points at the task (funds it now or once it sleeps) */
LOTTO_INLINE int lotto_funder_live(const struct lotto_sleep *s, __u32 pid, __u32 funded)
{
	return pid && s->pid == pid && s->woke == funded;
}

/*
 * Whether a funder in group fgid may fund a task in group gid (gflags: the
 * receiving group's LOTTO_GROUP_F_*; on: --transfers). Within a group, with
 * transfers on or turned on for that group by its policy; from another group
 * only into a group that accepts them (the tickets then count in the
 * receiving group's currency: its funding does not change).
 */
LOTTO_INLINE int lotto_transfer_allowed(int on, __u32 fgid, __u32 gid, __u32 gflags)
{
	if (!on && !(gflags & LOTTO_GROUP_F_TRANSFERS))
		return 0;
	return fgid == gid || (gflags & LOTTO_GROUP_F_TRANSFERS_IN);
}

/* what an entry of a task's funders is worth (lotto_funder_note) */
enum lotto_funder_use {
	LOTTO_FUNDER_COUNTS = 0,	/* it sleeps pointing at the task: funds it now */
	LOTTO_FUNDER_AWAKE = 1,		/* it points at the task, but runs */
	LOTTO_FUNDER_STALE = 2,		/* it points elsewhere (or its slot has another task) */
};

LOTTO_INLINE int lotto_funder_use(const struct lotto_sleep *s, __u32 pid, __u32 funded)
{
	if (!lotto_funder_live(s, pid, funded))
		return LOTTO_FUNDER_STALE;
	return s->asleep ? LOTTO_FUNDER_COUNTS : LOTTO_FUNDER_AWAKE;
}

/*
 * Record a task as a funder of the task whose funders are f[] (use[i]: what
 * each entry is worth now): its entry if it has one, else a free or stale
 * entry, else one whose funder runs, else the next one round robin (*next):
 * a funder that counts now is replaced only when all of them do.
 */
LOTTO_INLINE void lotto_funder_note(struct lotto_funder *f, const int *use, __u32 *next,
				    __u32 pid, __u32 slot)
{
	__u32 at = LOTTO_FUNDERS, awake = LOTTO_FUNDERS;
	int i;

	for (i = 0; i < LOTTO_FUNDERS; i++) {
		if (f[i].pid == pid) {
			at = i;
			break;
		}
		if (at == LOTTO_FUNDERS && (!f[i].pid || use[i] == LOTTO_FUNDER_STALE))
			at = i;
		if (awake == LOTTO_FUNDERS && use[i] == LOTTO_FUNDER_AWAKE)
			awake = i;
	}
	if (at == LOTTO_FUNDERS)
		at = awake;
	if (at == LOTTO_FUNDERS) {
		at = *next % LOTTO_FUNDERS;
		*next = at + 1;
	}
	f[at].pid = pid;
	f[at].slot = slot;
}

/*
 * A CPU's notes of tasks to redraw after a sleep there (the core: its next
 * dispatch redraws them), pids[LOTTO_XFER_PEND], 0: free. Where the note
 * for `pid` goes: its own note, else a free one, else the next round robin
 * (*next), the oldest only while no dispatch came in between.
 */
#define LOTTO_XFER_PEND	4

LOTTO_INLINE __u32 lotto_pend_at(const __u32 *pids, __u32 *next, __u32 pid)
{
	__u32 at = LOTTO_XFER_PEND;
	int i;

	for (i = 0; i < LOTTO_XFER_PEND; i++) {
		if (pids[i] == pid)
			return i;
		if (at == LOTTO_XFER_PEND && !pids[i])
			at = i;
	}
	if (at == LOTTO_XFER_PEND) {
		at = *next % LOTTO_XFER_PEND;
		*next = at + 1;
	}
	return at;
}

/* a task's tickets for a draw: its own plus what its funders add */
LOTTO_INLINE __u32 lotto_tickets_funded(__u32 own, __u64 added)
{
	return lotto_clamp_tickets((__u64)own + added);
}

#endif /* LOTTO_RULES_H */
