#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

namespace lotto {

void log_init(const std::string &level)
{
	auto logger = spdlog::stderr_color_mt("lotto");
	if (isatty(STDERR_FILENO))
		logger->set_pattern("%H:%M:%S.%e %^%-5l%$ %v");
	else
		logger->set_pattern("%l: %v");	// journald timestamps lines itself
	logger->set_level(spdlog::level::from_str(level));
	spdlog::set_default_logger(logger);
}

} // namespace lotto
