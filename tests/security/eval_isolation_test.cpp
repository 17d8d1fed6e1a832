// issue 9, "Privilege", at the engine: a read-only `lua` evaluation runs in a
// child of the policy's worker and changes nothing shared (the string
// metatable, ctx.state, globals, the ticket arrays); an endless one neither
// waits on the event loop nor kills the worker. An admin's evaluation still
// writes. Every evaluation is answered.
#include "../policy/fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <optional>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;

namespace {

// A policy whose tickets come from a string method and that counts its
// ticks in ctx.state.
Harness &with_policy(Harness &h)
{
	h.backend.add(0, 100);
	h.backend.add(1, 101);
	auto path = h.write("s.lua", policy_src("s", R"(
		ctx.state.n = (ctx.state.n or 0) + 1
		for i = 1, #tasks do tasks[i].tickets = tonumber(("1"):rep(3)) end)",
						100, "  init = function(ctx) marker = 'original' end,\n"));
	REQUIRE(h.engine->load(path).ok());
	return h;
}

std::string ro(Harness &h, const std::string &expr) { return h.eval("s", expr, false); }

} // namespace

TEST_CASE("a read-only evaluation cannot change the string methods policies use", "[security][eval]")
{
	Harness h;
	with_policy(h);
	CHECK(ro(h, "getmetatable('')") == "false");	// the sandbox hides it...
	// ...and whatever a read-only evaluation does to strings dies with it
	ro(h, "string.rep = function() return '7' end");
	ro(h, "getmetatable(tasks).__index = nil");
	REQUIRE(h.engine->tick_now("s").ok());
	h.book.apply();
	CHECK(h.backend.ctl_tickets(0) == 111);
	CHECK(h.eval("s", "('ab'):rep(2)") == "\"abab\"");
}

TEST_CASE("a read-only evaluation cannot change ctx.state or globals, even raw", "[security][eval]")
{
	Harness h;
	with_policy(h);
	CHECK_THAT(ro(h, "ctx.state.n = -1"), ContainsSubstring("permission denied"));
	ro(h, "rawset(ctx.state, 'n', -1)");
	ro(h, "rawset(_G, 'marker', 'changed')");
	CHECK(h.eval("s", "marker") == "\"original\"");
	CHECK(h.eval("s", "ctx.state.n > 0") == "true");
}

TEST_CASE("an admin's evaluation still writes the policy's state", "[security][eval]")
{
	Harness h;
	with_policy(h);
	CHECK(h.eval("s", "ctx.state.flag = 5") == "");
	CHECK(h.eval("s", "ctx.state.flag") == "5");
	CHECK(ro(h, "ctx.state.flag") == "5");	// and read-only users see it
}

TEST_CASE("an endless read-only evaluation stops at its budget and the policy goes on", "[security][eval]")
{
	auto o = Harness::quiet_options();
	o.budget_limit = 300ms;
	Harness h(o);
	with_policy(h);
	int pid = h.info("s").worker_pid;
	auto n0 = h.eval("s", "ctx.state.n");
	auto t0 = std::chrono::steady_clock::now();
	auto r = ro(h, "(function() while true do end end)()");
	auto took = std::chrono::steady_clock::now() - t0;
	CHECK_THAT(r, ContainsSubstring("took longer than 300 ms"));
	CHECK_THAT(r, ContainsSubstring("the policy was not affected"));
	CHECK(took < 1500ms);
	CHECK(h.info("s").worker_pid == pid);
	CHECK(h.info("s").errors == 0);
	CHECK(h.eval("s", "ctx.state.n") == n0);	// not reset
}

TEST_CASE("a read-only evaluation does not hold the event loop or the policy's ticks", "[security][eval]")
{
	auto o = Harness::quiet_options();
	o.timers = true;
	Harness h(o);
	with_policy(h);
	std::optional<Result<std::string>> out;
	h.engine->eval("@s (function() while true do end end)()", Credentials::of_process(), false,
		       [&](Result<std::string> r) { out.emplace(std::move(r)); });
	auto ticks0 = h.info("s").ticks;
	int beats = 0;
	auto id = h.loop.add_timer(10ms, [&](uint64_t) { beats++; });
	REQUIRE(id.ok());
	REQUIRE(h.run_until([&] { return out.has_value(); }, 3s));
	h.loop.remove(*id);
	CHECK_FALSE(out->ok());
	CHECK(beats >= 70);	// ~100 in the second the evaluation ran
	CHECK(h.info("s").ticks - ticks0 >= 7);	// every 100 ms
}

TEST_CASE("read-only evaluations wait their turn and all are answered", "[security][eval]")
{
	Harness h;
	with_policy(h);
	std::vector<std::optional<Result<std::string>>> out(5);
	for (int i = 0; i < 5; i++)
		h.engine->eval("@s " + std::to_string(i) + " * 10", Credentials::of_process(), i % 2 == 0,
			       [&, i](Result<std::string> r) { out[i].emplace(std::move(r)); });
	REQUIRE(h.run_until([&] {
		for (auto &o : out)
			if (!o)
				return false;
		return true;
	}, 5s));
	for (int i = 0; i < 5; i++) {
		REQUIRE(out[i]->ok());
		CHECK(**out[i] == std::to_string(i * 10));
	}
}

TEST_CASE("too many evaluations waiting is a busy error, not a growing queue", "[security][eval]")
{
	auto o = Harness::quiet_options();
	o.max_queued_evals = 3;
	o.budget_limit = 200ms;
	Harness h(o);
	with_policy(h);
	int busy = 0, answered = 0;
	for (int i = 0; i < 6; i++)
		h.engine->eval("@s (function() while true do end end)()", Credentials::of_process(), false,
			       [&](Result<std::string> r) {
				       answered++;
				       if (!r && r.error().code == Errc::busy)
					       busy++;
			       });
	CHECK(busy == 3);
	REQUIRE(h.run_until([&] { return answered == 6; }, 5s));
}

TEST_CASE("a read-only evaluation sees the tasks and tickets", "[security][eval]")
{
	Harness h;
	with_policy(h);
	CHECK(ro(h, "#tasks") == "2");
	CHECK(ro(h, "tasks[2].pid + tasks[1].tickets") == "212");
	CHECK_THAT(ro(h, "tasks[1].tickets = 5"), ContainsSubstring("tickets cannot be set from `lua`"));
}
