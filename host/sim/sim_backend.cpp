#include "sim/sim_backend.h"

#include <spdlog/spdlog.h>

namespace lotto {

std::unique_ptr<Backend> make_sim_backend(const BackendConfig &cfg)
{
	return std::make_unique<sim::SimBackend>(cfg);
}

} // namespace lotto

namespace lotto::sim {

namespace {
constexpr uint64_t kChunkNs = 10000000;	// 10 ms of simulated time between clock checks
}

SimBackend::SimBackend(BackendConfig cfg) : cfg_(std::move(cfg)) {}

SimBackend::SimBackend(BackendConfig cfg, Workload w) : cfg_(std::move(cfg)), given_(std::move(w)) {}

Result<void> SimBackend::start()
{
	if (m_)
		return {};
	Workload w;
	if (given_) {
		w = *given_;
	} else if (!cfg_.workload.empty()) {
		auto r = load_workload(cfg_.workload);
		if (!r)
			return r.error();
		w = std::move(*r);
	} else {
		w = default_workload();
	}
	auto m = SimMachine::create(w, cfg_);
	if (!m)
		return m.error();
	m_ = std::move(*m);
	last_poll_ = std::chrono::steady_clock::now();
	carry_ns_ = 0;
	spdlog::info("{}", m_->describe());
	if (cfg_.sim_speed > 0)
		spdlog::info("sim: running at {}x real time", cfg_.sim_speed);
	else
		spdlog::info("sim: running as fast as this host allows");
	return {};
}

void SimBackend::stop() { m_.reset(); }

void SimBackend::poll()
{
	if (!m_)
		return;
	using namespace std::chrono;
	auto now = steady_clock::now();
	double real_ns = double(duration_cast<nanoseconds>(now - last_poll_).count());
	last_poll_ = now;
	auto deadline = now + milliseconds(kPollMs * 8 / 10);

	if (cfg_.sim_speed <= 0) {
		do
			m_->run_for(kChunkNs);
		while (steady_clock::now() < deadline);
		return;
	}
	double want = real_ns * cfg_.sim_speed + carry_ns_;
	uint64_t todo = want >= 1.8e19 ? UINT64_MAX : uint64_t(want);
	carry_ns_ = want - double(todo);
	while (todo > 0) {
		uint64_t step = std::min(todo, kChunkNs);
		m_->run_for(step);
		todo -= step;
		if (todo && steady_clock::now() >= deadline) {
			if (!warned_slow_)
				spdlog::warn("sim: this host cannot simulate {}x real time with this workload; "
					     "the simulated clock runs slower",
					     cfg_.sim_speed);
			warned_slow_ = true;
			carry_ns_ = 0;
			break;
		}
	}
}

} // namespace lotto::sim
