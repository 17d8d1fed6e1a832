// protocol.h — the control socket's wire format: JSON lines (one object per
// line, UTF-8, '\n' terminated), versioned. docs/protocol.md is the reference;
// this header holds the constants and the JSON encoding of every result
// object, used by the server (encode) and by lotto-shell (decode). Each object
// has one field list in protocol.cpp that both directions walk, so the two
// cannot drift apart.
#pragma once

#include "control/host_api.h"
#include "core/limits.h"

#include <nlohmann/json.hpp>

namespace lotto::control {

using json = nlohmann::json;

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxLine = limits::kMaxRequestLine;	// request line cap, bytes, '\n' excluded
inline constexpr const char *kDefaultSocket = "/run/lotto/lotto.sock";

// ---- encoding (server side)
json to_json(const TaskRow &r);
json to_json(const TaskDetail &d);
json to_json(const HostStats &s);
json to_json(const GroupRow &g);
json to_json(const PolicyInfo &p);
json to_json(const PolicyError &e);
json error_json(const HostError &e);
// {"tasks":[TASK...]}, written straight into text: the same bytes as
// to_json of each row dumped, several times faster (`tasks` of 100,000)
std::string task_list_text(const std::vector<TaskRow> &rows);

// A result: a JSON value, or JSON text already encoded (task_list_text).
struct Body {
	json value;
	std::string text;	// when not empty, the result as it goes on the wire

	Body(json v) : value(std::move(v)) {}
	static Body encoded(std::string t)
	{
		Body b(nullptr);
		b.text = std::move(t);
		return b;
	}
};

// {"id":..,"ok":true,"result":...} / {"id":..,"ok":false,"error":{...}}, one line with '\n'
std::string reply_ok(const json &id, const Body &result);
std::string reply_error(const json &id, const HostError &e);
// The result's text in a reply line that reply_ok made for `id` (nullopt:
// the line is anything else, parse it). Lets a client pass a large result
// on without parsing it.
std::optional<std::string_view> ok_result_text(std::string_view line, const json &id);

// ---- decoding (client side). Missing fields take their defaults; a wrong
// type gives an error naming the field.
Result<TaskRow> task_row_from_json(const json &j);
Result<std::vector<TaskRow>> task_rows_from_json(const json &j);
Result<TaskDetail> task_detail_from_json(const json &j);
Result<HostStats> host_stats_from_json(const json &j);
Result<GroupRow> group_row_from_json(const json &j);
Result<PolicyInfo> policy_info_from_json(const json &j);
Result<PolicyError> policy_error_from_json(const json &j);

// ISO 8601 UTC with milliseconds: 2024-05-01T12:00:00.123Z
std::string iso_time(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_iso_time(const std::string &s);

} // namespace lotto::control
