// log.h — one logger for the whole host: plain lines (journald adds its own
// timestamps when stderr is not a terminal).
#pragma once

#include <spdlog/spdlog.h>

namespace lotto {

// level: "trace", "debug", "info", "warn", "error", "off"
void log_init(const std::string &level);

} // namespace lotto
