// cgroup_tree.cpp — see cgroup_tree.h; each function mirrors the one of
// bpf/lotto_cgroups.bpf.h named beside it.
#include "cgroup_tree.h"

namespace lotto::sim {

void CgroupTree::add(uint32_t gid, uint32_t parent)	// hier_init
{
	if (!is_cgroup(gid))
		return;
	nodes_[gid] = Node{};
	nodes_[gid].parent = is_cgroup(parent) ? parent : 0;
}

int64_t CgroupTree::recount(Node &n, int d, int d_own, uint32_t w)	// h_count
{
	if (d < 0 && n.nr < uint32_t(-d))
		d = -int(n.nr);
	if (d_own < 0 && n.own < uint32_t(-d_own))
		d_own = -int(n.own);
	n.nr += uint32_t(d);
	n.own += uint32_t(d_own);
	int64_t dw = 0;
	if (n.nr && n.act_as != w) {
		dw = int64_t(w) - int64_t(n.act_as);
		n.act_as = w;
	} else if (!n.nr && n.act_as) {
		dw = -int64_t(n.act_as);
		n.act_as = 0;
	}
	return dw;
}

void CgroupTree::count(uint32_t gid, int d)	// hier_add
{
	int own = d;
	for (int i = 0; i < LOTTO_CGROUP_LEVELS && is_cgroup(gid); i++) {
		Node &n = nodes_[gid];
		int64_t dw = recount(n, d, own, weight_(gid));
		gid = n.parent;
		if (dw && is_cgroup(gid))
			nodes_[gid].act_w += uint64_t(dw);
		if (!d)
			break;
		own = 0;
	}
}

CgroupTree::Rate CgroupTree::rate(uint32_t gid)	// group_rate
{
	Rate r{gid, LOTTO_SHARE_ONE};
	if (!is_cgroup(gid))
		return r;
	Node *n = &nodes_[gid];
	uint64_t own = uint64_t(n->own ? n->own : 1) * LOTTO_FUNDING_DEFAULT;
	r.share = lotto_share_step(r.share, own, own + n->act_w);
	for (int i = 0; i < LOTTO_CGROUP_LEVELS && is_cgroup(n->parent); i++) {
		Node &p = nodes_[n->parent];
		uint32_t w = weight_(r.top);
		if (n->nr && n->act_as != w)
			p.act_w += uint64_t(recount(*n, 0, 0, w));
		uint64_t whole = p.act_w + uint64_t(p.own) * LOTTO_FUNDING_DEFAULT;
		if (!n->act_as)
			whole += w;
		r.share = lotto_share_step(r.share, w, whole);
		r.top = n->parent;
		n = &p;
	}
	return r;
}

}  // namespace lotto::sim
