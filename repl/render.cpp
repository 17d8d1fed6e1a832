// render.cpp — the text of each view: tables, the `show` page, the shares
// chart (views.h).
#include "views.h"

#include "text_table.h"

#include "control/protocol.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace lotto::shell {

std::string format_ns(uint64_t ns)
{
	if (ns == 0)
		return "0";
	if (ns < 1000)
		return fmt::format("{}ns", ns);
	if (ns < 1000000)
		return fmt::format("{}us", ns / 1000);
	if (ns < 1000000000)
		return fmt::format("{:.1f}ms", ns / 1e6);
	if (ns < 60000000000ull)
		return fmt::format("{:.2f}s", ns / 1e9);
	uint64_t s = ns / 1000000000ull;
	return fmt::format("{}m{:02}s", s / 60, s % 60);
}

std::string format_pct(double share) { return fmt::format("{:.1f}", share * 100); }

static std::string tickets_cell(const TaskRow &r)
{
	std::string t = std::to_string(r.tickets);
	if (r.boost != 1.0)
		t += fmt::format(" (x{:g})", r.boost);
	return t;
}

std::string render_tasks(const std::vector<TaskRow> &rows, const Style &st)
{
	if (rows.empty())
		return "no lotto tasks match\n";
	TextTable t({{"PID", true, 0},
		     {"COMM", false, 0, true},
		     {"USER", false, 5},
		     {"NICE", true, 4},
		     {"TICKETS", true, 0},
		     {"SOURCE", false, 3},
		     {"GROUP", true, 4},
		     {"TKT%", true, 0},
		     {"CPU%SH", true, 6},
		     {"CPU%", true, 0},
		     {"WINS", true, 7},
		     {"AVGWAIT", true, 2},
		     {"MAXWAIT", true, 8}});
	for (auto &r : rows)
		t.add({std::to_string(r.pid), r.comm, r.user, std::to_string(r.nice), tickets_cell(r), r.source,
		       std::to_string(r.group), format_pct(r.ticket_share), format_pct(r.cpu_share), fmt::format("{:.1f}", r.cpu_pct),
		       std::to_string(r.wins), format_ns(r.wait_avg_ns), format_ns(r.wait_max_ns)});
	return t.render(st.width, st.tty);
}

std::string render_show(const TaskDetail &d)
{
	const TaskRow &r = d.row;
	std::string o;
	o += fmt::format("pid          {}\n", r.pid);
	o += fmt::format("tgid         {}\n", r.tgid);
	o += fmt::format("comm         {}\n", r.comm);
	o += fmt::format("user         {} (uid {})\n", r.user, r.uid);
	o += fmt::format("nice         {}\n", r.nice);
	o += fmt::format("tickets      {}  source: {}\n", r.tickets, r.source);
	if (d.pin)
		o += fmt::format("pinned       {} tickets (unpin {} to give it back to the policies)\n", *d.pin, r.pid);
	if (d.boost_factor) {
		if (d.boost_left_s)
			o += fmt::format("boost        x{:g} for {:.1f}s more\n", *d.boost_factor, *d.boost_left_s);
		else
			o += fmt::format("boost        x{:g} until unpin\n", *d.boost_factor);
	}
	o += fmt::format("at last draw {} tickets, compensation x{:.2f}\n", d.stat_tickets, d.comp_q10 / 1024.0);
	if (r.group)
		o += fmt::format("group        {}{}  (see `groups`)\n", r.group,
				 d.group_name.empty() ? "" : " " + d.group_name);
	else
		o += "group        0 root (its own tickets race)\n";
	if (d.funded_by)
		o += fmt::format("funded by    {} (+{} tickets)\n", d.funded_by, d.funded_tickets);
	o += fmt::format("ticket share {}%\n", format_pct(r.ticket_share));
	o += fmt::format("cpu share    {}%  ({:.1f}% of a CPU over the last interval)\n", format_pct(r.cpu_share),
			 r.cpu_pct);
	o += fmt::format("runtime      {}\n", format_ns(r.runtime_ns));
	o += fmt::format("wins         {}\n", r.wins);
	o += fmt::format("waits        {}  avg {}  max {}\n", r.waits, format_ns(r.wait_avg_ns), format_ns(r.wait_max_ns));
	o += fmt::format("rescues      {}  (starvation guard)\n", r.rescues);
	o += fmt::format("last cpu     {}\n", r.last_cpu);
	o += fmt::format("cgroup id    {}\n", r.cgroup_id);
	if (d.history.empty()) {
		o += "history      (no ticket changes recorded)\n";
	} else {
		o += "history:\n";
		for (auto &h : d.history)
			o += fmt::format("  {}  {:>8}  {}\n", control::iso_time(h.when), h.tickets, h.source);
	}
	return o;
}

std::string render_stats(const HostStats &s, const Style &st)
{
	std::string o;
	o += fmt::format("backend      {}\n", s.backend);
	o += fmt::format("lotto-host   {}\n", s.version);
	if (s.exit)
		o += fmt::format("state        exited: {} ({}) code {}\n", s.exit->reason, s.exit->msg, s.exit->exit_code);
	else
		o += fmt::format("state        {}\n", s.state);
	uint64_t up = (uint64_t)s.uptime_s;
	o += fmt::format("uptime       {}d {:02}:{:02}:{:02}\n", up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
	o += fmt::format("cpus         {}\n", s.nr_cpus);
	o += fmt::format("tasks        {}  ({} tickets in all)\n", s.nr_tasks, s.total_tickets);
	o += fmt::format("pins         {}  boosts {}  policies {}\n", s.pins, s.boosts, s.policies);
	o += fmt::format("draws/s      {:.1f}\n", s.draws_per_s);
	std::vector<Column> cols{{"CPU", true, 0}};
	for (int i = 0; i < LOTTO_STAT_NR; i++)
		cols.push_back({control::stat_name(i), true, i >= 3 ? 10 - i : 0});
	TextTable t(cols);
	for (size_t c = 0; c < s.per_cpu.size(); c++) {
		std::vector<std::string> row{std::to_string(c)};
		for (int i = 0; i < LOTTO_STAT_NR; i++)
			row.push_back(std::to_string(s.per_cpu[c][i]));
		t.add(row);
	}
	std::vector<std::string> row{"all"};
	for (int i = 0; i < LOTTO_STAT_NR; i++)
		row.push_back(std::to_string(s.total[i]));
	t.add(row);
	return o + "\n" + t.render(st.width, st.tty);
}

std::string render_groups(const std::vector<GroupRow> &rows, const Style &st)
{
	if (rows.empty())
		return "this backend has no groups\n";
	TextTable t({{"GID", true, 0},
		     {"KIND", false, 3},
		     {"NAME", false, 0, true},
		     {"FUNDING", true, 0},
		     {"SOURCE", false, 4},
		     {"FLAGS", false, 5},
		     {"TASKS", true, 0},
		     {"ACTIVE", true, 0},
		     {"TKT%", true, 0},
		     {"CPU%SH", true, 0},
		     {"CPU%", true, 2},
		     {"WINS", true, 6}});
	for (auto &g : rows) {
		std::string flags = g.transfers && g.transfers_in ? "xfer,in"
				    : g.transfers		   ? "xfer"
				    : g.transfers_in		   ? "in"
								   : "-";
		t.add({std::to_string(g.gid), g.kind, g.name.empty() ? "-" : g.name, std::to_string(g.funding), g.source,
		       flags, std::to_string(g.tasks), std::to_string(g.active), format_pct(g.ticket_share),
		       format_pct(g.cpu_share), fmt::format("{:.1f}", g.cpu_pct), std::to_string(g.wins)});
	}
	return t.render(st.width, st.tty);
}

// a bar of `frac` of `w` cells, in eighths
static std::string bar(double frac, int w, bool unicode)
{
	frac = std::clamp(frac, 0.0, 1.0);
	int eighths = (int)std::lround(frac * w * 8);
	std::string s;
	if (!unicode) {
		s.assign(eighths / 8, '#');
		return s;
	}
	static const char *const part[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
	for (int i = 0; i < eighths / 8; i++)
		s += "█";
	s += part[eighths % 8];
	return s;
}

std::string render_shares(const std::vector<TaskRow> &rows, const Style &st)
{
	if (rows.empty())
		return "no lotto tasks match\n";
	size_t label_w = 0;
	double max_share = 0;
	for (auto &r : rows) {
		label_w = std::max(label_w, display_width(fmt::format("{} {}", r.pid, r.comm)));
		max_share = std::max({max_share, r.ticket_share, r.cpu_share});
	}
	label_w = std::min<size_t>(label_w, 24);
	int width = st.width > 0 ? st.width : 80;
	int bar_w = std::max(10, width - (int)label_w - 4 - 13);
	double scale = max_share > 0 ? 1.0 / max_share : 1;	// the longest bar fills the width
	std::string o = fmt::format("{:<{}}     {} = tickets share, {} = measured CPU share (last interval)\n", "",
				    label_w, st.tty ? "\033[36mT\033[0m" : "T", st.tty ? "\033[33mC\033[0m" : "C");
	for (auto &r : rows) {
		std::string label = fmt::format("{} {}", r.pid, r.comm);
		if (display_width(label) > label_w)
			label = label.substr(0, label_w - 1) + "~";
		std::string tb = bar(r.ticket_share * scale, bar_w, st.tty);
		std::string cb = bar(r.cpu_share * scale, bar_w, st.tty);
		if (st.tty) {
			tb = "\033[36m" + tb + "\033[0m";
			cb = "\033[33m" + cb + "\033[0m";
		}
		o += fmt::format("{:<{}}  T {:>5}% {}\n", label, label_w, format_pct(r.ticket_share), tb);
		o += fmt::format("{:<{}}  C {:>5}% {}\n", "", label_w, format_pct(r.cpu_share), cb);
	}
	return o;
}

std::string render_policies(const std::vector<PolicyInfo> &p, const Style &st)
{
	if (p.empty())
		return "no policies loaded (tasks run on default tickets); load one with: policy load FILE\n";
	TextTable t({{"NAME", false, 0},
		     {"INTERVAL", true, 0},
		     {"STATE", false, 0},
		     {"TICKS", true, 2},
		     {"OVERRUNS", true, 3},
		     {"ERRORS", true, 4},
		     {"FILE", false, 1, true},
		     {"LAST ERROR", false, 5, true}});
	for (auto &x : p)
		t.add({x.name, fmt::format("{}ms", x.interval_ms), x.running ? "active" : "stopped", std::to_string(x.ticks),
		       std::to_string(x.overruns), std::to_string(x.errors), x.path, x.last_error});
	return t.render(st.width, st.tty);
}

std::string render_policy_errors(const std::vector<PolicyError> &e)
{
	if (e.empty())
		return "no policy errors\n";
	std::string o;
	for (auto &x : e)
		o += fmt::format("{}  {}: {}\n", control::iso_time(x.when), x.policy, x.message);
	return o;
}

std::string render_draws(const DrawResult &d, const Style &st)
{
	TextTable t({{"PID", true, 0},
		     {"COMM", false, 0, true},
		     {"TICKETS", true, 0},
		     {"EXPECTED%", true, 0},
		     {"WINS", true, 0},
		     {"WON%", true, 0},
		     {"Z", true, 1}});
	for (auto &r : d.rows)
		t.add({std::to_string(r.pid), r.comm, std::to_string(r.tickets), fmt::format("{:.2f}", r.expected_share * 100),
		       std::to_string(r.wins), fmt::format("{:.2f}", r.share * 100), fmt::format("{:+.2f}", r.z)});
	return fmt::format("{} draws, seed {}, {} tickets in all (every task runnable)\n", d.draws, d.seed,
			   d.total_tickets) +
	       t.render(st.width, st.tty) +
	       fmt::format("largest deviation {:.2f} sd ({})\n", d.max_abs_z,
			   d.max_abs_z < 4 ? "within the lottery's statistical band" : "suspicious: check the math");
}

} // namespace lotto::shell
