#include "control/protocol.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <type_traits>

namespace lotto::control {

using Counters = std::array<uint64_t, LOTTO_STAT_NR>;
using SysTime = std::chrono::system_clock::time_point;

std::string iso_time(SysTime t)
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

std::optional<SysTime> parse_iso_time(const std::string &s)
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

// ---- one field list per object, walked by every visitor below: JsonOut
// (to_json), TextOut (task_list_text) and JsonIn (the decoders). V is the
// visitor, X the object (const when encoding). Wire names may differ from
// member names. Task rows are listed in key order: TextOut writes them as
// listed and must match the sorted keys of a dumped json object.

template <typename V, typename X> void row_fields(V &v, X &r)
{
	v("boost", r.boost);
	v("cgroup_id", r.cgroup_id);
	v("comm", r.comm);
	v("cpu_pct", r.cpu_pct);
	v("cpu_share", r.cpu_share);
	v("delta_ns", r.delta_ns);
	v("group", r.group);
	v("last_cpu", r.last_cpu);
	v("nice", r.nice);
	v("pid", r.pid);
	v("pinned", r.pinned);
	v("rescues", r.rescues);
	v("runtime_ns", r.runtime_ns);
	v("source", r.source);
	v("tgid", r.tgid);
	v("ticket_share", r.ticket_share);
	v("tickets", r.tickets);
	v("uid", r.uid);
	v("user", r.user);
	v("wait_avg_ns", r.wait_avg_ns);
	v("wait_max_ns", r.wait_max_ns);
	v("waits", r.waits);
	v("wins", r.wins);
}

// `show`: a row plus these
template <typename V, typename X> void detail_fields(V &v, X &d)
{
	v("pin", d.pin);
	v("boost_factor", d.boost_factor);
	v("boost_left_s", d.boost_left_s);
	v("stat_tickets", d.stat_tickets);
	v("comp_q10", d.comp_q10);
	v("history", d.history);
	v("group_name", d.group_name);
	v("funded_by", d.funded_by);
	v("funded_tickets", d.funded_tickets);
}

template <typename V, typename X> void group_fields(V &v, X &g)
{
	v("gid", g.gid);
	v("kind", g.kind);
	v("name", g.name);
	v("cgroup_id", g.cgroup_id);
	v("funding", g.funding);
	v("source", g.source);
	v("weight", g.weight);
	v("transfers", g.transfers);
	v("transfers_in", g.transfers_in);
	v("tasks", g.tasks);
	v("active", g.active);
	v("ticket_share", g.ticket_share);
	v("cpu_share", g.cpu_share);
	v("cpu_pct", g.cpu_pct);
	v("runtime_ns", g.runtime_ns);
	v("delta_ns", g.delta_ns);
	v("wins", g.wins);
}

template <typename V, typename X> void history_fields(V &v, X &e)
{
	v("time", e.when);
	v("tickets", e.tickets);
	v("source", e.source);
}

template <typename V, typename X> void exit_fields(V &v, X &x)
{
	v("kind", x.kind);
	v("exit_code", x.exit_code);
	v("reason", x.reason);
	v("msg", x.msg);
}

template <typename V, typename X> void stats_fields(V &v, X &s)
{
	v("backend", s.backend);
	v("version", s.version);
	v("state", s.state);
	v("exit", s.exit);
	v("uptime_s", s.uptime_s);
	v("nr_cpus", s.nr_cpus);
	v("nr_tasks", s.nr_tasks);
	v("total_tickets", s.total_tickets);
	v("draws_per_s", s.draws_per_s);
	v("pins", s.pins);
	v("boosts", s.boosts);
	v("policies", s.policies);
	v("counters", s.total);
	v("per_cpu", s.per_cpu);
}

template <typename V, typename X> void policy_fields(V &v, X &p)
{
	v("name", p.name);
	v("file", p.path);
	v("interval_ms", p.interval_ms);
	v("active", p.running);
	v("ticks", p.ticks);
	v("overruns", p.overruns);
	v("errors", p.errors);
	v("last_error", p.last_error);
}

template <typename V, typename X> void policy_error_fields(V &v, X &e)
{
	v("name", e.policy);
	v("file", e.path);
	v("message", e.message);
	v("time", e.when);
}

// the fields of one object type, as one callable (for nested objects)
#define LOTTO_FIELDS(fn) [](auto &v, auto &x) { fn(v, x); }

namespace {

// ---- encoding into nlohmann::json
struct JsonOut {
	json &j;

	template <typename T> void operator()(const char *k, const T &x) { j[k] = out(x); }

	template <typename T> static json out(const T &x) { return json(x); }
	static json out(const SysTime &t) { return iso_time(t); }
	template <typename T> static json out(const std::optional<T> &x) { return x ? out(*x) : json(nullptr); }
	static json out(const ExitInfo &x) { return object(x, LOTTO_FIELDS(exit_fields)); }
	static json out(const TicketChange &x) { return object(x, LOTTO_FIELDS(history_fields)); }
	static json out(const Counters &c)
	{
		json o = json::object();
		for (int i = 0; i < LOTTO_STAT_NR; i++)
			o[stat_name(i)] = c[i];
		return o;
	}
	static json out(const std::vector<Counters> &per_cpu)
	{
		json a = json::array();
		for (size_t i = 0; i < per_cpu.size(); i++) {
			json c = out(per_cpu[i]);
			c["cpu"] = i;
			a.push_back(std::move(c));
		}
		return a;
	}
	template <typename T> static json out(const std::vector<T> &v)
	{
		json a = json::array();
		for (auto &x : v)
			a.push_back(out(x));
		return a;
	}
	template <typename X, typename F> static json object(const X &x, F fields)
	{
		json o = json::object();
		JsonOut w{o};
		fields(w, x);
		return o;
	}
};

// ---- encoding straight into text, byte for byte what json::dump gives
// (compact, invalid UTF-8 replaced) for the scalars and strings of a row
class TextOut {
public:
	explicit TextOut(std::string &s) : s_(s) {}

	template <typename T> void operator()(const char *k, const T &x)
	{
		s_ += first_ ? "\"" : ",\"";
		first_ = false;
		s_ += k;
		s_ += "\":";
		value(x);
	}

private:
	void value(bool b) { s_ += b ? "true" : "false"; }
	void value(double d)
	{
		char buf[64];
		if (!std::isfinite(d)) {
			s_ += "null";
			return;
		}
		// the same shortest round-trip digits and layout json::dump uses
		char *end = nlohmann::detail::to_chars(buf, buf + sizeof(buf), d);
		s_.append(buf, end);
	}
	template <typename T> std::enable_if_t<std::is_integral_v<T>> value(T n)
	{
		char buf[24];
		auto r = std::to_chars(buf, buf + sizeof(buf), n);
		s_.append(buf, r.ptr);
	}
	void value(const std::string &t)
	{
		// plain printable ASCII is written as it is; anything else
		// (escapes, UTF-8, bytes that are not) the way json::dump does
		for (unsigned char c : t)
			if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
				s_ += json(t).dump(-1, ' ', false, json::error_handler_t::replace);
				return;
			}
		s_ += '"';
		s_ += t;
		s_ += '"';
	}

	std::string &s_;
	bool first_ = true;
};

template <typename X, typename F> Result<X> decode(const json &j, const char *what, F fields, X x = {});

// ---- decoding: reads the fields of one object, stopping at the first that
// has the wrong type (a missing or null field keeps its default)
class JsonIn {
public:
	JsonIn(const json &j, const char *what) : j_(j), what_(what) {}

	template <typename T> void operator()(const char *k, T &x)
	{
		auto it = j_.find(k);
		if (!error_ && it != j_.end() && !it->is_null())
			in(k, *it, x);
	}
	const std::optional<Error> &error() const { return error_; }

private:
	void fail(const char *k) { error_ = err(std::string("bad ") + what_ + " from host: field '" + k + "'"); }

	template <typename T>
	std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> in(const char *k, const json &v, T &x)
	{
		if (!v.is_number() || !fits<T>(v))
			return fail(k);
		x = v.get<T>();
	}
	void in(const char *k, const json &v, bool &x)
	{
		if (!v.is_boolean())
			return fail(k);
		x = v.get<bool>();
	}
	void in(const char *k, const json &v, std::string &x)
	{
		if (!v.is_string())
			return fail(k);
		x = v.get<std::string>();
	}
	void in(const char *k, const json &v, SysTime &x)
	{
		std::string s;
		in(k, v, s);
		if (auto t = parse_iso_time(s))
			x = *t;
	}
	template <typename T> void in(const char *k, const json &v, std::optional<T> &x)
	{
		T y{};
		in(k, v, y);
		x = y;
	}
	void in(const char *, const json &v, ExitInfo &x) { nested(v, "exit", LOTTO_FIELDS(exit_fields), x); }
	void in(const char *, const json &v, TicketChange &x)
	{
		nested(v, "ticket history", LOTTO_FIELDS(history_fields), x);
	}
	void in(const char *, const json &v, Counters &c)
	{
		auto names = [](JsonIn &r, Counters &cs) {
			for (int i = 0; i < LOTTO_STAT_NR; i++)
				r(stat_name(i), cs[i]);
		};
		nested(v, "counters", names, c);
	}
	template <typename T> void in(const char *k, const json &v, std::vector<T> &xs)
	{
		if (!v.is_array())
			return fail(k);
		for (auto &e : v) {
			in(k, e, xs.emplace_back());
			if (error_)
				return;
		}
	}
	template <typename X, typename F> void nested(const json &v, const char *what, F fields, X &x)
	{
		if (!v.is_object())
			return;	// left at its default
		auto r = decode<X>(v, what, fields, x);
		if (!r)
			error_ = r.error();
		else
			x = std::move(*r);
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

	const json &j_;
	const char *what_;
	std::optional<Error> error_;
};

template <typename X, typename F> Result<X> decode(const json &j, const char *what, F fields, X x)
{
	if (!j.is_object())
		return err(std::string("bad ") + what + " from host: not an object");
	JsonIn r(j, what);
	fields(r, x);
	if (r.error())
		return *r.error();
	return x;
}

template <typename X, typename F> json object_json(const X &x, F fields)
{
	return JsonOut::object(x, fields);
}

std::string line_of(const json &j)
{
	// replace: invalid UTF-8 from a client (echoed ids, comm names) must not throw
	return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string id_prefix(const json &id)
{
	return id.is_null() ? "{" : "{\"id\":" + id.dump(-1, ' ', false, json::error_handler_t::replace) + ",";
}

} // namespace

// ---- encoding

json to_json(const TaskRow &r) { return object_json(r, LOTTO_FIELDS(row_fields)); }

json to_json(const TaskDetail &d)
{
	json j = to_json(d.row);
	JsonOut w{j};
	detail_fields(w, d);
	return j;
}

json to_json(const HostStats &s) { return object_json(s, LOTTO_FIELDS(stats_fields)); }
json to_json(const GroupRow &g) { return object_json(g, LOTTO_FIELDS(group_fields)); }
json to_json(const PolicyInfo &p) { return object_json(p, LOTTO_FIELDS(policy_fields)); }
json to_json(const PolicyError &e) { return object_json(e, LOTTO_FIELDS(policy_error_fields)); }

json error_json(const HostError &e)
{
	return json{{"code", to_string(e.code)}, {"message", e.message}};
}

std::string task_list_text(const std::vector<TaskRow> &rows)
{
	std::string s = "{\"tasks\":[";
	s.reserve(rows.size() * 400 + 16);
	for (size_t i = 0; i < rows.size(); i++) {
		s += i ? ",{" : "{";
		TextOut w(s);
		row_fields(w, rows[i]);
		s += '}';
	}
	s += "]}";
	return s;
}

std::string reply_ok(const json &id, const Body &result)
{
	if (result.text.empty()) {
		json j{{"ok", true}, {"result", result.value}};
		if (!id.is_null())
			j["id"] = id;
		return line_of(j);
	}
	// keys in the order dump() sorts them: id, ok, result
	return id_prefix(id) + "\"ok\":true,\"result\":" + result.text + "}\n";
}

std::string reply_error(const json &id, const HostError &e)
{
	json j{{"ok", false}, {"error", error_json(e)}};
	if (!id.is_null())
		j["id"] = id;
	return line_of(j);
}

std::optional<std::string_view> ok_result_text(std::string_view line, const json &id)
{
	std::string head = id_prefix(id) + "\"ok\":true,\"result\":";
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
		line.remove_suffix(1);
	if (line.size() <= head.size() + 1 || line.substr(0, head.size()) != head || line.back() != '}')
		return std::nullopt;
	return line.substr(head.size(), line.size() - head.size() - 1);
}

// ---- decoding

Result<TaskRow> task_row_from_json(const json &j) { return decode<TaskRow>(j, "task row", LOTTO_FIELDS(row_fields)); }

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
	return decode<TaskDetail>(j, "task", LOTTO_FIELDS(detail_fields), std::move(d));
}

Result<HostStats> host_stats_from_json(const json &j) { return decode<HostStats>(j, "stats", LOTTO_FIELDS(stats_fields)); }
Result<GroupRow> group_row_from_json(const json &j) { return decode<GroupRow>(j, "group", LOTTO_FIELDS(group_fields)); }
Result<PolicyInfo> policy_info_from_json(const json &j) { return decode<PolicyInfo>(j, "policy", LOTTO_FIELDS(policy_fields)); }
Result<PolicyError> policy_error_from_json(const json &j)
{
	return decode<PolicyError>(j, "policy error", LOTTO_FIELDS(policy_error_fields));
}

#undef LOTTO_FIELDS

} // namespace lotto::control
