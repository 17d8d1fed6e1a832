// sim_backend.h — `lotto-host --backend sim`: the Backend interface around a
// SimMachine, advancing it in (scaled) real time from the event loop's poll().
#pragma once

#include "core/backend.h"
#include "sim/sim_machine.h"
#include "sim/workload.h"

#include <chrono>
#include <memory>
#include <optional>

namespace lotto::sim {

class SimBackend final : public Backend {
public:
	// The workload comes from cfg.workload, or the built-in one when empty.
	explicit SimBackend(BackendConfig cfg);
	// A workload already parsed (tests, benchmarks).
	SimBackend(BackendConfig cfg, Workload w);

	const char *name() const override { return "sim"; }
	Result<void> start() override;
	void stop() override;

	const lotto_task_stat *tasks() const override { return m_ ? m_->tasks() : nullptr; }
	lotto_ctl *ctl() override { return m_ ? m_->ctl() : nullptr; }
	uint32_t slots_hw() const override { return m_ ? m_->slots_hw() : 0; }
	GlobalStats stats() const override { return m_ ? m_->stats() : GlobalStats{}; }
	uint32_t nr_cpus() const override { return m_ ? m_->nr_cpus() : 0; }
	std::optional<ExitInfo> exit_info() const override { return std::nullopt; }	// never stops by itself
	const lotto_group_stat *group_stats() const override { return m_ ? m_->groups() : nullptr; }
	lotto_group_ctl *group_ctl() override { return m_ ? m_->group_ctl() : nullptr; }
	lotto_task_group *task_groups() override { return m_ ? m_->task_groups() : nullptr; }
	std::string cgroup_path(uint64_t id) override { return m_ ? m_->cgroup_path(id) : ""; }

	// Advance the machine by sim_speed x the real time since the last poll
	// (sim_speed 0: as much as fits in 80% of a poll interval).
	void poll() override;
	int poll_interval_ms() const override { return kPollMs; }

	// the machine itself (nullptr before start() and after stop())
	SimMachine *machine() { return m_.get(); }

private:
	static constexpr int kPollMs = 50;

	BackendConfig cfg_;
	std::optional<Workload> given_;
	std::unique_ptr<SimMachine> m_;
	std::chrono::steady_clock::time_point last_poll_;
	double carry_ns_ = 0;	// fraction of a ns owed from the last poll
	bool warned_slow_ = false;
};

} // namespace lotto::sim
