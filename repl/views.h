// views.h — what each read command prints. The views (handlers.h) fetch
// what they show from the host and turn it into text or a JSON line; the
// renderers below (render.cpp) are the text: tables, the `show` page, the
// `shares` bar chart. Filtering, sorting and --top are done by the host
// (control/task_query.h) before it encodes the rows.
#pragma once

#include "draw_sim.h"

#include "control/host_api.h"

#include <optional>
#include <string>
#include <vector>

namespace lotto::shell {

class HostClient;

using control::apply_query;
using control::GroupRow;
using control::HostStats;
using control::TaskDetail;
using control::TaskQuery;
using control::TaskRow;

// The tasks the query selects, as the host sends them.
Result<std::vector<TaskRow>> fetch_tasks(HostClient &client, const TaskQuery &q = {});

struct Style {
	int width = 0;		// 0: unlimited (not a terminal)
	bool tty = false;	// ANSI bold/colors allowed
};

std::string format_ns(uint64_t ns);	// 0, 850us, 12.3ms, 4.50s, 3m05s
std::string format_pct(double share);	// 0..1 -> "12.3"

std::string render_tasks(const std::vector<TaskRow> &rows, const Style &st);
std::string render_show(const TaskDetail &d);
std::string render_stats(const HostStats &s, const Style &st);
std::string render_groups(const std::vector<GroupRow> &rows, const Style &st);
std::string render_shares(const std::vector<TaskRow> &rows, const Style &st);
std::string render_policies(const std::vector<PolicyInfo> &p, const Style &st);
std::string render_policy_errors(const std::vector<PolicyError> &e);
std::string render_draws(const DrawResult &d, const Style &st);

} // namespace lotto::shell
