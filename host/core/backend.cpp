#include "core/backend.h"

#include <cstring>

extern "C" {
#include "bpf/lotto_math.h"
}

namespace lotto {

namespace {

std::string range(uint64_t lo, uint64_t hi) { return std::to_string(lo) + ".." + std::to_string(hi); }

} // namespace

Result<void> check_backend_config(const BackendConfig &cfg)
{
	if (!lotto_tickets_valid(cfg.default_tickets))
		return err("default tickets " + std::to_string(cfg.default_tickets) + " are not in " +
			   range(LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX));
	if (cfg.slice_us < LOTTO_SLICE_US_MIN || cfg.slice_us > LOTTO_SLICE_US_MAX)
		return err("slice " + std::to_string(cfg.slice_us) + " us is not in " +
			   range(LOTTO_SLICE_US_MIN, LOTTO_SLICE_US_MAX));
	if (cfg.min_run_us < LOTTO_SLICE_US_MIN || cfg.min_run_us > cfg.slice_us)
		return err("minimum run " + std::to_string(cfg.min_run_us) + " us is not in " +
			   range(LOTTO_SLICE_US_MIN, cfg.slice_us) + " (at most the slice)");
	// compensation charges CPU against the longest quantum within [1/1024, 8]
	// of it: a shorter quantum than slice/1024 would be overcharged
	if (uint64_t(cfg.min_run_us) * LOTTO_SLICE_RANGE < cfg.slice_us)
		return err("minimum run " + std::to_string(cfg.min_run_us) + " us is below 1/" +
			   std::to_string(LOTTO_SLICE_RANGE) + " of the slice (" + std::to_string(cfg.slice_us) +
			   " us): compensation could not charge such quanta exactly; use a minimum run of at least " +
			   std::to_string((cfg.slice_us + LOTTO_SLICE_RANGE - 1) / LOTTO_SLICE_RANGE) + " us");
	if (cfg.latency_us < cfg.min_run_us || cfg.latency_us > LOTTO_SLICE_US_MAX)
		return err("latency " + std::to_string(cfg.latency_us) + " us is not in " +
			   range(cfg.min_run_us, LOTTO_SLICE_US_MAX) + " (at least the minimum run)");
	if (!preempt_from_name(preempt_name(cfg.preempt)))
		return err("preempt mode " + std::to_string(int(cfg.preempt)) + " is not one of off, tick, kick");
	if (cfg.handoff_us > LOTTO_HANDOFF_US_MAX)
		return err("handoff " + std::to_string(cfg.handoff_us) + " us is not in " + range(0, LOTTO_HANDOFF_US_MAX));
	if (cfg.starve_ms < LOTTO_STARVE_MS_MIN || cfg.starve_ms > LOTTO_STARVE_MS_MAX)
		return err("starvation bound " + std::to_string(cfg.starve_ms) + " ms is not in " +
			   range(LOTTO_STARVE_MS_MIN, LOTTO_STARVE_MS_MAX));
	return {};
}

const char *preempt_name(lotto_preempt_mode m)
{
	switch (m) {
	case LOTTO_PREEMPT_OFF: return "off";
	case LOTTO_PREEMPT_TICK: return "tick";
	case LOTTO_PREEMPT_KICK: return "kick";
	}
	return "?";
}

std::optional<lotto_preempt_mode> preempt_from_name(std::string_view s)
{
	for (auto m : {LOTTO_PREEMPT_OFF, LOTTO_PREEMPT_TICK, LOTTO_PREEMPT_KICK})
		if (s == preempt_name(m))
			return m;
	return std::nullopt;
}

std::string describe_timing(const BackendConfig &cfg)
{
	return "slice " + std::to_string(cfg.slice_us) + " us, latency " + std::to_string(cfg.latency_us) +
	       " us, min run " + std::to_string(cfg.min_run_us) + " us, wake-up preemption " +
	       preempt_name(cfg.preempt) + ", handoff " + std::to_string(cfg.handoff_us) + " us, starve " + std::to_string(cfg.starve_ms) + " ms, compensation " +
	       (cfg.compensation ? "on" : "off") + ", catch-up " + (cfg.catchup ? "on" : "off") +
	       ", default tickets " + std::to_string(cfg.default_tickets) + ", cgroups " +
	       (cfg.cgroups ? "on" : "off") + ", transfers " + (cfg.transfers ? "on" : "off");
}

lotto_config bpf_config(const BackendConfig &cfg)
{
	lotto_config c{};
	c.default_tickets = cfg.default_tickets;
	c.slice_us = cfg.slice_us;
	c.starve_ms = cfg.starve_ms;
	c.compensation = cfg.compensation ? 1 : 0;
	c.latency_us = cfg.latency_us;
	c.min_run_us = cfg.min_run_us;
	c.preempt = cfg.preempt;
	c.catchup = cfg.catchup ? 1 : 0;
	c.handoff_us = cfg.handoff_us;
	c.flags = (cfg.cgroups ? LOTTO_CFG_CGROUPS : 0) | (cfg.transfers ? LOTTO_CFG_TRANSFERS : 0);
	return c;
}

// ---- groups

const char *group_kind_name(uint32_t kind)
{
	switch (kind) {
	case LOTTO_GROUP_FREE: return "free";
	case LOTTO_GROUP_ROOT: return "root";
	case LOTTO_GROUP_CGROUP: return "cgroup";
	case LOTTO_GROUP_POLICY: return "policy";
	}
	return "?";
}

bool policy_gid(uint32_t gid) { return gid >= LOTTO_POLICY_GID_MIN && gid <= LOTTO_POLICY_GID_MAX; }

static Error no_groups() { return err("this backend has no groups (currencies)"); }

std::vector<GroupStat> Backend::groups()
{
	std::vector<GroupStat> out;
	const lotto_group_stat *gs = group_stats();
	lotto_group_ctl *gc = group_ctl();
	if (!gs || !gc)
		return out;
	for (uint32_t gid = 0; gid < LOTTO_MAX_GROUPS; gid++) {
		lotto_group_stat s;
		memcpy(&s, &gs[gid], sizeof(s));	// the backend may be writing it
		lotto_group_ctl c;
		uint64_t w = __atomic_load_n(reinterpret_cast<const uint64_t *>(&gc[gid]), __ATOMIC_RELAXED);
		memcpy(&c, &w, sizeof(c));
		bool user = policy_gid(gid) && (c.funding || c.flags);
		if (gid != 0 && (s.kind == LOTTO_GROUP_FREE || s.kind > LOTTO_GROUP_POLICY) && !user)
			continue;
		GroupStat g;
		g.gid = gid;
		g.kind = gid == 0 ? LOTTO_GROUP_ROOT
			 : policy_gid(gid) ? LOTTO_GROUP_POLICY
					   : lotto_group_kind(s.kind);
		g.cgroup_id = g.kind == LOTTO_GROUP_CGROUP ? s.cgroup_id : 0;
		g.funding_set = lotto_tickets_valid(c.funding) ? c.funding : 0;
		g.weight = g.kind == LOTTO_GROUP_CGROUP ? s.weight : 0;
		// what the core uses: a pin from its next draw on; a cgroup's, as
		// the core last drew it (a nested cgroup's is its share of its
		// top-level cgroup's funding: lotto_cgroups.bpf.h); else its weight
		g.funding = gid == 0 ? 0
			    : g.funding_set ? g.funding_set
			    : g.kind == LOTTO_GROUP_CGROUP && lotto_tickets_valid(s.funding) ? s.funding
			    : lotto_tickets_valid(g.weight) ? g.weight
							   : LOTTO_FUNDING_DEFAULT;
		g.flags = c.flags & LOTTO_GROUP_F_ALL;
		g.runtime_ns = s.runtime_ns;
		g.wins = s.wins;
		out.push_back(g);
	}
	return out;
}

Result<void> Backend::set_task_group(uint32_t slot, uint32_t pid, uint32_t gid)
{
	lotto_task_group *tg = task_groups();
	if (!tg)
		return no_groups();
	if (gid && !policy_gid(gid))
		return err(Errc::invalid, "group " + std::to_string(gid) + " is not a policy group (use " +
						  LOTTO_POLICY_GID_RANGE ", or 0 for the task's cgroup)");
	if (slot >= LOTTO_MAX_TASKS || pid == 0)
		return err(Errc::invalid, "no task slot " + std::to_string(slot) + " for pid " + std::to_string(pid));
	// one store: pid and gid agree
	__atomic_store_n(reinterpret_cast<uint64_t *>(&tg[slot]), lotto_task_group_pack(gid ? pid : 0, gid),
			 __ATOMIC_RELEASE);
	return {};
}

uint32_t Backend::task_group(uint32_t slot, uint32_t pid)
{
	lotto_task_group *tg = task_groups();
	if (!tg || slot >= LOTTO_MAX_TASKS)
		return 0;
	uint64_t word = __atomic_load_n(reinterpret_cast<const uint64_t *>(&tg[slot]), __ATOMIC_RELAXED);
	uint32_t gid = lotto_task_group_gid(word);
	return lotto_ctl_pid(word) == pid && policy_gid(gid) ? gid : 0;
}

static Result<void> check_policy_gid(uint32_t gid)
{
	if (!policy_gid(gid))
		return err(Errc::invalid,
			   "group " + std::to_string(gid) + " is not a policy group (use " LOTTO_POLICY_GID_RANGE ")");
	return {};
}

Result<void> Backend::set_group_funding(uint32_t gid, uint32_t funding)
{
	lotto_group_ctl *gc = group_ctl();
	if (!gc)
		return no_groups();
	if (auto r = check_policy_gid(gid); !r)
		return r;
	if (funding && !lotto_tickets_valid(funding))
		return err(Errc::invalid, "funding out of range: " + std::to_string(funding) +
						  " (use " LOTTO_FUNDING_RANGE ", or 0 for the default)");
	__atomic_store_n(&gc[gid].funding, funding, __ATOMIC_RELEASE);
	return {};
}

Result<void> Backend::set_group_flags(uint32_t gid, uint32_t flags)
{
	lotto_group_ctl *gc = group_ctl();
	if (!gc)
		return no_groups();
	if (auto r = check_policy_gid(gid); !r)
		return r;
	if (flags & ~LOTTO_GROUP_F_ALL)
		return err(Errc::invalid, "unknown group flags " + std::to_string(flags) + " (LOTTO_GROUP_F_*: at most " +
						  std::to_string(LOTTO_GROUP_F_ALL) + ")");
	__atomic_store_n(&gc[gid].flags, flags, __ATOMIC_RELEASE);
	return {};
}

} // namespace lotto
