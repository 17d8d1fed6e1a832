#include "core/strict_json.h"

#include <fmt/format.h>
#include <set>
#include <vector>

namespace lotto {

std::string shown(std::string_view s, size_t max)
{
	// one line: control characters escaped (found by tests/fuzz/state_fuzz:
	// a key with a newline made a two-line error)
	std::string out;
	for (unsigned char c : s.substr(0, max)) {
		if (c == '\n')
			out += "\\n";
		else if (c == '\r')
			out += "\\r";
		else if (c == '\t')
			out += "\\t";
		else if (c < 0x20 || c == 0x7f)
			out += fmt::format("\\x{:02x}", c);
		else
			out += char(c);
	}
	return s.size() > max ? out + "..." : out;
}

Result<nlohmann::json> parse_json_strict(std::string_view text)
{
	using json = nlohmann::json;
	std::vector<std::set<std::string>> keys;	// per open object
	std::optional<std::string> dup;
	auto cb = [&](int, json::parse_event_t ev, json &parsed) {
		if (ev == json::parse_event_t::object_start)
			keys.emplace_back();
		else if (ev == json::parse_event_t::object_end && !keys.empty())
			keys.pop_back();
		else if (ev == json::parse_event_t::key && !dup && !keys.empty() && parsed.is_string() &&
			 !keys.back().insert(parsed.get_ref<const std::string &>()).second)
			dup = parsed.get<std::string>();
		return true;
	};
	json j = json::parse(text.begin(), text.end(), cb, false);
	if (j.is_discarded())
		return err(Errc::invalid, "not valid JSON");
	if (dup)
		return err(Errc::invalid, "duplicate key \"" + shown(*dup) + "\"");
	return j;
}

} // namespace lotto
