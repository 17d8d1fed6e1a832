// views.h — what each read command prints: filters and sorts on task rows,
// and the text renderings (tables, the `show` page, the `shares` bar chart).
// JSON output does not come through here: it is the protocol's own objects.
#pragma once

#include "control/host_api.h"

#include <optional>
#include <string>
#include <vector>

namespace lotto::shell {

using control::HostStats;
using control::PolicyErrorInfo;
using control::PolicyInfo;
using control::TaskDetail;
using control::TaskRow;

struct TaskQuery {
	std::string sort = "cpu";	// cpu | tickets | wait | pid
	std::string comm;		// glob, "" = all
	std::string user;		// name or uid, "" = all
	std::optional<uint32_t> pid;
	std::optional<size_t> top;
};

void apply_query(std::vector<TaskRow> &rows, const TaskQuery &q);

struct Style {
	int width = 0;		// 0: unlimited (not a terminal)
	bool tty = false;	// ANSI bold/colors allowed
};

std::string format_ns(uint64_t ns);	// 0, 850us, 12.3ms, 4.50s, 3m05s
std::string format_pct(double share);	// 0..1 -> "12.3"

std::string render_tasks(const std::vector<TaskRow> &rows, const Style &st);
std::string render_show(const TaskDetail &d);
std::string render_stats(const HostStats &s, const Style &st);
std::string render_shares(const std::vector<TaskRow> &rows, const Style &st);
std::string render_policies(const std::vector<PolicyInfo> &p, const Style &st);
std::string render_policy_errors(const std::vector<PolicyErrorInfo> &e);

} // namespace lotto::shell
