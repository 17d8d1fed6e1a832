#include "shell.h"

#include "csv_export.h"
#include "handlers.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <limits.h>
#include <stdlib.h>

namespace lotto::shell {

using control::GroupRow;
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
	const Handler &h = pc.handler();
	if (h.view) {
		auto r = h.view(*this, pc);
		if (!r)
			return fail_host(pc, r.error());
		print(*r);
		return Status::ok;
	}
	if (h.run)
		return h.run(*this, pc);
	return fail(&pc, fmt::format("'{}' is in the command table but has no handler", pc.spec->name), "internal");
}

// ---- long-running

// On a full screen, `tasks` without --top asks for the rows that fit.
static ParsedCommand fit_screen(const ParsedCommand &in, int height)
{
	ParsedCommand out = in;
	const int chrome = 4;	// the watch title, a blank line, the table header, the cursor line
	if (std::string_view(in.spec->name) == "tasks" && !in.has("--top") && height > chrome)
		out.flags["--top"] = std::to_string(height - chrome);
	return out;
}

Status do_watch(Shell &sh, const ParsedCommand &pc)
{
	bool full = sh.io().out_tty && !sh.want_json(*pc.inner);
	const ParsedCommand in = full && sh.io().height ? fit_screen(*pc.inner, sh.io().height()) : *pc.inner;
	std::string title = pc.inner->spec->name;
	if (pc.inner->sub)
		title += std::string(" ") + pc.inner->sub->name;
	for (auto &a : pc.inner->args)
		title += " " + a;
	for (auto &[k, v] : pc.inner->flags)
		title += " " + k + (v.empty() ? "" : " " + v);
	if (full)
		sh.print("\033[?1049h\033[?25l");	// alternate screen, no cursor
	Status st = Status::ok;
	for (;;) {
		auto r = in.handler().view(sh, in);
		if (!r && sh.client().last_code() == "interrupted") {
			st = sh.stopped_by_ctrl_c();	// Ctrl-C during a request: as during the wait
			break;
		}
		if (!r) {
			if (full)
				sh.print("\033[?25h\033[?1049l");
			full = false;
			st = sh.fail_host(in, r.error());
			break;
		}
		if (full) {
			time_t now = time(nullptr);
			char ts[32];
			strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
			sh.print(fmt::format("\033[H\033[2Jevery {:g}s: {}    {}  (Ctrl-C to stop)\n\n{}", pc.seconds, title, ts, *r));
		} else {
			sh.print(*r + (sh.want_json(in) ? "" : "\n"));
		}
		if (!sh.waiter().wait(pc.seconds)) {
			st = sh.stopped_by_ctrl_c();	// the watch ends; a script ends with it
			break;
		}
	}
	if (full)
		sh.print("\033[?25h\033[?1049l");
	return st;
}

// one sampling of `export csv`: the rows of this iteration as CSV, and how many
struct CsvRows {
	std::string text;
	size_t n = 0;
};

Status do_export(Shell &sh, const ParsedCommand &pc)
{
	const std::string &file = pc.args[0];
	double interval = pc.has("--interval") ? *parse_seconds(pc.flag("--interval"), "interval") : 1.0;
	uint64_t count = pc.has("--count") ? *parse_count(pc.flag("--count"), "count", kMaxCount) : 10;
	bool groups = pc.has("--groups");
	CsvSampler tasks_csv;
	GroupCsvSampler groups_csv;
	auto fetch_groups = [&]() -> Result<std::vector<GroupRow>> {
		auto r = sh.client().call("groups");
		if (!r)
			return r.error();
		std::vector<GroupRow> out;
		for (auto &x : r->value("groups", json::array())) {
			auto g = control::group_row_from_json(x);
			if (!g)
				return g.error();
			out.push_back(std::move(*g));
		}
		return out;
	};
	// the baseline, and a check that the host answers before creating the file
	if (groups) {
		auto rows = fetch_groups();
		if (!rows)
			return sh.fail_host(pc, rows.error());
		groups_csv.baseline(*rows);
	} else {
		auto rows = fetch_tasks(sh.client());
		if (!rows)
			return sh.fail_host(pc, rows.error());
		tasks_csv.baseline(*rows);
	}
	auto sample = [&](uint64_t it) -> Result<CsvRows> {
		auto now = std::chrono::system_clock::now();
		if (groups) {
			auto rows = fetch_groups();
			if (!rows)
				return rows.error();
			return CsvRows{groups_csv.sample(it, now, *rows), rows->size()};
		}
		auto rows = fetch_tasks(sh.client());
		if (!rows)
			return rows.error();
		return CsvRows{tasks_csv.sample(it, now, *rows), rows->size()};
	};
	FILE *f = fopen(file.c_str(), "w");
	if (!f)
		return sh.fail(&pc, fmt::format("cannot write {}: {} (pick another FILE)", file, strerror(errno)), "usage");
	std::unique_ptr<FILE, int (*)(FILE *)> closer(f, fclose);
	fputs((groups ? GroupCsvSampler::header() : CsvSampler::header()).c_str(), f);
	auto start = std::chrono::steady_clock::now();
	uint64_t lines = 0, done = 0;
	bool interrupted = false;
	for (uint64_t it = 1; it <= count; it++) {
		auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
					   std::chrono::duration<double>(interval * it));
		double left = std::chrono::duration<double>(due - std::chrono::steady_clock::now()).count();
		if (left > 0 && !sh.waiter().wait(left)) {
			interrupted = true;
			break;
		}
		auto rows = sample(it);
		if (!rows && sh.client().last_code() == "interrupted") {
			interrupted = true;	// Ctrl-C during a request: as during the wait
			break;
		}
		if (!rows) {
			if (sh.io().err_tty)
				fputs("\n", sh.io().err);
			return sh.fail_host(pc, rows.error());
		}
		if (fputs(rows->text.c_str(), f) < 0 || fflush(f) != 0)
			return sh.fail(&pc, fmt::format("writing {}: {}", file, strerror(errno)), "usage");
		lines += rows->n;
		done = it;
		if (sh.io().err_tty && !sh.want_json(pc)) {
			fprintf(sh.io().err, "\rexport: sample %llu/%llu, %llu rows -> %s ", (unsigned long long)it,
				(unsigned long long)count, (unsigned long long)lines, file.c_str());
			fflush(sh.io().err);
		}
	}
	if (sh.io().err_tty && !sh.want_json(pc))
		fputs("\n", sh.io().err);
	if (sh.want_json(pc))
		sh.print_json(json{{"file", file}, {"samples", done}, {"rows", lines}, {"interrupted", interrupted}});
	else
		sh.print(fmt::format("exported {} samples ({} rows) to {}{}\n", done, lines, file,
				  interrupted ? " (stopped by Ctrl-C)" : ""));
	return interrupted ? sh.stopped_by_ctrl_c() : Status::ok;
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

std::vector<std::string> Shell::LiveCompletion::group_names()
{
	std::vector<std::string> v;
	auto r = c_.call("groups");
	if (!r)
		return v;
	for (auto &g : r->value("groups", json::array()))
		if (g.is_object() && g.value("kind", "") == "policy" && g.contains("name") && g["name"].is_string() &&
		    !g["name"].get<std::string>().empty())
			v.push_back(g["name"].get<std::string>());
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
