// commands.cpp — one handler per protocol command, and the table at the end
// (see commands.h). Handlers read their fields through Request, ask the
// HostApi, and answer once through `done`.
#include "control/commands.h"

#include "core/strict_json.h"

#include <fmt/format.h>

namespace lotto::control {

namespace {

HostError bad_request(std::string m) { return HostError{ErrorCode::bad_request, std::move(m)}; }

// a list of values as {"key": [to_json(x)...]}, or the host's error
template <typename T> Answer list_of(const char *key, const HostResult<std::vector<T>> &l)
{
	if (!l)
		return l.error();
	json a = json::array();
	for (auto &x : *l)
		a.push_back(to_json(x));
	return Body(json{{key, std::move(a)}});
}

// ---- read

void hello(const Call &c, Respond done)
{
	if (c.req.has("version") && !speaks_our_version(c.req.body()["version"]))
		return done(unsupported_version(c.req.body()["version"]));
	done(Body(json{{"protocol", kProtocolVersion},
		       {"server", "lotto-host"},
		       {"version", c.cfg.server_version},
		       {"backend", c.host.stats().backend},
		       {"admin", c.peer.admin},
		       {"uid", c.peer.uid},
		       {"max_line", kMaxLine}}));
}

void tasks(const Call &c, Respond done)
{
	auto q = query_of_request(c.req);
	if (!q)
		return done(q.error());
	done(Body::encoded(task_list_text(c.host.tasks(*q))));
}

void show(const Call &c, Respond done)
{
	auto pid = c.req.pid();
	if (!pid)
		return done(pid.error());
	auto d = c.host.task(*pid);
	if (!d)
		return done(d.error());
	done(Body(to_json(*d)));
}

void stats(const Call &c, Respond done) { done(Body(to_json(c.host.stats()))); }

void groups(const Call &c, Respond done) { done(list_of("groups", HostResult<std::vector<GroupRow>>(c.host.groups()))); }

void policy_list(const Call &c, Respond done) { done(list_of("policies", c.host.policies())); }

void policy_errors(const Call &c, Respond done) { done(list_of("errors", c.host.policy_errors())); }

void eval(const Call &c, Respond done)
{
	auto e = c.req.string("expr", 16 * 1024);
	if (!e)
		return done(e.error());
	c.host.eval(*e, c.peer, [done, admin = c.peer.admin](HostResult<std::string> r) {
		if (!r)
			return done(r.error());
		done(Body(json{{"value", *r}, {"admin", admin}}));
	});
}

// ---- write

void tickets(const Call &c, Respond done)
{
	auto t = c.req.uint("tickets", LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX, ErrorCode::out_of_range);
	if (!t)
		return done(t.error());
	uint32_t n = uint32_t(*t);
	if (c.req.has("pid") == c.req.has("comm"))
		return done(bad_request("give exactly one of 'pid' and 'comm'"));
	std::vector<uint32_t> pinned;
	if (c.req.has("pid")) {
		auto pid = c.req.pid();
		if (!pid)
			return done(pid.error());
		if (auto r = c.host.pin(*pid, n); !r)
			return done(r.error());
		pinned.push_back(*pid);
	} else {
		auto pattern = c.req.string("comm", 256);
		if (!pattern)
			return done(pattern.error());
		auto r = c.host.pin_matching(*pattern, n);
		if (!r)
			return done(r.error());
		pinned = std::move(*r);
	}
	done(Body(json{{"pinned", pinned}, {"tickets", n}}));
}

// {"cmd":"fund","group":"NAME"|"GID","funding":N}: a policy group's funding, pinned
void fund(const Call &c, Respond done)
{
	auto g = c.req.string("group", LOTTO_GROUP_NAME_MAX);
	if (!g)
		return done(g.error());
	auto f = c.req.uint("funding", LOTTO_FUNDING_MIN, LOTTO_FUNDING_MAX, ErrorCode::out_of_range);
	if (!f)
		return done(f.error());
	auto gid = c.host.fund_group(*g, uint32_t(*f));
	if (!gid)
		return done(gid.error());
	done(Body(json{{"group", *g}, {"gid", *gid}, {"funding", *f}}));
}

void unfund(const Call &c, Respond done)
{
	auto g = c.req.string("group", LOTTO_GROUP_NAME_MAX);
	if (!g)
		return done(g.error());
	if (auto r = c.host.unfund_group(*g); !r)
		return done(r.error());
	done(Body(json{{"group", *g}}));
}

void unpin(const Call &c, Respond done)
{
	if (c.req.has("pid") == c.req.has("all"))
		return done(bad_request("give exactly one of 'pid' and 'all'"));
	if (c.req.has("all")) {
		auto all = c.req.boolean("all");
		if (!all || !*all)
			return done(bad_request("field 'all' must be true"));
		auto n = c.host.unpin_all();
		if (!n)
			return done(n.error());
		return done(Body(json{{"unpinned", *n}}));
	}
	auto pid = c.req.pid();
	if (!pid)
		return done(pid.error());
	if (auto r = c.host.unpin(*pid); !r)
		return done(r.error());
	done(Body(json{{"unpinned", 1}}));
}

void boost(const Call &c, Respond done)
{
	auto pid = c.req.pid();
	if (!pid)
		return done(pid.error());
	auto f = c.req.number("factor");
	if (!f)
		return done(f.error());
	std::optional<std::chrono::milliseconds> d;
	if (c.req.has("duration_ms")) {
		auto ms = c.req.uint("duration_ms", 1, LOTTO_BOOST_MS_MAX, ErrorCode::out_of_range);
		if (!ms)
			return done(ms.error());
		d = std::chrono::milliseconds(*ms);
	}
	if (auto r = c.host.boost(*pid, *f, d); !r)
		return done(r.error());
	done(Body(json{{"pid", *pid}, {"factor", *f}, {"duration_ms", d ? json(d->count()) : json(nullptr)}}));
}

void policy_load(const Call &c, Respond done)
{
	auto f = c.req.string("file");
	if (!f)
		return done(f.error());
	if ((*f)[0] != '/')
		return done(bad_request("field 'file' must be an absolute path (the host's directory is not yours)"));
	c.host.policy_load(*f, c.peer, [done, file = *f](HostResult<std::string> r) {
		if (!r)
			return done(r.error());
		done(Body(json{{"name", *r}, {"file", file}}));
	});
}

// policy.unload and policy.reload: by name
template <HostResult<Ok> (HostApi::*op)(const std::string &)> void by_name(const Call &c, Respond done)
{
	auto n = c.req.string("name", 256);
	if (!n)
		return done(n.error());
	if (auto r = (c.host.*op)(*n); !r)
		return done(r.error());
	done(Body(json{{"name", *n}}));
}

} // namespace

const std::vector<Command> &commands()
{
	using A = Access;
	static const std::vector<Command> table = {
		{"hello", {"version", "client"}, A::read, "saying hello", hello},
		{"tasks", {"order_by", "comm", "user", "pid", "top"}, A::read, "listing tasks", tasks},
		{"show", {"pid"}, A::read, "showing a task", show},
		{"stats", {}, A::read, "reading the counters", stats},
		{"groups", {}, A::read, "listing groups", groups},
		{"tickets", {"pid", "comm", "tickets"}, A::write, "pinning tickets", tickets},
		{"unpin", {"pid", "all"}, A::write, "unpinning tickets", unpin},
		{"fund", {"group", "funding"}, A::write, "funding groups", fund},
		{"unfund", {"group"}, A::write, "funding groups", unfund},
		{"boost", {"pid", "factor", "duration_ms"}, A::write, "boosting a task", boost},
		{"policy.list", {}, A::read, "listing policies", policy_list},
		{"policy.load", {"file"}, A::write, "changing policies", policy_load},
		{"policy.unload", {"name"}, A::write, "changing policies", by_name<&HostApi::policy_unload>},
		{"policy.reload", {"name"}, A::write, "changing policies", by_name<&HostApi::policy_reload>},
		{"policy.errors", {}, A::read, "listing policy errors", policy_errors},
		{"eval", {"expr"}, A::read, "evaluating Lua", eval},
	};
	return table;
}

bool speaks_our_version(const json &v)
{
	return v.is_number() && v.get<double>() == double(kProtocolVersion);
}

HostError unsupported_version(const json &v)
{
	return HostError{ErrorCode::unsupported_version, fmt::format("protocol version {} is not supported (this host speaks {})",
								      shown(v.dump()), kProtocolVersion)};
}

const Command *find_command(std::string_view name)
{
	for (auto &c : commands())
		if (name == c.name)
			return &c;
	return nullptr;
}

} // namespace lotto::control
