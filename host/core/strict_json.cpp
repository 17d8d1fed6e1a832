#include "core/strict_json.h"

#include <set>
#include <vector>

namespace lotto {

std::string shown(std::string_view s, size_t max)
{
	return s.size() > max ? std::string(s.substr(0, max)) + "..." : std::string(s);
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
