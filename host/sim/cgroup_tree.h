// cgroup_tree.h — nested cgroups flattened into the sim's two-level lottery,
// as the core's bpf/lotto_cgroups.bpf.h does it; the rule per level
// (lotto_share_step) and the charge (lotto_share_comp) are lotto_rules.h's.
//
// Each cgroup group is a node under its parent's gid (0: top-level). A node
// is active while its subtree has a runnable task; its parent's active
// weight counts it with the weight it had when last counted (act_as). A
// nested group races at the top with its top-level cgroup's funding and its
// share of it: the product, up its path, of weight / parent's active weight
// (the parent's own runnable tasks weigh LOTTO_FUNDING_DEFAULT each), its
// own tasks' part of its share first. The sim's cgroups live as long as the
// workload, so it needs no generations (the core's hnode.gen, hier_drop).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bpf/lotto_rules.h"

namespace lotto::sim {

class CgroupTree {
public:
	using WeightFn = std::function<uint32_t(uint32_t gid)>;

	explicit CgroupTree(WeightFn weight) : weight_(std::move(weight)), nodes_(LOTTO_CGROUP_GROUPS) {}

	void add(uint32_t gid, uint32_t parent);	// parent 0: a top-level cgroup
	// d runnable tasks of group gid (not a cgroup group: nothing) in or out,
	// up its ancestors; d = 0: its weight changed
	void count(uint32_t gid, int d);

	struct Rate {
		uint32_t top;	// the top-level cgroup (gid itself if it is one)
		uint32_t share;	// of top's funding, Q30
	};
	// group gid's rate at the top now (re-counting a changed weight on its
	// path, as the core does); any other gid: itself, all of it
	Rate rate(uint32_t gid);

private:
	struct Node {
		uint32_t parent = 0, nr = 0, own = 0, act_as = 0;
		uint64_t act_w = 0;
	};
	static bool is_cgroup(uint32_t gid) { return gid && gid < LOTTO_CGROUP_GROUPS; }
	int64_t recount(Node &n, int d, int d_own, uint32_t w);	// the core's h_count

	WeightFn weight_;
	std::vector<Node> nodes_;
};

}  // namespace lotto::sim
