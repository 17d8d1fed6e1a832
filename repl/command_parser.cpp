#include "command_parser.h"

extern "C" {
#include "bpf/lotto_abi.h"
}

#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace lotto::shell {

namespace {

bool all_digits(std::string_view s)
{
	if (s.empty())
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

Result<double> to_double(std::string_view s)
{
	if (s.empty())
		return err("empty");
	std::string t(s);
	char *end = nullptr;
	double v = strtod(t.c_str(), &end);
	if (!end || *end || !std::isfinite(v))
		return err("not a number");
	return v;
}

std::string usage_of(const CommandSpec &c) { return fmt::format("usage: {}", c.synopsis); }

std::string flag_names(const CommandSpec &c)
{
	std::string s;
	for (auto &f : c.flags)
		s += std::string(s.empty() ? "" : ", ") + f.name;
	return s.empty() ? "--json" : s + ", --json";
}

Result<void> check_value(ArgKind kind, const std::string &v, const char *name)
{
	switch (kind) {
	case ArgKind::pid:
		if (auto r = parse_pid(v); !r)
			return r.error();
		return {};
	case ArgKind::pid_or_all:
		if (v == "all")
			return {};
		if (!all_digits(v))
			return err(fmt::format("not a pid: '{}' (give a pid from `tasks`, or all)", v));
		if (auto r = parse_pid(v); !r)
			return r.error();
		return {};
	case ArgKind::pid_or_comm:
		if (all_digits(v))
			if (auto r = parse_pid(v); !r)
				return r.error();
		return {};
	case ArgKind::tickets:
		if (auto r = parse_tickets(v); !r)
			return r.error();
		return {};
	case ArgKind::funding:
		if (v == "off")
			return {};
		if (auto r = parse_funding(v); !r)
			return r.error();
		return {};
	case ArgKind::group:
		if (v.empty() || v.size() > LOTTO_GROUP_NAME_MAX)
			return err(fmt::format("not a group: '{}' (a policy group's name or gid, at most {} bytes; see `groups`)",
					       v.size() > LOTTO_GROUP_NAME_MAX ? v.substr(0, 16) + "..." : v,
					       LOTTO_GROUP_NAME_MAX));
		return {};
	case ArgKind::factor:
		if (auto r = parse_factor(v); !r)
			return r.error();
		return {};
	case ArgKind::duration:
		if (auto r = parse_duration(v); !r)
			return r.error();
		return {};
	case ArgKind::seconds:
		if (auto r = parse_seconds(v, name); !r)
			return r.error();
		return {};
	case ArgKind::count:
		if (auto r = parse_count(v, name, kMaxCount); !r)
			return r.error();
		return {};
	case ArgKind::seed:
		if (auto r = parse_seed(v); !r)
			return r.error();
		return {};
	case ArgKind::sort_key:
		if (v != "cpu" && v != "tickets" && v != "wait" && v != "pid")
			return err(fmt::format("unknown sort key '{}' (use cpu, tickets, wait or pid)", v));
		return {};
	case ArgKind::help_topic:
		if (!find_command(v)) {
			auto s = suggest_command(v);
			return err(fmt::format("no help for '{}': not a command{}", v,
					       s.empty() ? " (type help for the list)" : "; did you mean '" + s + "'?"));
		}
		return {};
	default:
		if (v.empty())
			return err(fmt::format("{} must not be empty", name));
		return {};
	}
}


} // namespace

Result<uint32_t> parse_pid(std::string_view s)
{
	uint64_t v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec == std::errc::result_out_of_range || (ec == std::errc() && p == s.data() + s.size() && v > UINT32_MAX))
		return err(fmt::format("no such pid: {} is larger than any pid", s));
	if (ec != std::errc() || p != s.data() + s.size())
		return err(fmt::format("not a pid: '{}' (a pid is a positive integer; see `tasks`)", s));
	if (v == 0)
		return err("no such pid: 0 (pids start at 1; see `tasks`)");
	return (uint32_t)v;
}

Result<uint32_t> parse_funding(std::string_view s)
{
	uint64_t v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec == std::errc::result_out_of_range ||
	    (ec == std::errc() && p == s.data() + s.size() && (v < LOTTO_FUNDING_MIN || v > LOTTO_FUNDING_MAX)))
		return err(fmt::format("funding out of range: {} (use {}..{})", s, LOTTO_FUNDING_MIN, LOTTO_FUNDING_MAX));
	if (ec != std::errc() || p != s.data() + s.size())
		return err(fmt::format("not a funding: '{}' (use an integer {}..{}, or off)", s, LOTTO_FUNDING_MIN,
				       LOTTO_FUNDING_MAX));
	return (uint32_t)v;
}

Result<uint32_t> parse_tickets(std::string_view s)
{
	std::string_view t = s;
	bool neg = !t.empty() && t[0] == '-';
	if (neg)
		t.remove_prefix(1);
	uint64_t v = 0;
	auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
	if (ec == std::errc::result_out_of_range ||
	    (ec == std::errc() && p == t.data() + t.size() && (neg || v < LOTTO_TICKETS_MIN || v > LOTTO_TICKETS_MAX)))
		return err(fmt::format("tickets out of range: {} (use {}..{})", s, LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX));
	if (ec != std::errc() || p != t.data() + t.size())
		return err(fmt::format("not a ticket count: '{}' (use an integer {}..{})", s, LOTTO_TICKETS_MIN,
				       LOTTO_TICKETS_MAX));
	return (uint32_t)v;
}

Result<double> parse_factor(std::string_view s)
{
	std::string_view t = s;
	if (!t.empty() && (t[0] == 'x' || t[0] == 'X' || t[0] == '*'))
		t.remove_prefix(1);
	auto v = to_double(t);
	if (!v)
		return err(fmt::format("not a boost factor: '{}' (write it like x2 or x0.5)", s));
	if (!lotto_boost_valid(*v))
		return err(fmt::format("boost factor out of range: {} (use x{}..x{})", s, LOTTO_BOOST_MIN, LOTTO_BOOST_MAX));
	return *v;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view s)
{
	size_t i = 0;
	while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
		i++;
	auto num = to_double(s.substr(0, i));
	std::string_view unit = s.substr(i);
	double ms_per = 0;
	if (unit.empty() || unit == "s" || unit == "sec")
		ms_per = 1000;
	else if (unit == "ms")
		ms_per = 1;
	else if (unit == "m" || unit == "min")
		ms_per = 60000;
	else if (unit == "h")
		ms_per = 3600000;
	if (!num || ms_per == 0)
		return err(fmt::format("not a duration: '{}' (write it like 500ms, 30s, 5m or 1h)", s));
	double ms = *num * ms_per;
	if (ms < 1 || ms > double(LOTTO_BOOST_MS_MAX))
		return err(fmt::format("duration out of range: {} (use 1ms..{} days)", s, LOTTO_BOOST_DAYS_MAX));
	return std::chrono::milliseconds((int64_t)std::llround(ms));
}

Result<double> parse_seconds(std::string_view s, std::string_view what)
{
	auto v = to_double(s);
	if (!v)
		return err(fmt::format("not a number of seconds for {}: '{}' (e.g. 2 or 0.5)", what, s));
	if (*v < 0.1 || *v > 3600)
		return err(fmt::format("{} out of range: {} seconds (use 0.1..3600)", what, s));
	return *v;
}

Result<uint64_t> parse_count(std::string_view s, std::string_view what, uint64_t max)
{
	uint64_t v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec == std::errc() && p == s.data() + s.size() && v >= 1 && v <= max)
		return v;
	if (ec == std::errc::result_out_of_range || (ec == std::errc() && p == s.data() + s.size()) ||
	    (!s.empty() && s[0] == '-'))
		return err(fmt::format("{} out of range: {} (use 1..{})", what, s, max));
	return err(fmt::format("not a count for {}: '{}' (use a positive integer)", what, s));
}

Result<uint64_t> parse_seed(std::string_view s)
{
	uint64_t v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size())
		return err(fmt::format("not a seed: '{}' (use an unsigned integer)", s));
	return v;
}

Result<ParsedCommand> parse_command(const Statement &st)
{
	if (st.words.empty())
		return err("empty command (type help for the list)");
	const std::string &name = st.words[0].text;
	const CommandSpec *spec = find_command(name);
	if (!spec) {
		auto s = suggest_command(name);
		if (!s.empty())
			return err(fmt::format("unknown command '{}': did you mean '{}'? (type help for the list)", name, s));
		return err(fmt::format("unknown command '{}' (type help for the list)", name));
	}
	ParsedCommand pc;
	pc.spec = spec;

	if (std::string_view(spec->name) == "lua") {
		// the expression is the raw text after the command word
		std::string_view raw = st.raw;
		raw.remove_prefix(std::min(raw.size(), st.words[0].end - st.words[0].begin));
		while (!raw.empty() && (raw[0] == ' ' || raw[0] == '\t'))
			raw.remove_prefix(1);
		if (raw.substr(0, 7) == "--json " || raw == "--json") {
			pc.json = true;
			raw.remove_prefix(std::min<size_t>(7, raw.size()));
		}
		if (raw.empty())
			return err("lua needs an expression, e.g.: lua #tasks");
		pc.raw_rest = std::string(raw);
		return pc;
	}

	if (std::string_view(spec->name) == "watch") {
		if (st.words.size() < 2)
			return err("watch needs a command to repeat, e.g.: watch tasks --top 10 1");
		Statement inner;
		inner.words.assign(st.words.begin() + 1, st.words.end());
		size_t off = st.words[1].begin - st.words[0].begin;
		inner.raw = off < st.raw.size() ? st.raw.substr(off) : "";
		inner.begin = st.words[1].begin;
		auto r = parse_command(inner);
		if (!r && inner.words.size() >= 2) {
			// `watch CMD ARGS SECONDS`: the last word was the period
			auto secs = parse_seconds(inner.words.back().text, "watch period");
			if (secs) {
				Statement shorter = inner;
				shorter.words.pop_back();
				shorter.raw = inner.raw.substr(0, inner.words.back().begin - inner.words.front().begin);
				auto r2 = parse_command(shorter);
				if (r2) {
					r = std::move(r2);
					pc.seconds = *secs;
				}
			} else if (all_digits(inner.words.back().text) || inner.words.back().text.find('.') != std::string::npos) {
				return secs.error();
			}
		}
		if (!r)
			return r.error();
		const ParsedCommand &in = *r;
		if (!in.handler().view)
			return err(fmt::format("watch repeats read commands only ({}); '{}' is not one", watchable_names(),
					       in.spec->name));
		pc.inner = std::make_shared<ParsedCommand>(std::move(*r));
		pc.json = pc.inner->json;
		return pc;
	}

	std::vector<std::string> pos;
	for (size_t i = 1; i < st.words.size(); i++) {
		const std::string &w = st.words[i].text;
		if (w.size() > 2 && w[0] == '-' && w[1] == '-') {
			std::string fname = w, value;
			bool has_eq = false;
			if (auto eq = w.find('='); eq != std::string::npos) {
				fname = w.substr(0, eq);
				value = w.substr(eq + 1);
				has_eq = true;
			}
			const FlagSpec *f = find_flag(*spec, fname);
			if (!f) {
				std::vector<std::string> names{kJsonFlag.name};
				for (auto &fl : spec->flags)
					names.emplace_back(fl.name);
				auto s = suggest(fname, names);
				return err(fmt::format("unknown option '{}' for {}{} (options: {})", fname, spec->name,
						       s.empty() ? "" : ": did you mean '" + s + "'?", flag_names(*spec)));
			}
			if (f->value == ArgKind::none) {
				if (has_eq)
					return err(fmt::format("option {} takes no value", fname));
				if (f == &kJsonFlag)
					pc.json = true;
				else
					pc.flags[fname] = "";
				continue;
			}
			if (!has_eq) {
				if (i + 1 >= st.words.size())
					return err(fmt::format("option {} needs a value ({})", fname, usage_of(*spec)));
				value = st.words[++i].text;
			}
			if (auto r = check_value(f->value, value, fname.c_str() + 2); !r)
				return r.error();
			pc.flags[fname] = value;
			continue;
		}
		if (std::string_view(spec->name) == "boost" && w == "for") {
			if (i + 1 >= st.words.size())
				return err("boost ... for needs a duration, e.g.: boost 1234 x2 for 30s");
			auto d = parse_duration(st.words[++i].text);
			if (!d)
				return d.error();
			if (pc.duration)
				return err("boost takes one `for DURATION`");
			pc.duration = *d;
			continue;
		}
		pos.push_back(w);
	}

	const std::vector<ArgSpec> *args = &spec->args;
	size_t first = 0;
	if (!spec->subs.empty()) {
		std::string subs;
		for (auto &s : spec->subs) {
			subs += std::string(subs.empty() ? "" : ", ") + s.name;
			for (auto &a : s.args)
				subs += std::string(" ") + a.name;
		}
		if (pos.empty())
			return err(fmt::format("{} needs a subcommand: {}", spec->name, subs));
		pc.sub = find_sub(*spec, pos[0]);
		if (!pc.sub) {
			std::vector<std::string> names;
			for (auto &s : spec->subs)
				names.emplace_back(s.name);
			auto s = suggest(pos[0], names);
			return err(fmt::format("unknown subcommand '{} {}'{} (use {})", spec->name, pos[0],
					       s.empty() ? "" : ": did you mean '" + s + "'?", subs));
		}
		args = &pc.sub->args;
		first = 1;
	}
	size_t required = 0;
	for (auto &a : *args)
		required += a.optional ? 0 : 1;
	size_t given = pos.size() - first;
	if (given < required) {
		const ArgSpec &missing = (*args)[given];
		return err(fmt::format("missing {} ({})", missing.name, usage_of(*spec)));
	}
	if (given > args->size())
		return err(fmt::format("too many arguments for {}: '{}' ({})", spec->name, pos[first + args->size()],
				       usage_of(*spec)));
	for (size_t i = 0; i < given; i++)
		if (auto r = check_value((*args)[i].kind, pos[first + i], (*args)[i].name); !r)
			return r.error();
	pc.args.assign(pos.begin() + first, pos.end());
	return pc;
}

Result<ParsedCommand> parse_command(std::string_view text)
{
	auto sp = split_line(text);
	if (!sp.error.empty())
		return err(sp.error);
	if (sp.statements.size() != 1)
		return err("expected exactly one command");
	return parse_command(sp.statements[0]);
}

} // namespace lotto::shell
