// Policy groups (currencies) from Lua, as policies/README.md documents them:
// ctx.group(name) makes or finds this tick's group, its funding and flags,
// t.group = g puts a task in it, t.group reads the group of its last draw.
#include "fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;

namespace {
std::string funding_of(Harness &h, const std::string &group)
{
	auto gid = h.groups.gid_of(group);
	if (!gid)
		return "none";
	return std::to_string(h.backend.group_ctl()[*gid].funding);
}
} // namespace

TEST_CASE("a policy makes groups by name, funds them, sets flags and puts tasks in them", "[groups]")
{
	Harness h;
	h.backend.add(0, 100, 0, 1000);
	h.backend.add(1, 101, 0, 1000);
	h.backend.add(2, 200, 0, 1001);
	h.backend.add(3, 300, 0, 0);
	auto path = h.write("p.lua", policy_src("g", R"(
		for i = 1, #tasks do
			local t = tasks[i]
			if t.uid ~= 0 then
				local g = ctx.group("uid:" .. t.uid)
				g.funding = 500
				if t.uid == 1001 then g.transfers = true; g.transfers_in = true end
				t.group = g
			end
		end
		local g = ctx.group("uid:1000")
		ctx.state.seen = { name = g.name, funding = g.funding, same = g == ctx.group("uid:1000"),
			xfer = g.transfers, tostr = tostring(g), before = tasks[1].group }
	)"));
	REQUIRE(h.engine->load(path).ok());
	uint32_t u0 = *h.groups.gid_of("uid:1000"), u1 = *h.groups.gid_of("uid:1001");
	CHECK(u0 >= LOTTO_POLICY_GID_MIN);
	CHECK(u1 >= LOTTO_POLICY_GID_MIN);
	CHECK(u0 != u1);
	CHECK(h.backend.ctl_group(0) == u0);
	CHECK(h.backend.ctl_group(1) == u0);
	CHECK(h.backend.ctl_group(2) == u1);
	CHECK(h.backend.ctl_group(3) == 0);
	CHECK(h.backend.group_ctl()[u0].funding == 500);
	CHECK(h.backend.group_ctl()[u0].flags == 0);
	CHECK(h.backend.group_ctl()[u1].flags == (LOTTO_GROUP_F_TRANSFERS | LOTTO_GROUP_F_TRANSFERS_IN));
	CHECK(h.groups.source(u0) == "policy g");
	CHECK(h.eval("g", "ctx.state.seen") ==
	      "{before = 0, funding = 500, name = \"uid:1000\", same = true, tostr = \"group(uid:1000)\", xfer = false}");
	// t.group reads the group of the task's last draw (the core's)
	h.backend.at(0).group = u0;
	CHECK(h.eval("g", "tasks[1].group") == std::to_string(u0));
}

TEST_CASE("a task the policy no longer places goes back to its cgroup; false takes it out explicitly", "[groups]")
{
	Harness h;
	h.backend.add(0, 100);
	h.backend.add(1, 101);
	auto first = h.write("a.lua", policy_src("a", R"(
		local g = ctx.group("batch")
		for i = 1, #tasks do tasks[i].group = g end
	)"));
	auto second = h.write("b.lua", policy_src("b", R"(
		for i = 1, #tasks do if tasks[i].pid == 101 then tasks[i].group = false end end
	)"));
	REQUIRE(h.engine->load(first).ok());
	uint32_t batch = *h.groups.gid_of("batch");
	CHECK(h.backend.ctl_group(0) == batch);
	CHECK(h.backend.ctl_group(1) == batch);
	REQUIRE(h.engine->load(second).ok());	// later in order: its `false` wins for 101
	CHECK(h.backend.ctl_group(0) == batch);
	CHECK(h.backend.ctl_group(1) == 0);
	REQUIRE(h.engine->unload("b").ok());
	h.groups.apply();
	CHECK(h.backend.ctl_group(1) == batch);
	// the policy goes: its tasks back to their cgroups, its group given back
	REQUIRE(h.engine->unload("a").ok());
	h.groups.apply();
	CHECK(h.backend.ctl_group(0) == 0);
	CHECK(h.backend.ctl_group(1) == 0);
	CHECK_FALSE(h.groups.gid_of("batch"));
	CHECK(h.backend.group_ctl()[batch].funding == 0);
}

TEST_CASE("bad group names, funding, flags and assignments fail the tick with file:line", "[groups]")
{
	Harness h;
	h.backend.add(0, 100);
	struct Case {
		const char *body, *want;
	} cases[] = {
		{"ctx.group('a b')", "ctx.group: a group name is 1..64 letters, digits and _.:@-"},
		{"ctx.group('1234')", "(not only digits)"},
		{"ctx.group(('x'):rep(65))", "a group name is 1..64"},
		{"ctx.group(5)", "got 5"},
		{"ctx.group('g').funding = 0", "invalid funding 0 for group g: funding must be an integer in 1..1000000"},
		{"ctx.group('g').funding = 2.5", "invalid funding 2.5"},
		{"ctx.group('g').funding = 'x'", "invalid funding \"x\" (a string)"},
		{"ctx.group('g').transfers = 1", "transfers must be true or false"},
		{"ctx.group('g').name = 'h'", "a group's name is read-only"},
		{"ctx.group('g').colour = 1", "a group has no field \"colour\""},
		{"local x = ctx.group('g').colour", "a group has no field \"colour\""},
		{"tasks[1].group = 'g'", "invalid group \"g\" (a string) for pid 100"},
		{"tasks[1].group = {}", "invalid group a table value for pid 100"},
		{"tasks[1].group = 5", "assign a group from ctx.group(name), or false"},
		{"tasks[1].funded_by = 5", "tasks[i].funded_by is read-only"},
		{"for i = 1, 513 do ctx.group('g' .. i) end", "ctx.group: at most 512 groups per tick"},
	};
	for (auto &c : cases) {
		INFO(c.body);
		auto path = h.write("bad.lua", policy_src("bad", c.body));
		auto r = h.engine->load(path);
		REQUIRE_FALSE(r.ok());
		CHECK_THAT(r.error().msg, ContainsSubstring(path + ":") && ContainsSubstring(c.want));
	}
	CHECK(h.groups.apply() == 0);	// nothing of them reached the book
}

TEST_CASE("groups are per tick: an old group object is refused, init and lua cannot make groups", "[groups]")
{
	Harness h;
	h.backend.add(0, 100);
	auto path = h.write("p.lua", policy_src("s", R"(
		if ctx.state.old then tasks[1].group = ctx.state.old end
		ctx.state.old = ctx.group("g")
	)", 100, "  init = function(ctx) ctx.state.init_err = select(2, pcall(ctx.group, 'x')) end,\n"));
	REQUIRE(h.engine->load(path).ok());
	CHECK_THAT(h.eval("s", "ctx.state.init_err"), ContainsSubstring("ctx.group can only be used in tick"));
	auto r = h.engine->tick_now("s");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("a group from an earlier tick was used"));
	CHECK_THAT(h.eval("s", "ctx.group('y')"), ContainsSubstring("ctx.group can only be used in tick"));
	CHECK_THAT(h.eval("s", "ctx.group('y')", false), ContainsSubstring("ctx.group can only be used in tick"));
}

TEST_CASE("a shell pin of a group's funding overrides its policy's", "[groups]")
{
	Harness h;
	h.backend.add(0, 100);
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("f", R"(
		local g = ctx.group("web")
		g.funding = 200
		tasks[1].group = g
	)"))).ok());
	CHECK(funding_of(h, "web") == "200");
	REQUIRE(h.groups.pin("web", 900));
	REQUIRE(h.engine->tick_now("f").ok());
	CHECK(funding_of(h, "web") == "900");
	REQUIRE(h.groups.unpin("web"));
	REQUIRE(h.engine->tick_now("f").ok());
	CHECK(funding_of(h, "web") == "200");
}
