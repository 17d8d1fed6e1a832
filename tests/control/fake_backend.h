// fake_backend.h — a Backend whose slot table the test writes by hand: the
// control tests need tasks with known runtimes, not a scheduler.
#pragma once

#include "core/backend.h"

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace lotto::test {

class FakeBackend : public Backend {
public:
	explicit FakeBackend(uint32_t slots = 64, uint32_t cpus = 2)
		: tasks_(slots), ctl_(slots), cpus_(cpus), groups_(LOTTO_MAX_GROUPS), group_ctl_(LOTTO_MAX_GROUPS),
		  task_groups_(LOTTO_MAX_TASKS)
	{
		groups_[0].kind = LOTTO_GROUP_ROOT;
	}

	const char *name() const override { return "fake"; }
	Result<void> start() override { return {}; }
	void stop() override {}
	const lotto_task_stat *tasks() const override { return tasks_.data(); }
	lotto_ctl *ctl() override { return ctl_.data(); }
	uint32_t slots_hw() const override { return hw_; }
	GlobalStats stats() const override
	{
		GlobalStats g;
		g.per_cpu.assign(cpus_, {});
		for (uint32_t c = 0; c < cpus_; c++) {
			g.per_cpu[c][LOTTO_STAT_DRAWS] = draws_ / cpus_ + (c < draws_ % cpus_ ? 1 : 0);
			g.per_cpu[c][LOTTO_STAT_ENQUEUES] = 10 * (c + 1);
		}
		for (auto &pc : g.per_cpu)
			for (int i = 0; i < LOTTO_STAT_NR; i++)
				g.total[i] += pc[i];
		return g;
	}
	uint32_t nr_cpus() const override { return cpus_; }
	std::optional<ExitInfo> exit_info() const override { return exit_; }
	const lotto_group_stat *group_stats() const override { return groups_.data(); }
	lotto_group_ctl *group_ctl() override { return group_ctl_.data(); }
	lotto_task_group *task_groups() override { return task_groups_.data(); }
	std::string cgroup_path(uint64_t id) override
	{
		auto it = cgroup_paths_.find(id);
		return it == cgroup_paths_.end() ? "" : it->second;
	}

	// ---- groups, as the core keeps them
	// a cgroup group (the core's cgroup_init)
	void add_cgroup(uint32_t gid, uint64_t cgroup_id, const std::string &path, uint32_t weight)
	{
		groups_[gid] = lotto_group_stat{};
		groups_[gid].kind = LOTTO_GROUP_CGROUP;
		groups_[gid].cgroup_id = cgroup_id;
		groups_[gid].weight = weight;
		groups_[gid].funding = weight;
		cgroup_paths_[cgroup_id] = path;
	}
	lotto_group_stat &group(uint32_t gid) { return groups_.at(gid); }
	// the task's group at its last draw, as the core notes it
	void put(uint32_t pid, uint32_t gid) { task(pid).group = gid; }
	// what the host wrote into lotto_task_groups for pid's slot (0: none)
	uint32_t ctl_group(uint32_t pid)
	{
		for (size_t i = 0; i < tasks_.size(); i++)
			if (tasks_[i].pid == pid)
				return task_groups_[i].pid == pid ? task_groups_[i].group : 0;
		return 0;
	}

	// ---- test controls
	uint32_t add(uint32_t pid, const std::string &comm, uint32_t uid = 0, int nice = 0)
	{
		uint32_t slot = 0;
		while (slot < tasks_.size() && tasks_[slot].pid)
			slot++;
		lotto_task_stat &s = tasks_.at(slot);
		s = lotto_task_stat{};
		s.pid = pid;
		s.tgid = pid;
		s.gen = ++gen_;
		s.uid = uid;
		s.nice = nice;
		s.tickets = LOTTO_TICKETS_DEFAULT;
		strncpy(s.comm, comm.c_str(), LOTTO_COMM_LEN - 1);
		if (slot >= hw_)
			hw_ = slot + 1;
		return slot;
	}
	void remove(uint32_t pid)
	{
		for (auto &s : tasks_)
			if (s.pid == pid)
				s = lotto_task_stat{};
	}
	lotto_task_stat &task(uint32_t pid)
	{
		for (auto &s : tasks_)
			if (s.pid == pid)
				return s;
		throw std::runtime_error("no task " + std::to_string(pid));
	}
	// what the host last wrote for this pid into the ctl table (0: nothing)
	uint32_t ctl_tickets(uint32_t pid) const
	{
		for (size_t i = 0; i < tasks_.size(); i++)
			if (tasks_[i].pid == pid)
				return ctl_[i].pid == pid ? ctl_[i].tickets : 0;
		return 0;
	}
	void set_draws(uint64_t d) { draws_ = d; }
	void set_exit(ExitInfo e) { exit_ = std::move(e); }

private:
	std::vector<lotto_task_stat> tasks_;
	std::vector<lotto_ctl> ctl_;
	uint32_t cpus_;
	uint32_t hw_ = 0;
	uint32_t gen_ = 0;
	uint64_t draws_ = 0;
	std::optional<ExitInfo> exit_;
	std::vector<lotto_group_stat> groups_;
	std::vector<lotto_group_ctl> group_ctl_;
	std::vector<lotto_task_group> task_groups_;
	std::map<uint64_t, std::string> cgroup_paths_;
};

} // namespace lotto::test
