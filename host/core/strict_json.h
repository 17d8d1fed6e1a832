// strict_json.h — JSON as lotto-host reads it from clients and from its
// state file: RFC 8259 lets a parser keep any one of duplicate keys
// silently; here a duplicate key is an error that names it.
#pragma once

#include "core/result.h"

#include <nlohmann/json.hpp>
#include <string_view>

namespace lotto {

// Errc::invalid with "not valid JSON" or "duplicate key \"k\"".
Result<nlohmann::json> parse_json_strict(std::string_view text);

// a key or string shown in a message: one line (control characters
// escaped), at most `max` bytes, then "..."
std::string shown(std::string_view s, size_t max = 64);

} // namespace lotto
