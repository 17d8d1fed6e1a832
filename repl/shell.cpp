#include "shell.h"

#include "csv_export.h"
#include "draw_sim.h"
#include "text_table.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <limits.h>
#include <stdlib.h>

namespace lotto::shell {

using control::task_rows_from_json;

// ---- output

Style Shell::style() const
{
	Style s;
	s.tty = io_.out_tty;
	s.width = io_.out_tty && io_.width ? io_.width() : 0;
	return s;
}

void Shell::print(const std::string &text)
{
	fwrite(text.data(), 1, text.size(), io_.out);
	fflush(io_.out);
}

void Shell::print_json(const json &j) { print(j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"); }

Status Shell::fail(const ParsedCommand *pc, const std::string &msg, const std::string &code)
{
	if ((pc && pc->json) || json_default_)
		print_json(json{{"ok", false}, {"error", {{"code", code}, {"message", msg}}}});
	else {
		fprintf(io_.err, "error: %s\n", msg.c_str());
		fflush(io_.err);
	}
	return Status::error;
}

Status Shell::fail_host(const ParsedCommand &pc, const Error &e)
{
	Status s = fail(&pc, e.msg, client_.last_code().empty() ? "error" : client_.last_code());
	if (script_ && client_.last_code() == "interrupted")
		return Status::interrupted;	// Ctrl-C while waiting for the host
	return s;
}

// ---- dispatch

Status Shell::run_line(std::string_view line, bool keep_going)
{
	auto sp = split_line(line);
	if (!sp.error.empty())
		return fail(nullptr, sp.error, "usage");
	Status result = Status::ok;
	for (auto &st : sp.statements) {
		if (script_ && waiter_.interrupted())
			return Status::interrupted;	// Ctrl-C between two commands
		if (!st.words.empty() && st.words[0].text.size() && st.words[0].text[0] == '#')
			continue;	// a comment line in a script
		auto pc = parse_command(st);
		Status s;
		if (!pc)
			s = fail(nullptr, pc.error().msg, "usage");
		else
			s = run(*pc);
		if (s == Status::quit || s == Status::interrupted)
			return s;
		if (s == Status::error) {
			result = Status::error;
			if (!keep_going)
				return result;
		}
	}
	return result;
}

Status Shell::run(const ParsedCommand &pc)
{
	std::string_view n = pc.spec->name;
	if (n == "quit")
		return Status::quit;
	if (n == "help")
		return cmd_help(pc);
	if (n == "tasks")
		return cmd_tasks(pc);
	if (n == "show")
		return cmd_show(pc);
	if (n == "tickets")
		return cmd_tickets(pc);
	if (n == "unpin")
		return cmd_unpin(pc);
	if (n == "boost")
		return cmd_boost(pc);
	if (n == "policy")
		return cmd_policy(pc);
	if (n == "stats")
		return cmd_stats(pc);
	if (n == "shares")
		return cmd_shares(pc);
	if (n == "draw")
		return cmd_draw(pc);
	if (n == "watch")
		return cmd_watch(pc);
	if (n == "export")
		return cmd_export(pc);
	if (n == "lua")
		return cmd_lua(pc);
	return fail(&pc, fmt::format("'{}' is in the command table but has no handler", n), "internal");
}

Result<std::vector<TaskRow>> Shell::fetch_tasks()
{
	auto r = client_.call("tasks");
	if (!r)
		return r.error();
	if (!r->contains("tasks"))
		return err("bad reply from lotto-host: no 'tasks'");
	return task_rows_from_json((*r)["tasks"]);
}

static TaskQuery query_of(const ParsedCommand &pc)
{
	TaskQuery q;
	q.sort = pc.flag("--sort", "cpu");
	q.comm = pc.flag("--comm");
	q.user = pc.flag("--user");
	if (pc.has("--pid"))
		q.pid = *parse_pid(pc.flag("--pid"));
	if (pc.has("--top"))
		q.top = *parse_count(pc.flag("--top"), "top", 1000000000);
	return q;
}

Result<std::string> Shell::render(const ParsedCommand &pc)
{
	std::string_view n = pc.spec->name;
	bool js = want_json(pc);
	auto dump = [](const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; };
	if (n == "tasks" || n == "shares") {
		auto rows = fetch_tasks();
		if (!rows)
			return rows.error();
		TaskQuery q = query_of(pc);
		if (n == "shares" && !pc.has("--sort"))
			q.sort = "tickets";
		apply_query(*rows, q);
		if (js) {
			json a = json::array();
			for (auto &r : *rows) {
				if (n == "tasks")
					a.push_back(control::to_json(r));
				else
					a.push_back(json{{"pid", r.pid},
							 {"comm", r.comm},
							 {"tickets", r.tickets},
							 {"ticket_share", r.ticket_share},
							 {"cpu_share", r.cpu_share}});
			}
			return dump(json{{"tasks", a}});
		}
		return n == "tasks" ? render_tasks(*rows, style()) : render_shares(*rows, style());
	}
	if (n == "show") {
		auto r = client_.call("show", json{{"pid", *parse_pid(pc.args[0])}});
		if (!r)
			return r.error();
		if (js)
			return dump(*r);
		auto d = control::task_detail_from_json(*r);
		if (!d)
			return d.error();
		return render_show(*d);
	}
	if (n == "stats") {
		auto r = client_.call("stats");
		if (!r)
			return r.error();
		if (js)
			return dump(*r);
		auto s = control::host_stats_from_json(*r);
		if (!s)
			return s.error();
		return render_stats(*s, style());
	}
	if (n == "policy") {
		std::string_view sub = pc.sub->name;
		if (sub == "list") {
			auto r = client_.call("policy.list");
			if (!r)
				return r.error();
			if (js)
				return dump(*r);
			std::vector<PolicyInfo> ps;
			for (auto &p : r->value("policies", json::array())) {
				auto x = control::policy_info_from_json(p);
				if (!x)
					return x.error();
				ps.push_back(*x);
			}
			return render_policies(ps, style());
		}
		if (sub == "errors") {
			auto r = client_.call("policy.errors");
			if (!r)
				return r.error();
			if (js)
				return dump(*r);
			std::vector<PolicyErrorInfo> es;
			for (auto &p : r->value("errors", json::array())) {
				auto x = control::policy_error_from_json(p);
				if (!x)
					return x.error();
				es.push_back(*x);
			}
			return render_policy_errors(es);
		}
	}
	if (n == "draw") {
		uint64_t draws = pc.args.empty() ? 10000 : *parse_count(pc.args[0], "N", 1000000000);
		if (draws > 100000000)
			return err(fmt::format("draw: {} draws is too many for the shell (use at most 100000000)", draws));
		uint64_t seed = pc.has("--seed") ? *parse_seed(pc.flag("--seed")) : 1;
		auto rows = fetch_tasks();
		if (!rows)
			return rows.error();
		if (rows->empty())
			return err("draw: there are no lotto tasks to draw from (see `tasks`)");
		std::vector<DrawTask> tasks;
		for (auto &r : *rows)
			tasks.push_back(DrawTask{r.pid, r.comm, r.tickets});
		DrawResult d = simulate_draws(tasks, draws, seed);
		std::stable_sort(d.rows.begin(), d.rows.end(), [](auto &a, auto &b) { return a.tickets > b.tickets; });
		if (js) {
			json a = json::array();
			for (auto &r : d.rows)
				a.push_back(json{{"pid", r.pid},
						 {"comm", r.comm},
						 {"tickets", r.tickets},
						 {"expected_share", r.expected_share},
						 {"wins", r.wins},
						 {"share", r.share},
						 {"z", r.z}});
			return dump(json{{"draws", d.draws},
					 {"seed", d.seed},
					 {"total_tickets", d.total_tickets},
					 {"max_abs_z", d.max_abs_z},
					 {"tasks", a}});
		}
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
		       t.render(style().width, style().tty) +
		       fmt::format("largest deviation {:.2f} sd ({})\n", d.max_abs_z,
				   d.max_abs_z < 4 ? "within the lottery's statistical band" : "suspicious: check the math");
	}
	return err(fmt::format("{} cannot be rendered", n));
}

// ---- read commands

Status Shell::cmd_tasks(const ParsedCommand &pc)
{
	auto r = render(pc);
	if (!r)
		return fail_host(pc, r.error());
	print(*r);
	return Status::ok;
}

Status Shell::cmd_show(const ParsedCommand &pc) { return cmd_tasks(pc); }
Status Shell::cmd_stats(const ParsedCommand &pc) { return cmd_tasks(pc); }
Status Shell::cmd_shares(const ParsedCommand &pc) { return cmd_tasks(pc); }
Status Shell::cmd_draw(const ParsedCommand &pc) { return cmd_tasks(pc); }

// ---- writes

Status Shell::cmd_tickets(const ParsedCommand &pc)
{
	uint32_t tickets = *parse_tickets(pc.args[1]);
	json req{{"tickets", tickets}};
	const std::string &target = pc.args[0];
	bool is_pid = !target.empty() && target.find_first_not_of("0123456789") == std::string::npos;
	if (is_pid)
		req["pid"] = *parse_pid(target);
	else
		req["comm"] = target;
	auto r = client_.call("tickets", req);
	if (!r)
		return fail_host(pc, r.error());
	if (want_json(pc)) {
		print_json(*r);
		return Status::ok;
	}
	auto pins = r->value("pinned", json::array());
	std::string list;
	for (auto &p : pins)
		list += (list.empty() ? "" : " ") + p.dump();
	print(fmt::format("pinned {} tickets on {} {} ({})\n", tickets, pins.size(), pins.size() == 1 ? "task" : "tasks",
			  list));
	return Status::ok;
}

Status Shell::cmd_unpin(const ParsedCommand &pc)
{
	json req = pc.args[0] == "all" ? json{{"all", true}} : json{{"pid", *parse_pid(pc.args[0])}};
	auto r = client_.call("unpin", req);
	if (!r)
		return fail_host(pc, r.error());
	if (want_json(pc)) {
		print_json(*r);
		return Status::ok;
	}
	if (pc.args[0] == "all")
		print(fmt::format("unpinned {} {}; policies set their tickets again\n", r->value("unpinned", 0),
				  r->value("unpinned", 0) == 1 ? "task" : "tasks"));
	else
		print(fmt::format("unpinned {}; policies set its tickets again\n", pc.args[0]));
	return Status::ok;
}

Status Shell::cmd_boost(const ParsedCommand &pc)
{
	uint32_t pid = *parse_pid(pc.args[0]);
	double f = *parse_factor(pc.args[1]);
	json req{{"pid", pid}, {"factor", f}};
	if (pc.duration)
		req["duration_ms"] = pc.duration->count();
	auto r = client_.call("boost", req);
	if (!r)
		return fail_host(pc, r.error());
	if (want_json(pc)) {
		print_json(*r);
		return Status::ok;
	}
	if (pc.duration)
		print(fmt::format("boosted {} x{:g} for {:g}s\n", pid, f, pc.duration->count() / 1000.0));
	else
		print(fmt::format("boosted {} x{:g} until `unpin {}`\n", pid, f, pid));
	return Status::ok;
}

Status Shell::cmd_policy(const ParsedCommand &pc)
{
	std::string_view sub = pc.sub->name;
	if (sub == "list" || sub == "errors")
		return cmd_tasks(pc);
	Result<json> r = err("");
	if (sub == "load") {
		char buf[PATH_MAX];
		if (!realpath(pc.args[0].c_str(), buf))
			return fail(&pc, fmt::format("cannot load {}: {} (give the path of a policy .lua file)", pc.args[0],
						     strerror(errno)),
				    "usage");
		r = client_.call("policy.load", json{{"file", std::string(buf)}});
	} else {
		r = client_.call(sub == "unload" ? "policy.unload" : "policy.reload", json{{"name", pc.args[0]}});
	}
	if (!r)
		return fail_host(pc, r.error());
	if (want_json(pc)) {
		print_json(*r);
		return Status::ok;
	}
	if (sub == "load")
		print(fmt::format("loaded policy {} from {}\n", r->value("name", "?"), r->value("file", "?")));
	else if (sub == "unload")
		print(fmt::format("unloaded policy {}\n", pc.args[0]));
	else
		print(fmt::format("reloaded policy {}\n", pc.args[0]));
	return Status::ok;
}

Status Shell::cmd_lua(const ParsedCommand &pc)
{
	auto r = client_.call("eval", json{{"expr", pc.raw_rest}});
	if (!r)
		return fail_host(pc, r.error());
	if (want_json(pc))
		print_json(*r);
	else
		print(r->value("value", "") + "\n");
	return Status::ok;
}

// ---- long-running

Status Shell::cmd_watch(const ParsedCommand &pc)
{
	const ParsedCommand &in = *pc.inner;
	bool full = io_.out_tty && !want_json(in);
	std::string title = in.spec->name;
	if (in.sub)
		title += std::string(" ") + in.sub->name;
	for (auto &a : in.args)
		title += " " + a;
	for (auto &[k, v] : in.flags)
		title += " " + k + (v.empty() ? "" : " " + v);
	if (full)
		print("\033[?1049h\033[?25l");	// alternate screen, no cursor
	Status st = Status::ok;
	for (;;) {
		auto r = render(in);
		if (!r && client_.last_code() == "interrupted") {
			st = stopped_by_ctrl_c();	// Ctrl-C during a request: as during the wait
			break;
		}
		if (!r) {
			if (full)
				print("\033[?25h\033[?1049l");
			full = false;
			st = fail_host(in, r.error());
			break;
		}
		if (full) {
			time_t now = time(nullptr);
			char ts[32];
			strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
			print(fmt::format("\033[H\033[2Jevery {:g}s: {}    {}  (Ctrl-C to stop)\n\n{}", pc.seconds, title, ts, *r));
		} else {
			print(*r + (want_json(in) ? "" : "\n"));
		}
		if (!waiter_.wait(pc.seconds)) {
			st = stopped_by_ctrl_c();	// the watch ends; a script ends with it
			break;
		}
	}
	if (full)
		print("\033[?25h\033[?1049l");
	return st;
}

Status Shell::cmd_export(const ParsedCommand &pc)
{
	const std::string &file = pc.args[0];
	double interval = pc.has("--interval") ? *parse_seconds(pc.flag("--interval"), "interval") : 1.0;
	uint64_t count = pc.has("--count") ? *parse_count(pc.flag("--count"), "count", 1000000000) : 10;
	auto rows = fetch_tasks();	// the baseline, and a check that the host answers before creating the file
	if (!rows)
		return fail_host(pc, rows.error());
	FILE *f = fopen(file.c_str(), "w");
	if (!f)
		return fail(&pc, fmt::format("cannot write {}: {} (pick another FILE)", file, strerror(errno)), "usage");
	std::unique_ptr<FILE, int (*)(FILE *)> closer(f, fclose);
	CsvSampler s;
	s.baseline(*rows);
	fputs(CsvSampler::header().c_str(), f);
	auto start = std::chrono::steady_clock::now();
	uint64_t lines = 0, done = 0;
	bool interrupted = false;
	for (uint64_t it = 1; it <= count; it++) {
		auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
					   std::chrono::duration<double>(interval * it));
		double left = std::chrono::duration<double>(due - std::chrono::steady_clock::now()).count();
		if (left > 0 && !waiter_.wait(left)) {
			interrupted = true;
			break;
		}
		auto now_rows = fetch_tasks();
		if (!now_rows && client_.last_code() == "interrupted") {
			interrupted = true;	// Ctrl-C during a request: as during the wait
			break;
		}
		if (!now_rows) {
			if (io_.err_tty)
				fputs("\n", io_.err);
			return fail_host(pc, now_rows.error());
		}
		std::string text = s.sample(it, std::chrono::system_clock::now(), *now_rows);
		if (fputs(text.c_str(), f) < 0 || fflush(f) != 0)
			return fail(&pc, fmt::format("writing {}: {}", file, strerror(errno)), "usage");
		lines += now_rows->size();
		done = it;
		if (io_.err_tty && !want_json(pc)) {
			fprintf(io_.err, "\rexport: sample %llu/%llu, %llu rows -> %s ", (unsigned long long)it,
				(unsigned long long)count, (unsigned long long)lines, file.c_str());
			fflush(io_.err);
		}
	}
	if (io_.err_tty && !want_json(pc))
		fputs("\n", io_.err);
	if (want_json(pc))
		print_json(json{{"file", file}, {"samples", done}, {"rows", lines}, {"interrupted", interrupted}});
	else
		print(fmt::format("exported {} samples ({} rows) to {}{}\n", done, lines, file,
				  interrupted ? " (stopped by Ctrl-C)" : ""));
	return interrupted ? stopped_by_ctrl_c() : Status::ok;
}

Status Shell::cmd_help(const ParsedCommand &pc)
{
	if (want_json(pc)) {
		json a = json::array();
		for (auto &c : commands()) {
			if (!pc.args.empty() && find_command(pc.args[0]) != &c)
				continue;
			a.push_back(json{{"name", c.name}, {"synopsis", c.synopsis}, {"summary", c.summary},
					 {"help", c.help}, {"write", c.write}});
		}
		print_json(json{{"commands", a}});
		return Status::ok;
	}
	if (pc.args.empty())
		print(help_overview());
	else
		print(help_for(*find_command(pc.args[0])));
	return Status::ok;
}

// ---- completion through the host

void Shell::LiveCompletion::refresh_tasks()
{
	auto now = std::chrono::steady_clock::now();
	if (now - fetched_ < std::chrono::seconds(1) && !pids_.empty())
		return;
	fetched_ = now;
	pids_.clear();
	comms_.clear();
	auto r = c_.call("tasks");
	if (!r || !r->contains("tasks"))
		return;
	auto rows = task_rows_from_json((*r)["tasks"]);
	if (!rows)
		return;
	for (auto &t : *rows) {
		pids_.push_back(std::to_string(t.pid));
		comms_.push_back(t.comm);
	}
}

std::vector<std::string> Shell::LiveCompletion::pids()
{
	refresh_tasks();
	return pids_;
}

std::vector<std::string> Shell::LiveCompletion::comms()
{
	refresh_tasks();
	return comms_;
}

std::vector<std::string> Shell::LiveCompletion::policy_names()
{
	std::vector<std::string> v;
	auto r = c_.call("policy.list");
	if (!r)
		return v;
	for (auto &p : r->value("policies", json::array()))
		if (p.is_object() && p.contains("name") && p["name"].is_string())
			v.push_back(p["name"].get<std::string>());
	return v;
}

std::vector<std::string> Shell::LiveCompletion::files(std::string_view prefix, bool lua_only)
{
	namespace fs = std::filesystem;
	std::vector<std::string> out;
	std::string p(prefix);
	size_t slash = p.rfind('/');
	std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
	std::string head = slash == std::string::npos ? "" : p.substr(0, slash + 1);
	std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
	std::error_code ec;
	for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
		std::string name = it->path().filename().string();
		if (name.compare(0, base.size(), base) != 0)
			continue;
		if (name[0] == '.' && base.empty())
			continue;
		bool is_dir = it->is_directory(ec);
		if (!is_dir && lua_only && !(name.size() > 4 && name.substr(name.size() - 4) == ".lua"))
			continue;
		out.push_back(head + name + (is_dir ? "/" : ""));
	}
	return out;
}

} // namespace lotto::shell
