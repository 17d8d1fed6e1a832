#include "control/protocol.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <set>

namespace lotto::control {

bool is_write_command(const std::string &cmd)
{
	static const std::set<std::string> w = {
		"tickets", "unpin", "boost", "policy.load", "policy.unload", "policy.reload",
	};
	return w.count(cmd) != 0;
}

std::string iso_time(std::chrono::system_clock::time_point t)
{
	using namespace std::chrono;
	auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
	time_t secs = ms / 1000;
	if (ms < 0 && ms % 1000)
		secs--;
	tm tmv{};
	gmtime_r(&secs, &tmv);
	char buf[64];
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900, tmv.tm_mon + 1,
		 tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
	return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_iso_time(const std::string &s)
{
	tm tmv{};
	int msec = 0;
	if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tmv.tm_year, &tmv.tm_mon, &tmv.tm_mday, &tmv.tm_hour,
		   &tmv.tm_min, &tmv.tm_sec, &msec) != 7)
		return std::nullopt;
	tmv.tm_year -= 1900;
	tmv.tm_mon -= 1;
	time_t secs = timegm(&tmv);
	return std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(msec);
}

json to_json(const TaskRow &r)
{
	return json{
		{"pid", r.pid},
		{"tgid", r.tgid},
		{"comm", r.comm},
		{"uid", r.uid},
		{"user", r.user},
		{"nice", r.nice},
		{"tickets", r.tickets},
		{"source", r.source},
		{"pinned", r.pinned},
		{"boost", r.boost},
		{"ticket_share", r.ticket_share},
		{"cpu_share", r.cpu_share},
		{"cpu_pct", r.cpu_pct},
		{"runtime_ns", r.runtime_ns},
		{"delta_ns", r.delta_ns},
		{"wins", r.wins},
		{"wait_avg_ns", r.wait_avg_ns},
		{"wait_max_ns", r.wait_max_ns},
		{"waits", r.waits},
		{"rescues", r.rescues},
		{"cgroup_id", r.cgroup_id},
		{"last_cpu", r.last_cpu},
	};
}

json to_json(const TaskDetail &d)
{
	json j = to_json(d.row);
	j["pin"] = d.pin ? json(*d.pin) : json(nullptr);
	j["boost_factor"] = d.boost_factor ? json(*d.boost_factor) : json(nullptr);
	j["boost_left_s"] = d.boost_left_s ? json(*d.boost_left_s) : json(nullptr);
	j["stat_tickets"] = d.stat_tickets;
	j["comp_q10"] = d.comp_q10;
	json h = json::array();
	for (auto &e : d.history)
		h.push_back(json{{"time", iso_time(e.when)}, {"tickets", e.tickets}, {"source", e.source}});
	j["history"] = std::move(h);
	return j;
}

static json counters(const std::array<uint64_t, LOTTO_STAT_NR> &c)
{
	json j = json::object();
	for (int i = 0; i < LOTTO_STAT_NR; i++)
		j[stat_name(i)] = c[i];
	return j;
}

json to_json(const HostStats &s)
{
	json per = json::array();
	for (size_t i = 0; i < s.per_cpu.size(); i++) {
		json c = counters(s.per_cpu[i]);
		c["cpu"] = i;
		per.push_back(std::move(c));
	}
	json ex = nullptr;
	if (s.exit)
		ex = json{{"kind", s.exit->kind}, {"exit_code", s.exit->exit_code}, {"reason", s.exit->reason},
			  {"msg", s.exit->msg}};
	return json{
		{"backend", s.backend},
		{"version", s.version},
		{"state", s.state},
		{"exit", ex},
		{"uptime_s", s.uptime_s},
		{"nr_cpus", s.nr_cpus},
		{"nr_tasks", s.nr_tasks},
		{"total_tickets", s.total_tickets},
		{"draws_per_s", s.draws_per_s},
		{"pins", s.pins},
		{"boosts", s.boosts},
		{"policies", s.policies},
		{"counters", counters(s.total)},
		{"per_cpu", per},
	};
}

json to_json(const PolicyInfo &p)
{
	return json{
		{"name", p.name},	  {"file", p.file},	{"interval_ms", p.interval_ms},
		{"active", p.active},	  {"ticks", p.ticks},	{"overruns", p.overruns},
		{"errors", p.errors},	  {"last_error", p.last_error},
	};
}

json to_json(const PolicyErrorInfo &e)
{
	return json{{"name", e.name}, {"file", e.file}, {"message", e.message}, {"time", iso_time(e.when)}};
}

json error_json(const HostError &e)
{
	return json{{"code", to_string(e.code)}, {"message", e.message}};
}

static std::string line_of(const json &j)
{
	// replace: invalid UTF-8 from a client (echoed ids, comm names) must not throw
	return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string reply_ok(const json &id, json result)
{
	json j{{"ok", true}, {"result", std::move(result)}};
	if (!id.is_null())
		j["id"] = id;
	return line_of(j);
}

std::string reply_error(const json &id, const HostError &e)
{
	json j{{"ok", false}, {"error", error_json(e)}};
	if (!id.is_null())
		j["id"] = id;
	return line_of(j);
}

// ---- decoding

namespace {

// Reads fields of one object, remembering the first type error.
struct Reader {
	const json &j;
	std::string bad;

	const json *at(const char *k)
	{
		if (!j.is_object())
			return nullptr;
		auto it = j.find(k);
		if (it == j.end() || it->is_null())
			return nullptr;
		return &*it;
	}
	template <typename T> void num(const char *k, T &out)
	{
		const json *v = at(k);
		if (!v)
			return;
		if (!v->is_number() || !fits<T>(*v)) {
			if (bad.empty())
				bad = k;
			return;
		}
		out = v->get<T>();
	}
	// a number out of T's range would be UB to convert (found by tests/fuzz)
	template <typename T> static bool fits(const json &v)
	{
		if constexpr (std::is_floating_point_v<T>)
			return true;
		else {
			using L = std::numeric_limits<T>;
			if (v.is_number_unsigned())
				return v.get<uint64_t>() <= (uint64_t)L::max();
			if (v.is_number_integer())
				return v.get<int64_t>() >= (int64_t)L::min() &&
				       (v.get<int64_t>() < 0 || (uint64_t)v.get<int64_t>() <= (uint64_t)L::max());
			double d = v.get<double>();
			return std::isfinite(d) && d >= (double)L::min() && d < std::ldexp(1.0, L::digits);
		}
	}
	void str(const char *k, std::string &out)
	{
		const json *v = at(k);
		if (!v)
			return;
		if (!v->is_string()) {
			if (bad.empty())
				bad = k;
			return;
		}
		out = v->get<std::string>();
	}
	void boolean(const char *k, bool &out)
	{
		const json *v = at(k);
		if (!v)
			return;
		if (!v->is_boolean()) {
			if (bad.empty())
				bad = k;
			return;
		}
		out = v->get<bool>();
	}
	template <typename T> void opt(const char *k, std::optional<T> &out)
	{
		const json *v = at(k);
		if (!v)
			return;
		T x{};
		num(k, x);
		out = x;
	}
	Error error(const char *what) const { return err(std::string("bad ") + what + " from host: field '" + bad + "'"); }
};

} // namespace

Result<TaskRow> task_row_from_json(const json &j)
{
	if (!j.is_object())
		return err("bad task row from host: not an object");
	TaskRow r;
	Reader rd{j, {}};
	rd.num("pid", r.pid);
	rd.num("tgid", r.tgid);
	rd.str("comm", r.comm);
	rd.num("uid", r.uid);
	rd.str("user", r.user);
	rd.num("nice", r.nice);
	rd.num("tickets", r.tickets);
	rd.str("source", r.source);
	rd.boolean("pinned", r.pinned);
	rd.num("boost", r.boost);
	rd.num("ticket_share", r.ticket_share);
	rd.num("cpu_share", r.cpu_share);
	rd.num("cpu_pct", r.cpu_pct);
	rd.num("runtime_ns", r.runtime_ns);
	rd.num("delta_ns", r.delta_ns);
	rd.num("wins", r.wins);
	rd.num("wait_avg_ns", r.wait_avg_ns);
	rd.num("wait_max_ns", r.wait_max_ns);
	rd.num("waits", r.waits);
	rd.num("rescues", r.rescues);
	rd.num("cgroup_id", r.cgroup_id);
	rd.num("last_cpu", r.last_cpu);
	if (!rd.bad.empty())
		return rd.error("task row");
	return r;
}

Result<std::vector<TaskRow>> task_rows_from_json(const json &j)
{
	if (!j.is_array())
		return err("bad task list from host: not an array");
	std::vector<TaskRow> rows;
	rows.reserve(j.size());
	for (auto &e : j) {
		auto r = task_row_from_json(e);
		if (!r)
			return r.error();
		rows.push_back(std::move(*r));
	}
	return rows;
}

Result<TaskDetail> task_detail_from_json(const json &j)
{
	auto row = task_row_from_json(j);
	if (!row)
		return row.error();
	TaskDetail d;
	d.row = std::move(*row);
	Reader rd{j, {}};
	rd.opt("pin", d.pin);
	rd.opt("boost_factor", d.boost_factor);
	rd.opt("boost_left_s", d.boost_left_s);
	rd.num("stat_tickets", d.stat_tickets);
	rd.num("comp_q10", d.comp_q10);
	if (!rd.bad.empty())
		return rd.error("task");
	if (auto h = j.find("history"); h != j.end() && h->is_array()) {
		for (auto &e : *h) {
			TicketHistoryEntry t{};
			Reader he{e, {}};
			std::string when;
			he.str("time", when);
			he.num("tickets", t.tickets);
			he.str("source", t.source);
			if (!he.bad.empty())
				return he.error("ticket history");
			if (auto tp = parse_iso_time(when))
				t.when = *tp;
			d.history.push_back(std::move(t));
		}
	}
	return d;
}

static Result<std::array<uint64_t, LOTTO_STAT_NR>> counters_from_json(const json &j)
{
	std::array<uint64_t, LOTTO_STAT_NR> c{};
	Reader rd{j, {}};
	for (int i = 0; i < LOTTO_STAT_NR; i++)
		rd.num(stat_name(i), c[i]);
	if (!rd.bad.empty())
		return rd.error("counters");
	return c;
}

Result<HostStats> host_stats_from_json(const json &j)
{
	if (!j.is_object())
		return err("bad stats from host: not an object");
	HostStats s;
	Reader rd{j, {}};
	rd.str("backend", s.backend);
	rd.str("version", s.version);
	rd.str("state", s.state);
	rd.num("uptime_s", s.uptime_s);
	rd.num("nr_cpus", s.nr_cpus);
	rd.num("nr_tasks", s.nr_tasks);
	rd.num("total_tickets", s.total_tickets);
	rd.num("draws_per_s", s.draws_per_s);
	rd.num("pins", s.pins);
	rd.num("boosts", s.boosts);
	rd.num("policies", s.policies);
	if (!rd.bad.empty())
		return rd.error("stats");
	if (auto e = rd.at("exit"); e && e->is_object()) {
		ExitInfo x;
		Reader er{*e, {}};
		er.num("kind", x.kind);
		er.num("exit_code", x.exit_code);
		er.str("reason", x.reason);
		er.str("msg", x.msg);
		s.exit = x;
	}
	if (auto c = rd.at("counters")) {
		auto t = counters_from_json(*c);
		if (!t)
			return t.error();
		s.total = *t;
	}
	if (auto p = rd.at("per_cpu"); p && p->is_array())
		for (auto &e : *p) {
			auto t = counters_from_json(e);
			if (!t)
				return t.error();
			s.per_cpu.push_back(*t);
		}
	return s;
}

Result<PolicyInfo> policy_info_from_json(const json &j)
{
	PolicyInfo p;
	Reader rd{j, {}};
	rd.str("name", p.name);
	rd.str("file", p.file);
	rd.num("interval_ms", p.interval_ms);
	rd.boolean("active", p.active);
	rd.num("ticks", p.ticks);
	rd.num("overruns", p.overruns);
	rd.num("errors", p.errors);
	rd.str("last_error", p.last_error);
	if (!rd.bad.empty())
		return rd.error("policy");
	return p;
}

Result<PolicyErrorInfo> policy_error_from_json(const json &j)
{
	PolicyErrorInfo e;
	Reader rd{j, {}};
	std::string when;
	rd.str("name", e.name);
	rd.str("file", e.file);
	rd.str("message", e.message);
	rd.str("time", when);
	if (!rd.bad.empty())
		return rd.error("policy error");
	if (auto t = parse_iso_time(when))
		e.when = *t;
	return e;
}

} // namespace lotto::control
