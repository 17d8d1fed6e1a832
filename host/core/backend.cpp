#include "core/backend.h"

extern "C" {
#include "bpf/lotto_math.h"
}

namespace lotto {

Result<void> check_backend_config(const BackendConfig &cfg)
{
	if (!lotto_tickets_valid(cfg.default_tickets))
		return err("default tickets " + std::to_string(cfg.default_tickets) + " are not in 1..1000000");
	if (cfg.slice_us < LOTTO_SLICE_US_MIN || cfg.slice_us > LOTTO_SLICE_US_MAX)
		return err("slice " + std::to_string(cfg.slice_us) + " us is not in " +
			   std::to_string(LOTTO_SLICE_US_MIN) + ".." + std::to_string(LOTTO_SLICE_US_MAX));
	if (cfg.starve_ms < LOTTO_STARVE_MS_MIN || cfg.starve_ms > LOTTO_STARVE_MS_MAX)
		return err("starvation bound " + std::to_string(cfg.starve_ms) + " ms is not in " +
			   std::to_string(LOTTO_STARVE_MS_MIN) + ".." + std::to_string(LOTTO_STARVE_MS_MAX));
	return {};
}

} // namespace lotto
