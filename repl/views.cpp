// views.cpp — the read commands (handlers.h): each fetches what it shows
// and returns it as text or as a JSON line. `watch` repeats them.
#include "views.h"

#include "command_parser.h"
#include "handlers.h"
#include "shell.h"

#include "control/protocol.h"

#include <algorithm>
#include <fmt/format.h>

namespace lotto::shell {

namespace {

std::string json_line(const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

// --sort, --comm, --user, --pid, --top
TaskQuery query_of(const ParsedCommand &pc, const char *default_sort)
{
	TaskQuery q;
	q.sort = pc.flag("--sort", default_sort);
	q.comm = pc.flag("--comm");
	q.user = pc.flag("--user");
	if (pc.has("--pid"))
		q.pid = *parse_pid(pc.flag("--pid"));
	if (pc.has("--top"))
		q.top = *parse_count(pc.flag("--top"), "top", kMaxCount);
	return q;
}

// `cmd`'s result: as the host sent it with --json, else decoded by `decode`
// and rendered by `render`
template <typename Decode, typename Render>
Result<std::string> fetch_view(Shell &sh, const ParsedCommand &pc, const char *cmd, json params, Decode decode,
			       Render render)
{
	if (sh.want_json(pc)) {
		auto text = sh.client().call_text(cmd, std::move(params));
		if (!text)
			return text.error();
		return *text + "\n";
	}
	auto r = sh.client().call(cmd, std::move(params));
	if (!r)
		return r.error();
	auto v = decode(*r);
	if (!v)
		return v.error();
	return render(*v);
}

// {"key": [object...]} decoded element by element
template <typename T, typename Decode> auto list_decoder(const char *key, Decode decode)
{
	return [key, decode](const json &r) -> Result<std::vector<T>> {
		std::vector<T> out;
		for (auto &x : r.value(key, json::array())) {
			auto v = decode(x);
			if (!v)
				return v.error();
			out.push_back(std::move(*v));
		}
		return out;
	};
}

} // namespace

static Result<std::vector<TaskRow>> rows_of(const json &r)
{
	if (!r.is_object() || !r.contains("tasks"))
		return err("bad reply from lotto-host: no 'tasks'");
	return control::task_rows_from_json(r["tasks"]);
}

Result<std::vector<TaskRow>> fetch_tasks(HostClient &client, const TaskQuery &q)
{
	auto r = client.call("tasks", control::query_request(q));
	if (!r)
		return r.error();
	return rows_of(*r);
}

Result<std::string> view_tasks(Shell &sh, const ParsedCommand &pc)
{
	return fetch_view(sh, pc, "tasks", control::query_request(query_of(pc, "cpu")), rows_of,
			  [&](const std::vector<TaskRow> &rows) { return render_tasks(rows, sh.style()); });
}

Result<std::string> view_shares(Shell &sh, const ParsedCommand &pc)
{
	auto rows = fetch_tasks(sh.client(), query_of(pc, "tickets"));
	if (!rows)
		return rows.error();
	if (!sh.want_json(pc))
		return render_shares(*rows, sh.style());
	json a = json::array();
	for (auto &r : *rows)
		a.push_back(json{{"pid", r.pid},
				 {"comm", r.comm},
				 {"tickets", r.tickets},
				 {"ticket_share", r.ticket_share},
				 {"cpu_share", r.cpu_share}});
	return json_line(json{{"tasks", std::move(a)}});
}

Result<std::string> view_show(Shell &sh, const ParsedCommand &pc)
{
	return fetch_view(sh, pc, "show", json{{"pid", *parse_pid(pc.args[0])}}, control::task_detail_from_json,
			  [](const TaskDetail &d) { return render_show(d); });
}

Result<std::string> view_stats(Shell &sh, const ParsedCommand &pc)
{
	return fetch_view(sh, pc, "stats", json::object(), control::host_stats_from_json,
			  [&](const HostStats &s) { return render_stats(s, sh.style()); });
}

Result<std::string> view_groups(Shell &sh, const ParsedCommand &pc)
{
	return fetch_view(sh, pc, "groups", json::object(),
			  list_decoder<GroupRow>("groups", control::group_row_from_json),
			  [&](const std::vector<GroupRow> &g) { return render_groups(g, sh.style()); });
}

Result<std::string> view_policy_list(Shell &sh, const ParsedCommand &pc)
{
	return fetch_view(sh, pc, "policy.list", json::object(),
			  list_decoder<PolicyInfo>("policies", control::policy_info_from_json),
			  [&](const std::vector<PolicyInfo> &p) { return render_policies(p, sh.style()); });
}

Result<std::string> view_policy_errors(Shell &sh, const ParsedCommand &pc)
{
	return fetch_view(sh, pc, "policy.errors", json::object(),
			  list_decoder<PolicyError>("errors", control::policy_error_from_json),
			  [](const std::vector<PolicyError> &e) { return render_policy_errors(e); });
}

Result<std::string> view_draw(Shell &sh, const ParsedCommand &pc)
{
	uint64_t draws = pc.args.empty() ? 10000 : *parse_count(pc.args[0], "N", kMaxCount);
	if (draws > kMaxDraws)
		return err(fmt::format("draw: {} draws is too many for the shell (use at most {})", draws, kMaxDraws));
	uint64_t seed = pc.has("--seed") ? *parse_seed(pc.flag("--seed")) : 1;
	auto rows = fetch_tasks(sh.client());
	if (!rows)
		return rows.error();
	if (rows->empty())
		return err("draw: there are no lotto tasks to draw from (see `tasks`)");
	std::vector<DrawTask> tasks;
	for (auto &r : *rows)
		tasks.push_back(DrawTask{r.pid, r.comm, r.tickets});
	DrawResult d = simulate_draws(tasks, draws, seed);
	std::stable_sort(d.rows.begin(), d.rows.end(), [](auto &a, auto &b) { return a.tickets > b.tickets; });
	if (!sh.want_json(pc))
		return render_draws(d, sh.style());
	json a = json::array();
	for (auto &r : d.rows)
		a.push_back(json{{"pid", r.pid},
				 {"comm", r.comm},
				 {"tickets", r.tickets},
				 {"expected_share", r.expected_share},
				 {"wins", r.wins},
				 {"share", r.share},
				 {"z", r.z}});
	return json_line(json{{"draws", d.draws},
			      {"seed", d.seed},
			      {"total_tickets", d.total_tickets},
			      {"max_abs_z", d.max_abs_z},
			      {"tasks", std::move(a)}});
}

} // namespace lotto::shell
