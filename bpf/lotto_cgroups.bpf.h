/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto_cgroups.bpf.h — nested cgroups flattened into the two-level lottery:
 * included by lotto.bpf.c after lotto_groups.bpf.h. The rule (and why it is
 * the fair class's) is in lotto_rules.h (lotto_share_step) and
 * docs/design.md, section 11.
 *
 * Every cgroup group is a node: its parent cgroup's gid (0: the parent is
 * the root cgroup, or has no gid), the runnable tasks in its subtree and of
 * its own (counted at ops.runnable, uncounted at ops.quiescent, moved by
 * hier_follow when the task runs in another group), and the weight of its
 * active children. A node is active
 * while its subtree has a runnable task; it is counted in its parent's
 * active weight with the weight it had when it was last counted (act_as),
 * so that what is added is what is taken out again. Counts change under the
 * node's lock; the parent's sum by atomic adds, which commute.
 *
 * A draw of a nested group walks up to its top-level cgroup: the group
 * races with that cgroup's funding and its share of it folded into the
 * charge (lotto_share_comp). The walk reads the sums without locks: a
 * sibling that turns active between a group's draws counts from that
 * group's next draw (each win or entry draws anew), which is the error this
 * flattening has; the race itself stays exact for the rates it is given.
 */
#ifndef LOTTO_CGROUPS_BPF_H
#define LOTTO_CGROUPS_BPF_H

struct hnode {
	struct bpf_spin_lock lock;
	u32 parent;	/* the parent cgroup's gid; 0: a top-level cgroup */
	u32 nr;		/* runnable tasks in its subtree */
	u32 own;	/* of which in this cgroup itself */
	u32 act_as;	/* the weight its parent counts it with; 0: inactive */
	u32 gen;	/* bumped when the gid gets a new cgroup or loses its old one */
	s64 act_w;	/* the weight of its active children (act_as summed) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOTTO_CGROUP_GROUPS);
	__type(key, u32);
	__type(value, struct hnode);
} lotto_hier SEC(".maps");

static __always_inline bool is_cgroup_gid(u32 gid)
{
	return gid && gid < LOTTO_CGROUP_GROUPS;
}

static __always_inline struct hnode *hnode_of(u32 gid)
{
	u32 k = gid & (LOTTO_CGROUP_GROUPS - 1);

	return bpf_map_lookup_elem(&lotto_hier, &k);
}

/*
 * Under node gid's lock: d more runnable tasks in its subtree (d_own of them
 * its own), its weight now w. Returns by how much its parent's active weight
 * changes: +w when it turns active, -act_as when it turns inactive, the
 * difference when it stays active with a new weight.
 */
__noinline s64 h_count(u32 gid, s32 d, s32 d_own, u32 w)
{
	u32 k = gid & (LOTTO_CGROUP_GROUPS - 1);
	struct hnode *h = bpf_map_lookup_elem(&lotto_hier, &k);
	s64 dw = 0;

	if (!h)
		return 0;
	bpf_spin_lock(&h->lock);
	if (d < 0 && h->nr < (u32)-d)
		d = -(s32)h->nr;	/* never below zero, whatever happened */
	if (d_own < 0 && h->own < (u32)-d_own)
		d_own = -(s32)h->own;
	h->nr += d;
	h->own += d_own;
	if (h->nr && h->act_as != w) {
		dw = (s64)w - (s64)h->act_as;
		h->act_as = w;
	} else if (!h->nr && h->act_as) {
		dw = -(s64)h->act_as;
		h->act_as = 0;
	}
	bpf_spin_unlock(&h->lock);
	return dw;
}

/* a parent's active weight, read without its lock: the adds of two CPUs may
 * land in the other order for a moment (a -w before its +w) */
static __always_inline u64 h_act_w(struct hnode *h)
{
	s64 w = READ_ONCE(h->act_w);

	return w > 0 ? (u64)w : 0;
}

/* count d runnable tasks in at cgroup group gid (own of them its own), up
 * its ancestors */
static __always_inline void hier_add(u32 gid, s32 d, s32 own)
{
	struct hnode *h, *ph;
	s64 dw;
	int i;

	bpf_for(i, 0, LOTTO_CGROUP_LEVELS) {
		if (!is_cgroup_gid(gid))
			break;
		h = hnode_of(gid);
		if (!h)
			break;
		dw = h_count(gid, d, own, group_weight(gid));
		gid = READ_ONCE(h->parent);
		if (dw && is_cgroup_gid(gid)) {
			ph = hnode_of(gid);
			if (ph)
				__sync_fetch_and_add(&ph->act_w, dw);
		}
		if (!d)
			break;	/* a new weight: only the parent's sum changes */
		own = 0;
	}
}

/* the runnable task counts in its cgroup's group (0: none, it is in the
 * root or a policy group) from now on: c->hgid, of that gid's generation */
static __always_inline void hier_runnable(struct task_ctx *c, u32 gid)
{
	struct hnode *h;

	c->hgid = is_cgroup_gid(gid) ? gid : 0;
	h = c->hgid ? hnode_of(c->hgid) : NULL;
	if (!h) {
		c->hgid = 0;
		return;
	}
	c->hgen = READ_ONCE(h->gen);
	hier_add(c->hgid, 1, 1);
}

/* ... and no longer; not if its cgroup went away meanwhile (its counts
 * went with it, hier_drop, and the gid may be another cgroup's now) */
static __always_inline void hier_quiescent(struct task_ctx *c)
{
	struct hnode *h = c->hgid ? hnode_of(c->hgid) : NULL;

	if (h && READ_ONCE(h->gen) == c->hgen)
		hier_add(c->hgid, -1, -1);
	c->hgid = 0;
}

/* the count of a runnable task moves to cgroup group want (0: none) */
__noinline void hier_move(struct task_struct *p __arg_trusted, u32 want)
{
	struct task_ctx *c;

	if (!p)
		return;
	c = ctx_of(p);
	if (!c)
		return;
	hier_quiescent(c);
	hier_runnable(c, want);
}

/*
 * A runnable task's group is gid now (as placed for a run, or for prev's
 * draw: 0 if it races in the root, also when its CPU's pinned group slots
 * are full): a task a policy put in a group of its own, or took out of one,
 * counts in its cgroup only while it races there. Checked inline; the move,
 * rare, is a global function.
 */
static __always_inline void hier_follow(struct task_struct *p, struct task_ctx *c, u32 gid)
{
	u32 want = is_cgroup_gid(gid) ? gid : 0;

	if (c->hrun && want != c->hgid)
		hier_move(p, want);
}

/*
 * What group gid races with at the top of its domain: the funding of its
 * top-level cgroup (its own for a top-level cgroup or a policy group), and
 * in *comp the charge f scaled by its share of that funding. The share is
 * the product of lotto_share_step over its path, its own tasks' part of it
 * first. Records the funding in force (the share of it) for `groups`.
 */
static __always_inline u32 group_rate(u32 gid, u32 f, u32 *comp)
{
	struct lotto_group_stat *gs = group_stat(gid);
	u32 share = LOTTO_SHARE_ONE, node = gmask(gid), w, own, parent, fund;
	struct hnode *h, *ph;
	u64 whole;
	s64 dw;
	int i;

	h = is_cgroup_gid(node) ? hnode_of(node) : NULL;
	if (h) {
		own = READ_ONCE(h->own);
		own = (own ? own : 1) * LOTTO_FUNDING_DEFAULT;
		share = lotto_share_step(share, own, own + h_act_w(h));
	}
	bpf_for(i, 0, LOTTO_CGROUP_LEVELS) {
		if (!h)
			break;
		parent = READ_ONCE(h->parent);
		if (!is_cgroup_gid(parent))
			break;
		ph = hnode_of(parent);
		if (!ph)
			break;
		w = group_weight(node);
		if (READ_ONCE(h->nr) && READ_ONCE(h->act_as) != w) {
			/* its weight changed since it was counted (cpu.weight
			 * through cgroup_set_weight, or `fund`): count it anew */
			dw = h_count(node, 0, 0, w);
			if (dw)
				__sync_fetch_and_add(&ph->act_w, dw);
		}
		whole = h_act_w(ph) + (u64)READ_ONCE(ph->own) * LOTTO_FUNDING_DEFAULT;
		if (!READ_ONCE(h->act_as))
			whole += w;	/* not counted (yet): as if it were */
		share = lotto_share_step(share, w, whole);
		node = parent;
		h = ph;
	}
	fund = group_weight(node);
	*comp = lotto_share_comp(f, share);
	if (gs)
		gs->funding = lotto_share_funding(fund, share);
	policy_group_seen(gid, gs);
	return fund;
}

/*
 * Under gid's lock: its counts taken out (a new generation: tasks still
 * counted there uncount nothing). Returns them in *nr and *act_as.
 */
__noinline int h_take(u32 gid, u32 *nr, u32 *act_as)
{
	u32 k = gid & (LOTTO_CGROUP_GROUPS - 1);
	struct hnode *h = bpf_map_lookup_elem(&lotto_hier, &k);

	if (!h || !nr || !act_as)
		return 0;
	bpf_spin_lock(&h->lock);
	*nr = h->nr;
	*act_as = h->act_as;
	h->nr = 0;
	h->own = 0;
	h->act_as = 0;
	h->gen++;
	bpf_spin_unlock(&h->lock);
	return 1;
}

/* a cgroup's place in the tree: its node, fresh, under its parent's gid */
static __always_inline void hier_init(u32 gid, struct cgroup *cgrp)
{
	struct hnode *h = hnode_of(gid);
	u32 parent = 0, nr = 0, act_as = 0, *pg;
	u64 pid;

	if (!h)
		return;
	if (cgrp->level > 1) {
		pid = cgrp->self.parent->cgroup->kn->id;
		pg = bpf_map_lookup_elem(&lotto_cgrp_gid, &pid);
		if (pg)
			parent = gmask(*pg);
	}
	h_take(gid, &nr, &act_as);	/* a fresh generation, nothing counted */
	WRITE_ONCE(h->act_w, 0);
	WRITE_ONCE(h->parent, is_cgroup_gid(parent) ? parent : 0);
}

/*
 * A cgroup goes away (cgroup_exit) while tasks may still count in it: an
 * exiting task can be runnable after it left its cgroup. What it counted
 * up its ancestors is taken out now, so that the gid can serve another
 * cgroup and the parent does not stay active for good.
 */
static __always_inline void hier_drop(u32 gid)
{
	struct hnode *h = hnode_of(gid), *ph;
	u32 nr = 0, act_as = 0, parent;

	if (!h || !h_take(gid, &nr, &act_as))
		return;
	parent = READ_ONCE(h->parent);
	if (!is_cgroup_gid(parent))
		return;
	ph = hnode_of(parent);
	if (ph && act_as)
		__sync_fetch_and_add(&ph->act_w, -(s64)act_as);
	if (nr)
		hier_add(parent, -(s32)nr, 0);
}

#endif /* LOTTO_CGROUPS_BPF_H */
