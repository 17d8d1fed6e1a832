#include "command_table.h"

#include "handlers.h"

#include "bpf/lotto_limits.h"

#include <algorithm>
#include <fmt/format.h>

namespace lotto::shell {

const FlagSpec kJsonFlag{"--json", ArgKind::none, "print the result as JSON (field names: docs/shell.md)"};

const std::vector<CommandSpec> &commands()
{
	static const std::vector<CommandSpec> table = {
		{
			.name = "tasks",
			.flags = {{"--sort", ArgKind::sort_key, "order by cpu, tickets, wait or pid (default cpu)"},
				  {"--comm", ArgKind::comm, "only tasks whose comm matches the glob PATTERN"},
				  {"--user", ArgKind::user, "only tasks of user U (name or uid)"},
				  {"--pid", ArgKind::pid, "only the task P"},
				  {"--top", ArgKind::count, "only the first N rows"}},
			.synopsis = "tasks [--sort cpu|tickets|wait|pid] [--comm PATTERN] [--user U] [--pid P] [--top N]",
			.summary = "list lotto tasks: tickets, who set them, ticket share vs CPU share, waits",
			.help = "SOURCE says who set the tickets: pin (the REPL), policy NAME, or default.\n"
				"CPU% is percent of one CPU over the host's last sample interval (1 s);\n"
				"TKT% and CPU%SH are shares among all lotto tasks (they sum to 100).\n"
				"example: tasks --sort tickets --comm 'stress*' --top 10",
			.handler = {.view = view_tasks},
		},
		{
			.name = "show",
			.args = {{"PID", ArgKind::pid}},
			.synopsis = "show PID",
			.summary = "everything about one task, including its ticket history",
			.help = "The history lists each change of the task's tickets with its time and\n"
				"source (a policy tick, a pin, an unpin, a boost).",
			.handler = {.view = view_show},
		},
		{
			.name = "tickets",
			.args = {{"PID|PATTERN", ArgKind::pid_or_comm}, {"N", ArgKind::tickets}},
			.synopsis = "tickets PID|PATTERN N",
			.summary = "pin N tickets (" LOTTO_TICKETS_RANGE ") on a task, or on every task whose comm matches",
			.help = "A pin overrides every policy until `unpin`. PATTERN is a glob on the\n"
				"command name: tickets 'stress*' 500",
			.write = true,
			.handler = {.run = do_tickets},
		},
		{
			.name = "unpin",
			.args = {{"PID|all", ArgKind::pid_or_all}},
			.synopsis = "unpin PID|all",
			.summary = "drop a pin (and boost): policies decide the tickets again",
			.help = "unpin all drops every pin and boost made from any shell.",
			.write = true,
			.handler = {.run = do_unpin},
		},
		{
			.name = "boost",
			.args = {{"PID", ArgKind::pid}, {"xF", ArgKind::factor}},
			.synopsis = "boost PID xF [for DURATION]",
			.summary = "multiply a task's tickets by F, until DURATION passes or `unpin`",
			.help = "Waldspurger's ticket transfer by hand: boost 1234 x4 for 30s.\n"
				"F is " LOTTO_BOOST_RANGE " (x0.5 halves); DURATION is like 500ms, 30s, 5m, 1h.",
			.write = true,
			.handler = {.run = do_boost},
		},
		{
			.name = "fund",
			.args = {{"GROUP", ArgKind::group}, {"N|off", ArgKind::funding}},
			.synopsis = "fund GROUP N|off",
			.summary = "pin a policy group's funding to N (" LOTTO_FUNDING_RANGE "), over its policies'",
			.help = "GROUP is a policy group's name or gid (see `groups`). The pin is kept in the\n"
				"state file by name, and holds for the group a policy makes after a restart.\n"
				"`fund GROUP off` gives the group's funding back to its policies.\n"
				"example: fund uid:1000 300",
			.write = true,
			.handler = {.run = do_fund},
		},
		{
			.name = "policy",
			.subs = {{"list", {}, "loaded policies, their interval, ticks, overruns, last error", false,
				  {.view = view_policy_list}},
				 {"load", {{"FILE", ArgKind::policy_file}}, "load a policy file (path on this machine)", true,
				  {.run = do_policy_load}},
				 {"unload", {{"NAME", ArgKind::policy_name}}, "stop and drop a policy", true,
				  {.run = do_policy_unload}},
				 {"reload", {{"NAME", ArgKind::policy_name}}, "re-read a policy's file now", true,
				  {.run = do_policy_reload}},
				 {"errors", {}, "the last error of each policy, as file:line: message", false,
				  {.view = view_policy_errors}}},
			.synopsis = "policy list|load FILE|unload NAME|reload NAME|errors",
			.summary = "manage the Lua policies that set tickets",
			.help = "A failed load or reload keeps the old version running; `policy errors`\n"
				"shows why it failed.",
		},
		{
			.name = "stats",
			.synopsis = "stats",
			.summary = "backend, scheduler state, uptime, draws/s and the per-CPU counters",
			.help = "state is `enabled` while lotto schedules, `exited` with the kernel's\n"
				"reason once it stopped.",
			.handler = {.view = view_stats},
		},
		{
			.name = "groups",
			.synopsis = "groups",
			.summary = "the groups (currencies): funding, tasks, ticket share vs CPU share",
			.help = "Every task is in one group: the root (gid 0: its tasks race with their own\n"
				"tickets), its cgroup (funded by cpu.weight) or a policy group (funded by its\n"
				"policy, or `fund`). A group wins a draw with probability funding / (the\n"
				"active groups' funding + the active root tasks' tickets): TKT%. A group is\n"
				"active when one of its tasks ran in the host's last sample interval (1 s).\n"
				"FLAGS: xfer (its tasks get ticket transfers), in (accepts other groups').",
			.handler = {.view = view_groups},
		},
		{
			.name = "shares",
			.flags = {{"--comm", ArgKind::comm, "only tasks whose comm matches the glob PATTERN"},
				  {"--top", ArgKind::count, "only the N tasks with the most tickets"}},
			.synopsis = "shares [--comm PATTERN] [--top N]",
			.summary = "bar chart: each task's ticket share against its measured CPU share",
			.help = "Over a long enough interval, CPU share follows ticket share among the\n"
				"tasks that are runnable; sleepers get less than their tickets say.",
			.handler = {.view = view_shares},
		},
		{
			.name = "draw",
			.args = {{"N", ArgKind::count, true}},
			.flags = {{"--seed", ArgKind::seed, "seed of the PRNG (default 1): same seed, same draws"}},
			.synopsis = "draw [N] [--seed S]",
			.summary = "simulate N lottery draws (default 10000) from the current tickets",
			.help = "Runs the core's own draw (bpf/lotto_math.h, exponential race) here in\n"
				"the shell with every task runnable, and prints each task's wins against\n"
				"its theoretical share tickets/total.",
			.handler = {.view = view_draw},
		},
		{
			.name = "watch",
			.args = {{"CMD", ArgKind::command}, {"SECONDS", ArgKind::seconds, true}},
			.synopsis = "watch CMD [SECONDS]",
			.summary = "re-run a read command full screen every SECONDS (default 2) until Ctrl-C",
			.help = "CMD is any of tasks, show, stats, groups, shares, draw, policy list|errors with\n"
				"its arguments: watch tasks --top 20 1. On a terminal, tasks without --top\n"
				"shows (and asks the host for) as many rows as fit the screen.",
			.needs_host = false,
			.handler = {.run = do_watch},
		},
		{
			.name = "export",
			.subs = {{"csv", {{"FILE", ArgKind::file}}, "sample task statistics into FILE"}},
			.flags = {{"--interval", ArgKind::seconds, "seconds between samples (default 1)"},
				  {"--count", ArgKind::count, "number of samples (default 10)"},
				  {"--groups", ArgKind::none, "one row per group instead of per task"}},
			.synopsis = "export csv FILE [--interval S] [--count N] [--groups]",
			.summary = "sample task statistics into a CSV file, with a progress line",
			.help = "Columns: iteration,timestamp,pid,comm,runtime_ns,delta_ns,rolling_runtime_ms,\n"
				"wins,nice,tickets,ticket_share,cpu_share (docs/shell.md explains each).\n"
				"With --groups: iteration,timestamp,gid,kind,name,funding,tasks,active,\n"
				"runtime_ns,delta_ns,ticket_share,cpu_share.\n"
				"Ctrl-C stops early and keeps the rows written so far.",
			.handler = {.run = do_export},
		},
		{
			.name = "lua",
			.args = {{"EXPR", ArgKind::lua}},
			.synopsis = "lua EXPR",
			.summary = "evaluate a Lua expression in the host's policy context",
			.help = "An admin may change the policy's globals and ctx.state; anyone else's expression "
				"runs apart, with their own rights, changes nothing and stops after 1 s: "
				"lua #tasks, lua @interactive ctx.state",
			.handler = {.run = do_lua},
		},
		{
			.name = "help",
			.args = {{"CMD", ArgKind::help_topic, true}},
			.synopsis = "help [CMD]",
			.summary = "this list, or the details of one command",
			.help = "",
			.needs_host = false,
			.handler = {.run = do_help},
		},
		{
			.name = "quit",
			.aliases = {"exit"},
			.synopsis = "quit",
			.summary = "leave the shell (also exit, Ctrl-D)",
			.help = "",
			.needs_host = false,
			.handler = {.run = do_quit},
		},
	};
	return table;
}

bool watchable(const CommandSpec &c)
{
	if (c.handler.view)
		return true;
	for (auto &s : c.subs)
		if (s.handler.view)
			return true;
	return false;
}

std::string watchable_names()
{
	std::string out;
	auto add = [&](std::string name) { out += (out.empty() ? "" : ", ") + name; };
	for (auto &c : commands()) {
		if (c.handler.view)
			add(c.name);
		for (auto &s : c.subs)
			if (s.handler.view)
				add(std::string(c.name) + " " + s.name);
	}
	return out;
}

const CommandSpec *find_command(std::string_view name)
{
	for (auto &c : commands()) {
		if (name == c.name)
			return &c;
		for (auto a : c.aliases)
			if (name == a)
				return &c;
	}
	return nullptr;
}

const SubSpec *find_sub(const CommandSpec &c, std::string_view name)
{
	for (auto &s : c.subs)
		if (name == s.name)
			return &s;
	return nullptr;
}

const FlagSpec *find_flag(const CommandSpec &c, std::string_view name)
{
	if (name == kJsonFlag.name)
		return &kJsonFlag;
	for (auto &f : c.flags)
		if (name == f.name)
			return &f;
	return nullptr;
}

static size_t edit_distance(std::string_view a, std::string_view b)
{
	std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
	for (size_t j = 0; j <= b.size(); j++)
		prev[j] = j;
	for (size_t i = 1; i <= a.size(); i++) {
		cur[0] = i;
		for (size_t j = 1; j <= b.size(); j++) {
			size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
			cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
			// transposition counts as one edit ("tasks" for "taks")
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				cur[j] = std::min(cur[j], prev[j - 1]);
		}
		std::swap(prev, cur);
	}
	return prev[b.size()];
}

std::string suggest(std::string_view word, const std::vector<std::string> &choices)
{
	std::string best;
	size_t best_d = 3;
	for (auto &c : choices) {
		size_t d = edit_distance(word, c);
		if (c.rfind(word, 0) == 0 && !word.empty())
			d = std::min<size_t>(d, 1);	// a prefix is a fine suggestion
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	if (word.size() <= 2 && best_d > 1)
		return "";
	return best;
}

std::string suggest_command(std::string_view word)
{
	std::vector<std::string> names;
	for (auto &c : commands()) {
		names.emplace_back(c.name);
		for (auto a : c.aliases)
			names.emplace_back(a);
	}
	return suggest(word, names);
}

std::string help_overview()
{
	std::string out = "commands (help CMD for details; every command takes --json):\n";
	size_t w = 0;
	for (auto &c : commands())
		w = std::max(w, std::string_view(c.name).size());
	for (auto &c : commands())
		out += fmt::format("  {:<{}}  {}\n", c.name, w, c.summary);
	out += "separate several commands with ';'. Ctrl-C cancels the line or a watch, Ctrl-D leaves.\n";
	return out;
}

std::string help_for(const CommandSpec &c)
{
	std::string out = fmt::format("usage: {}\n  {}\n", c.synopsis, c.summary);
	if (!c.subs.empty()) {
		out += "subcommands:\n";
		for (auto &s : c.subs) {
			std::string head = s.name;
			for (auto &a : s.args)
				head += std::string(" ") + a.name;
			out += fmt::format("  {:<14} {}{}\n", head, s.summary, s.write ? " (admin)" : "");
		}
	}
	if (!c.flags.empty()) {
		out += "options:\n";
		for (auto &f : c.flags) {
			std::string head = f.name;
			if (f.value != ArgKind::none) {
				switch (f.value) {
				case ArgKind::sort_key: head += " KEY"; break;
				case ArgKind::comm: head += " PATTERN"; break;
				case ArgKind::user: head += " U"; break;
				case ArgKind::pid: head += " P"; break;
				case ArgKind::seconds: head += " S"; break;
				case ArgKind::seed: head += " S"; break;
				default: head += " N"; break;
				}
			}
			out += fmt::format("  {:<14} {}\n", head, f.help);
		}
	}
	if (c.write)
		out += "needs root or the host's admin group.\n";
	if (c.help && *c.help)
		out += std::string(c.help) + "\n";
	return out;
}

} // namespace lotto::shell
