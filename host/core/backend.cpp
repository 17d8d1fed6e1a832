#include "core/backend.h"

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

} // namespace lotto
