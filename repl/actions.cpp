// actions.cpp — the commands that change something, `lua` and `help`
// (handlers.h): each sends its request and prints what happened, one line,
// or the host's JSON result with --json.
#include "command_parser.h"
#include "handlers.h"
#include "shell.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

namespace lotto::shell {

namespace {

// Send the request; with --json print the result as it came, else the
// line `say` makes of it.
template <typename Say>
Status act(Shell &sh, const ParsedCommand &pc, const char *cmd, json params, Say say)
{
	auto r = sh.client().call(cmd, std::move(params));
	if (!r)
		return sh.fail_host(pc, r.error());
	if (sh.want_json(pc))
		sh.print_json(*r);
	else
		sh.print(say(*r));
	return Status::ok;
}

const char *tasks_word(size_t n) { return n == 1 ? "task" : "tasks"; }

} // namespace

Status do_tickets(Shell &sh, const ParsedCommand &pc)
{
	uint32_t tickets = *parse_tickets(pc.args[1]);
	json req{{"tickets", tickets}};
	const std::string &target = pc.args[0];
	if (!target.empty() && target.find_first_not_of("0123456789") == std::string::npos)
		req["pid"] = *parse_pid(target);
	else
		req["comm"] = target;
	return act(sh, pc, "tickets", req, [&](const json &r) {
		auto pins = r.value("pinned", json::array());
		std::string list;
		for (auto &p : pins)
			list += (list.empty() ? "" : " ") + p.dump();
		return fmt::format("pinned {} tickets on {} {} ({})\n", tickets, pins.size(), tasks_word(pins.size()), list);
	});
}

Status do_unpin(Shell &sh, const ParsedCommand &pc)
{
	bool all = pc.args[0] == "all";
	json req = all ? json{{"all", true}} : json{{"pid", *parse_pid(pc.args[0])}};
	return act(sh, pc, "unpin", req, [&](const json &r) {
		if (!all)
			return fmt::format("unpinned {}; policies set its tickets again\n", pc.args[0]);
		size_t n = r.value("unpinned", 0);
		return fmt::format("unpinned {} {}; policies set their tickets again\n", n, tasks_word(n));
	});
}

Status do_fund(Shell &sh, const ParsedCommand &pc)
{
	const std::string &group = pc.args[0];
	if (pc.args[1] == "off")
		return act(sh, pc, "unfund", json{{"group", group}}, [&](const json &) {
			return fmt::format("unpinned the funding of group {}; its policy funds it again\n", group);
		});
	uint32_t funding = *parse_funding(pc.args[1]);
	return act(sh, pc, "fund", json{{"group", group}, {"funding", funding}}, [&](const json &r) {
		return fmt::format("pinned funding {} on group {} (gid {})\n", funding, group, r.value("gid", 0));
	});
}

Status do_boost(Shell &sh, const ParsedCommand &pc)
{
	uint32_t pid = *parse_pid(pc.args[0]);
	double f = *parse_factor(pc.args[1]);
	json req{{"pid", pid}, {"factor", f}};
	if (pc.duration)
		req["duration_ms"] = pc.duration->count();
	return act(sh, pc, "boost", req, [&](const json &) {
		if (pc.duration)
			return fmt::format("boosted {} x{:g} for {:g}s\n", pid, f, pc.duration->count() / 1000.0);
		return fmt::format("boosted {} x{:g} until `unpin {}`\n", pid, f, pid);
	});
}

Status do_policy_load(Shell &sh, const ParsedCommand &pc)
{
	char buf[PATH_MAX];
	if (!realpath(pc.args[0].c_str(), buf))
		return sh.fail(&pc,
			       fmt::format("cannot load {}: {} (give the path of a policy .lua file)", pc.args[0],
					   strerror(errno)),
			       "usage");
	return act(sh, pc, "policy.load", json{{"file", std::string(buf)}}, [](const json &r) {
		return fmt::format("loaded policy {} from {}\n", r.value("name", "?"), r.value("file", "?"));
	});
}

Status do_policy_unload(Shell &sh, const ParsedCommand &pc)
{
	return act(sh, pc, "policy.unload", json{{"name", pc.args[0]}},
		   [&](const json &) { return fmt::format("unloaded policy {}\n", pc.args[0]); });
}

Status do_policy_reload(Shell &sh, const ParsedCommand &pc)
{
	return act(sh, pc, "policy.reload", json{{"name", pc.args[0]}},
		   [&](const json &) { return fmt::format("reloaded policy {}\n", pc.args[0]); });
}

Status do_lua(Shell &sh, const ParsedCommand &pc)
{
	return act(sh, pc, "eval", json{{"expr", pc.raw_rest}},
		   [](const json &r) { return r.value("value", "") + "\n"; });
}

Status do_help(Shell &sh, const ParsedCommand &pc)
{
	if (sh.want_json(pc)) {
		json a = json::array();
		for (auto &c : commands()) {
			if (!pc.args.empty() && find_command(pc.args[0]) != &c)
				continue;
			a.push_back(json{{"name", c.name}, {"synopsis", c.synopsis}, {"summary", c.summary},
					 {"help", c.help}, {"write", c.write}});
		}
		sh.print_json(json{{"commands", a}});
		return Status::ok;
	}
	sh.print(pc.args.empty() ? help_overview() : help_for(*find_command(pc.args[0])));
	return Status::ok;
}

Status do_quit(Shell &, const ParsedCommand &) { return Status::quit; }

} // namespace lotto::shell
