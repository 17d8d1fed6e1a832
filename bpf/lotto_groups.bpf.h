/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto_groups.bpf.h — groups (currencies) in the core: included by
 * lotto.bpf.c, where the design comment explains the two-level lottery.
 *
 * A group (gid 1 .. LOTTO_MAX_GROUPS - 1) races in a domain (the shared
 * tasks, or the tasks pinned to one CPU) as one entry: its outer key, drawn
 * on the domain's clock with its funding, sits in the domain's tree (a
 * segment tree over group slots, under a spin lock: the minimum in O(1), an
 * update in O(log groups)). Its waiting tasks race among themselves in a DSQ
 * of its own, on the group's inner clock. The shared domain's slot is the
 * gid; a CPU's pinned domain has LOTTO_PIN_GROUPS slots, handed out to gids
 * on first use (lotto_pslot).
 *
 * A group leaves its tree lazily: when it wins and has nothing left to run
 * there (g_take), it is marked out, and in again at once if a task arrived
 * meanwhile; such an empty win is owed to its running tasks (gstate.owed),
 * as it would have gone to one of them (they are in its inner race too).
 * The kernel lands a task ops.enqueue inserts after ops.enqueue returns, so
 * a group can be left out with a task in its DSQ; the starvation guard puts
 * such a group back (guard_group_in in lotto.bpf.c).
 */
#ifndef LOTTO_GROUPS_BPF_H
#define LOTTO_GROUPS_BPF_H

#define LOTTO_GSTATES	(LOTTO_MAX_GROUPS + LOTTO_PIN_CPUS * LOTTO_PIN_GROUPS)
#define LOTTO_GTREE_LOG	10	/* log2(LOTTO_MAX_GROUPS) */
#define LOTTO_PTREE_LOG	4	/* log2(LOTTO_PIN_GROUPS) */

_Static_assert(LOTTO_MAX_GROUPS == 1 << LOTTO_GTREE_LOG, "shared tree size");
_Static_assert(LOTTO_PIN_GROUPS == 1 << LOTTO_PTREE_LOG, "pinned tree size");

/* a group in a domain */
struct gstate {
	u64 vg;			/* the inner clock: its tasks' keys are drawn above it */
	u64 absent_since;	/* domain clock when it left the tree */
	u64 absent_total;	/* the domain clock's moves while out, before that */
	u64 represented;	/* of those, moves of draws one of its tasks was in */
	struct lotto_gdebt debt;	/* its race pushed back while out (lotto_rules.h) */
	struct bpf_spin_lock dlock;	/* guards debt */
	u32 owed;		/* outer wins with nothing waiting: its running tasks' */
	u32 run_tickets;	/* tickets of its tasks running now */
	u32 gid;
	u32 joining;		/* a CPU is putting it back in its tree (g_join) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_GSTATES);
	__type(key, u32);
	__type(value, struct gstate);
} lotto_gstate SEC(".maps");

/* the shared domain's tree over gids */
struct stree {
	struct bpf_spin_lock lock;
	u32 nr_active;
	u64 key[LOTTO_MAX_GROUPS];
	u8 act[LOTTO_MAX_GROUPS];
	u16 node[2 * LOTTO_MAX_GROUPS];	/* node i: the slot with the smallest key below it */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct stree);
} lotto_stree SEC(".maps");

/* a CPU's pinned domain's tree over its slots */
struct ptree {
	struct bpf_spin_lock lock;
	u32 nr_active;
	u64 key[LOTTO_PIN_GROUPS];
	u8 act[LOTTO_PIN_GROUPS];
	u8 node[2 * LOTTO_PIN_GROUPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_PIN_CPUS);
	__type(key, u32);
	__type(value, struct ptree);
} lotto_ptree SEC(".maps");

/* (cpu, gid) -> slot + 1 in that CPU's pinned domain; 0: none yet */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_PIN_CPUS * LOTTO_MAX_GROUPS);
	__type(key, u32);
	__type(value, u32);
} lotto_pslot SEC(".maps");

/* next free slot of each CPU's pinned domain */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_PIN_CPUS);
	__type(key, u32);
	__type(value, u32);
} lotto_pnext SEC(".maps");

/* groups: what BPF reports, and what user space asks */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LOTTO_MAX_GROUPS);
	__type(key, u32);
	__type(value, struct lotto_group_stat);
} lotto_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LOTTO_MAX_GROUPS);
	__type(key, u32);
	__type(value, struct lotto_group_ctl);
} lotto_group_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LOTTO_MAX_TASKS);
	__type(key, u32);
	__type(value, struct lotto_task_group);
} lotto_task_groups SEC(".maps");

/* cgroup id -> gid, and the free cgroup gids */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOTTO_CGROUP_GROUPS);
	__type(key, u64);
	__type(value, u32);
} lotto_cgrp_gid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, LOTTO_CGROUP_GROUPS);
	__type(value, u32);
} lotto_free_gids SEC(".maps");

/* where a group's tasks wait in one domain */
struct gplace {
	s32 pin;	/* -1: the shared domain; else the CPU */
	u32 slot;	/* in the domain's tree */
	u32 gidx;	/* in lotto_gstate */
	u32 gid;
	u64 dsq;
};

static __always_inline u32 gmask(u32 i) { return i & (LOTTO_MAX_GROUPS - 1); }
static __always_inline u32 pmask(u32 i) { return i & (LOTTO_PIN_GROUPS - 1); }

static __always_inline struct gstate *gstate_of(u32 gidx)
{
	return bpf_map_lookup_elem(&lotto_gstate, &gidx);
}

static __always_inline struct lotto_group_stat *group_stat(u32 gid)
{
	u32 k = gmask(gid);

	return bpf_map_lookup_elem(&lotto_groups, &k);
}

/* a policy group in use shows as one in lotto_groups (user space made it) */
static __always_inline void policy_group_seen(u32 gid, struct lotto_group_stat *gs)
{
	if (gs && gid >= LOTTO_POLICY_GROUP_BASE && gs->kind != LOTTO_GROUP_POLICY)
		gs->kind = LOTTO_GROUP_POLICY;
}

/* a group's own funding: user space's, else its cgroup's cpu.weight (for a
 * nested cgroup, its weight among its siblings: lotto_cgroups.bpf.h) */
static __always_inline u32 group_weight(u32 gid)
{
	struct lotto_group_stat *gs = group_stat(gid);
	struct lotto_group_ctl *gc;
	u32 k = gmask(gid), f = 0;

	gc = bpf_map_lookup_elem(&lotto_group_ctl, &k);
	if (gc)
		f = READ_ONCE(gc->funding);
	if (!lotto_tickets_valid(f))
		f = gs && lotto_tickets_valid(gs->weight) ? READ_ONCE(gs->weight) : LOTTO_FUNDING_DEFAULT;
	return f;
}

/* ---- the trees (the caller holds no lock; these take it) */

/*
 * The two trees differ only in their size (the shared one has a slot per
 * gid, a CPU's pinned one LOTTO_PIN_GROUPS): one definition for both. The
 * bounds are constants per tree, which is what the verifier needs.
 * PFX_child: the slot with the smallest key below node j (j >= N: leaf j-N);
 * PFX_better: the better of two slots (an inactive one never wins);
 * PFX_fix: the slot's key or act changed: fix the path to the root;
 * PFX_op, PFX_peek: g_tree's update and a read of one slot, under the lock.
 */
enum { G_SET, G_SET_IF_IN, G_OUT };

#define LOTTO_TREE_FNS(PFX, TYPE, N, LOG, MASK)						\
static __always_inline u32 PFX##_child(TYPE *t, u32 j)					\
{											\
	if (j >= (N))									\
		return MASK(j - (N));							\
	return MASK(t->node[j & (2 * (N) - 1)]);					\
}											\
											\
static __always_inline u32 PFX##_better(TYPE *t, u32 a, u32 b)				\
{											\
	a = MASK(a);									\
	b = MASK(b);									\
	if (!t->act[a])									\
		return b;								\
	if (!t->act[b])									\
		return a;								\
	return lotto_key_before(t->key[b], t->key[a]) ? b : a;				\
}											\
											\
static __always_inline void PFX##_fix(TYPE *t, u32 slot)				\
{											\
	u32 i = ((N) + MASK(slot)) >> 1;						\
	int l;										\
											\
	for (l = 0; l < (LOG); l++) {							\
		i &= 2 * (N) - 1;							\
		if (!i)									\
			break;								\
		t->node[i] = PFX##_better(t, PFX##_child(t, 2 * i), PFX##_child(t, 2 * i + 1)); \
		i >>= 1;								\
	}										\
}											\
											\
/* under t->lock: g_tree's operation on slot s (1: it changed something) */	\
static __always_inline int PFX##_op(TYPE *t, u32 s, int op, u64 key)		\
{											\
	s = MASK(s);									\
	if (op == G_SET && !t->act[s]) {						\
		t->act[s] = 1;								\
		t->key[s] = key;							\
		t->nr_active++;								\
	} else if (op == G_SET_IF_IN && t->act[s]) {					\
		t->key[s] = key;							\
	} else if (op == G_OUT && t->act[s]) {						\
		t->act[s] = 0;								\
		t->nr_active--;								\
	} else {									\
		return 0;								\
	}										\
	PFX##_fix(t, s);								\
	return 1;									\
}											\
											\
/* under t->lock: whether slot s is in, and its key */				\
static __always_inline int PFX##_peek(TYPE *t, u32 s, u64 *key)		\
{											\
	s = MASK(s);									\
	*key = t->key[s];								\
	return t->act[s];								\
}

LOTTO_TREE_FNS(s, struct stree, LOTTO_MAX_GROUPS, LOTTO_GTREE_LOG, gmask)
LOTTO_TREE_FNS(p, struct ptree, LOTTO_PIN_GROUPS, LOTTO_PTREE_LOG, pmask)

/*
 * One tree operation on a group's slot: G_SET puts it in with `key` (no-op
 * if it is in already, returns 1 if it went in), G_SET_IF_IN gives it a new
 * key if it is in, G_OUT takes it out (returns 1 if it was in). A global
 * function: the verifier checks the locked loops once.
 */
__noinline int g_tree(s32 pin, u32 slot, int op, u64 key)
{
	u32 zero = 0, k = pin;
	int ret;

	if (pin < 0) {
		struct stree *t = bpf_map_lookup_elem(&lotto_stree, &zero);

		if (!t)
			return 0;
		bpf_spin_lock(&t->lock);
		ret = s_op(t, slot, op, key);
		bpf_spin_unlock(&t->lock);
	} else {
		struct ptree *t = bpf_map_lookup_elem(&lotto_ptree, &k);

		if (!t)
			return 0;
		bpf_spin_lock(&t->lock);
		ret = p_op(t, slot, op, key);
		bpf_spin_unlock(&t->lock);
	}
	return ret;
}

/* the domain's group with the smallest key: its slot, key; -1 if none is in */
__noinline s32 g_min(s32 pin, u64 *key)
{
	u32 zero = 0, k = pin;
	s32 slot = -1;

	if (!key)
		return -1;
	if (pin < 0) {
		struct stree *t = bpf_map_lookup_elem(&lotto_stree, &zero);
		u32 s;

		if (!t)
			return -1;
		bpf_spin_lock(&t->lock);
		s = s_child(t, 1);
		if (s_peek(t, s, key))
			slot = s;
		bpf_spin_unlock(&t->lock);
	} else {
		struct ptree *t = bpf_map_lookup_elem(&lotto_ptree, &k);
		u32 s;

		if (!t)
			return -1;
		bpf_spin_lock(&t->lock);
		s = p_child(t, 1);
		if (p_peek(t, s, key))
			slot = s;
		bpf_spin_unlock(&t->lock);
	}
	return slot;
}

/* whether the group's slot is in the tree, and its key */
__noinline int g_key(s32 pin, u32 slot, u64 *key)
{
	u32 zero = 0, k = pin;
	int in;

	if (!key)
		return 0;
	if (pin < 0) {
		struct stree *t = bpf_map_lookup_elem(&lotto_stree, &zero);

		if (!t)
			return 0;
		bpf_spin_lock(&t->lock);
		in = s_peek(t, slot, key);
		bpf_spin_unlock(&t->lock);
	} else {
		struct ptree *t = bpf_map_lookup_elem(&lotto_ptree, &k);

		if (!t)
			return 0;
		bpf_spin_lock(&t->lock);
		in = p_peek(t, slot, key);
		bpf_spin_unlock(&t->lock);
	}
	return in;
}

/* whether the group's slot is in the tree, read without the lock: a hint
 * (a global function: the verifier checks the masked index once) */
__noinline int g_in_hint(s32 pin, u32 slot)
{
	u32 zero = 0, k = pin;

	if (pin < 0) {
		struct stree *t = bpf_map_lookup_elem(&lotto_stree, &zero);

		return !t || READ_ONCE(t->act[gmask(slot)]);
	} else {
		struct ptree *t = bpf_map_lookup_elem(&lotto_ptree, &k);

		return !t || READ_ONCE(t->act[pmask(slot)]);
	}
}

/* groups in the domain's tree now (for the quantum's length) */
static __always_inline u32 g_nr_active(s32 pin)
{
	u32 zero = 0, k = pin;

	if (pin < 0) {
		struct stree *t = bpf_map_lookup_elem(&lotto_stree, &zero);

		return t ? READ_ONCE(t->nr_active) : 0;
	} else {
		struct ptree *t = bpf_map_lookup_elem(&lotto_ptree, &k);

		return t ? READ_ONCE(t->nr_active) : 0;
	}
}

/* ---- where a group's tasks go */

/*
 * The place of group gid in domain pin (-1: shared). A CPU's pinned domain
 * hands out its slots to gids on first use; when they are gone, the group's
 * pinned tasks on that CPU race in the root instead (LOTTO_STAT_NO_GROUP_SLOT
 * counts it). Returns false if the group has no place there.
 */
static __always_inline bool g_place(s32 pin, u32 gid, struct gplace *pl)
{
	u32 k, *ps, *next, slot;

	pl->pin = pin;
	pl->gid = gmask(gid);
	if (pin < 0) {
		pl->slot = pl->gid;
		pl->gidx = pl->gid;
		pl->dsq = LOTTO_DSQ_GROUP_BASE + pl->gid;
		return true;
	}
	if (pin >= LOTTO_PIN_CPUS)
		return false;
	k = (u32)pin * LOTTO_MAX_GROUPS + pl->gid;
	ps = bpf_map_lookup_elem(&lotto_pslot, &k);
	if (!ps)
		return false;
	slot = READ_ONCE(*ps);
	if (!slot) {
		u32 kp = pin;
		struct gstate *g;

		next = bpf_map_lookup_elem(&lotto_pnext, &kp);
		if (!next)
			return false;
		slot = __sync_fetch_and_add(next, 1) + 1;
		if (slot > LOTTO_PIN_GROUPS)
			return false;
		if (__sync_val_compare_and_swap(ps, 0, slot) != 0)
			slot = READ_ONCE(*ps);	/* another CPU gave it one first */
		g = gstate_of(LOTTO_MAX_GROUPS + (u32)pin * LOTTO_PIN_GROUPS + pmask(slot - 1));
		if (g)
			g->gid = pl->gid;
	}
	pl->slot = pmask(slot - 1);
	pl->gidx = LOTTO_MAX_GROUPS + (u32)pin * LOTTO_PIN_GROUPS + pl->slot;
	pl->dsq = LOTTO_DSQ_PGROUP_BASE + (u32)pin * LOTTO_PIN_GROUPS + pl->slot;
	return true;
}

/*
 * The place of the group in `slot` of domain pin (-1: shared), already
 * handed out (g_place's encoding read back): its gstate, or NULL.
 */
static __always_inline struct gstate *g_place_at(s32 pin, u32 slot, struct gplace *pl)
{
	struct gstate *g;
	u32 base = (u32)(pin & (LOTTO_PIN_CPUS - 1)) * LOTTO_PIN_GROUPS;

	pl->pin = pin;
	pl->slot = pin < 0 ? gmask(slot) : pmask(slot);
	pl->gidx = pin < 0 ? pl->slot : LOTTO_MAX_GROUPS + base + pl->slot;
	g = gstate_of(pl->gidx);
	if (!g)
		return NULL;
	pl->gid = pin < 0 ? pl->slot : gmask(READ_ONCE(g->gid));
	pl->dsq = pin < 0 ? LOTTO_DSQ_GROUP_BASE + pl->slot : LOTTO_DSQ_PGROUP_BASE + base + pl->slot;
	return g;
}

/* the place whose DSQ is dsq: its gstate, or NULL if dsq is no group's */
static __always_inline struct gstate *g_place_of_dsq(u64 dsq, struct gplace *pl)
{
	u32 i;

	if (dsq >= LOTTO_DSQ_PGROUP_BASE && dsq < LOTTO_DSQ_PGROUP_BASE + LOTTO_PIN_CPUS * LOTTO_PIN_GROUPS) {
		i = dsq - LOTTO_DSQ_PGROUP_BASE;
		return g_place_at(i / LOTTO_PIN_GROUPS, i, pl);
	}
	if (dsq >= LOTTO_DSQ_GROUP_BASE && dsq < LOTTO_DSQ_GROUP_BASE + LOTTO_MAX_GROUPS)
		return g_place_at(-1, dsq - LOTTO_DSQ_GROUP_BASE, pl);
	return NULL;
}

/* how far the domain clock moved while the group was out and unrepresented
 * (raw), before its debt's pushes are taken out */
static __always_inline u64 g_absent_raw(struct gstate *g, u64 clock, bool in)
{
	u64 a = READ_ONCE(g->absent_total) - READ_ONCE(g->represented);

	if (!in)
		a += clock - READ_ONCE(g->absent_since);
	return a;
}

/* the absence its running tasks catch up on: raw, less its debt's pushes */
static __always_inline u64 g_absent(struct gstate *g, u64 clock, bool in)
{
	u64 a = g_absent_raw(g, clock, in);

	bpf_spin_lock(&g->dlock);
	a = lotto_debt_absent(&g->debt, a);
	bpf_spin_unlock(&g->dlock);
	return a;
}

/* its running tasks took wins inside it while it was out: push its race back */
static __always_inline void g_debt_add(struct gstate *g, u64 clock, u64 push)
{
	u64 a = g_absent_raw(g, clock, false);

	bpf_spin_lock(&g->dlock);
	lotto_debt_add(&g->debt, a, push);
	bpf_spin_unlock(&g->dlock);
}

/* it joins the race again at `clock`: what is left of the push */
static __always_inline u64 g_debt_take(struct gstate *g, u64 clock)
{
	u64 a = g_absent_raw(g, clock, false), left;

	bpf_spin_lock(&g->dlock);
	left = lotto_debt_take(&g->debt, a);
	bpf_spin_unlock(&g->dlock);
	return left;
}

/* a group made anew (cgroup_init): no debt */
static __always_inline void g_debt_clear(struct gstate *g)
{
	bpf_spin_lock(&g->dlock);
	g->debt.from = 0;
	g->debt.to = 0;
	g->debt.skipped = 0;
	bpf_spin_unlock(&g->dlock);
}

#endif /* LOTTO_GROUPS_BPF_H */
