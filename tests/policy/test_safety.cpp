// Nothing a policy does may crash, hang or corrupt the host: runaway loops
// (JIT-compiled), unbounded allocation, deep recursion, errors of every
// shape, a crashing worker. Each ends as a reported error; the tickets of
// the last good tick stay; the policy gets a fresh worker.
#include "fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;

namespace {

// a policy whose first tick sets 777 and whose later ticks run `bad`
std::string good_then(const std::string &bad)
{
	return "return { name = 'bad', interval_ms = 100, tick = function(tasks, ctx)\n"
	       "  if ctx.tick == 1 and (ctx.state.good or 0) == 0 then\n"
	       "    ctx.state.good = 1\n"
	       "    for i = 1, #tasks do tasks[i].tickets = 777 end\n"
	       "    return\n"
	       "  end\n" +
	       bad +
	       "\nend }\n";
}

struct Ran {
	Harness h;
	std::string path;
	Result<policy::TickReport> second = err("not run");
	std::chrono::milliseconds took{0};
	int pid_before = 0;

	explicit Ran(const std::string &bad, policy::EngineOptions o = Harness::quiet_options()) : h(o)
	{
		h.backend.add(0, 100);
		path = h.write("bad.lua", good_then(bad));
		if (auto l = h.engine->load(path); !l)
			FAIL("load: " << l.error().msg);
		REQUIRE(h.backend.ctl_tickets(0) == 777);
		pid_before = h.info("bad").worker_pid;
		auto t0 = std::chrono::steady_clock::now();
		second = h.engine->tick_now("bad");
		took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
	}

	// The host is fine: the last good tickets are in force and the policy
	// is served again. `fresh`: by a new worker (tick 1 again: good), else
	// by the same one (its state intact).
	void host_survives(bool fresh)
	{
		h.book.apply();
		CHECK(h.backend.ctl_tickets(0) == 777);
		REQUIRE(h.run_until([&] { return h.info("bad").worker_ready; }, 3s));
		if (fresh) {
			CHECK(h.info("bad").worker_pid != pid_before);
			CHECK(h.engine->tick_now("bad").ok());
			CHECK(h.eval("bad", "ctx.state.good") == "1");
		} else {
			CHECK(h.info("bad").worker_pid == pid_before);
			CHECK(h.eval("bad", "ctx.state.good + 1") == "2");
		}
		CHECK(h.backend.ctl_tickets(0) == 777);
	}
};

} // namespace

TEST_CASE("a JIT-compiled endless loop is stopped at the tick budget", "[safety][runaway]")
{
	Ran r("while true do end");	// compiled by LuaJIT after a few dozen iterations
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg,
		   ContainsSubstring(r.path + ": tick exceeded its time budget of 50.0 ms: stopped"));
	CHECK_THAT(r.second.error().msg, ContainsSubstring("the tickets of its last good tick stay in force"));
	CHECK(r.took >= 45ms);
	CHECK(r.took < 500ms);
	auto i = r.h.info("bad");
	CHECK(i.timeouts == 1);
	CHECK(r.h.engine->errors().back().kind == policy::ErrorKind::Timeout);
	r.host_survives(true);
}

TEST_CASE("an endless loop that calls functions and allocates is stopped too", "[safety][runaway]")
{
	Ran r("local t = {}\nwhile true do t[1] = { math.sin(#t) }; t = {} end");
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg, ContainsSubstring("exceeded its time budget"));
	r.host_survives(true);
}

TEST_CASE("a policy's own budget_ms sets its time budget, capped at 1 s", "[safety][runaway]")
{
	Harness h;
	h.backend.add(0, 100);
	auto path = h.write("b.lua", "return { name = 'b', interval_ms = 5000, budget_ms = 20,\n"
				     "  tick = function(tasks, ctx) while ctx.tick > 1 do end end }");
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.info("b").budget_ms == 20);
	auto t0 = std::chrono::steady_clock::now();
	auto r = h.engine->tick_now("b");
	auto took = std::chrono::steady_clock::now() - t0;
	REQUIRE_FALSE(r.ok());
	CHECK(took < 300ms);
	path = h.write("c.lua", "return { name = 'c', interval_ms = 60000, tick = function() end }");
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.info("c").budget_ms == 1000);	// half of 60 s, but the hard limit is 1 s
}

TEST_CASE("an endless loop in init fails the load within the init budget", "[safety][runaway]")
{
	auto o = Harness::quiet_options();
	o.init_budget = 200ms;
	Harness h(o);
	auto path = h.write("i.lua", "return { tick = function() end, init = function() while true do end end }");
	auto t0 = std::chrono::steady_clock::now();
	auto r = h.engine->load(path);
	CHECK(std::chrono::steady_clock::now() - t0 < 1s);
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring(path + ": compile + init took longer than 200 ms"));
	CHECK(h.engine->list().empty());
}

TEST_CASE("an endless loop at the top level of the file fails the load", "[safety][runaway]")
{
	auto o = Harness::quiet_options();
	o.init_budget = 200ms;
	Harness h(o);
	auto r = h.engine->load(h.write("i.lua", "while true do end"));
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("took longer than 200 ms"));
}

TEST_CASE("the host keeps serving its event loop while a policy runs away", "[safety][runaway]")
{
	auto o = Harness::quiet_options();
	o.timers = true;
	Harness h(o);
	h.backend.add(0, 100);
	REQUIRE(h.engine->load(h.write("r.lua", "return { name = 'r', interval_ms = 100,\n"
						"  tick = function(tasks, ctx) while ctx.dt > 0 do end end }"))
			.ok());	// its first tick (in the load, dt 0) passes; every later one loops
	int beats = 0;
	auto id = h.loop.add_timer(10ms, [&](uint64_t) { beats++; });
	REQUIRE(id.ok());
	h.run_for(1000ms);
	h.loop.remove(*id);
	CHECK(beats >= 80);	// 100 expected; a blocked loop would manage ~50 or fewer
	auto i = h.info("r");
	CHECK(i.timeouts >= 4);
	CHECK(i.ticks == 1);	// the load's
}

TEST_CASE("allocating without bound hits the memory cap", "[safety][memory]")
{
	auto o = Harness::quiet_options();
	o.memory_cap = 32u << 20;
	o.budget_fraction = 10;	// the full 1 s: the cap, not the clock, must stop it
	Ran r("local t = {}\nwhile true do t[#t + 1] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 } end", o);
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg,
		   ContainsSubstring(r.path + ": not enough memory: the policy reached its memory cap of 32 MiB"));
	CHECK(r.h.engine->errors().back().kind == policy::ErrorKind::Memory);
	r.host_survives(true);
}

TEST_CASE("one huge allocation hits the memory cap", "[safety][memory]")
{
	auto o = Harness::quiet_options();
	o.memory_cap = 32u << 20;
	o.budget_fraction = 10;
	Ran r("local s = string.rep('x', 2^30)", o);
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg, ContainsSubstring("memory cap of 32 MiB"));
	r.host_survives(true);
}

TEST_CASE("ctx.state growing across ticks hits the memory cap and restarts the worker", "[safety][memory]")
{
	auto o = Harness::quiet_options();
	o.memory_cap = 16u << 20;
	o.budget_fraction = 10;
	Harness h(o);
	auto path = h.write("g.lua", policy_src("g", R"(
		ctx.state.junk = ctx.state.junk or {}
		for i = 1, 100000 do ctx.state.junk[#ctx.state.junk + 1] = { i } end
	)"));
	REQUIRE(h.engine->load(path).ok());
	bool failed = false;
	for (int i = 0; i < 20 && !failed; i++)
		failed = !h.engine->tick_now("g").ok();
	REQUIRE(failed);
	CHECK(h.engine->errors().back().kind == policy::ErrorKind::Memory);
	REQUIRE(h.run_until([&] { return h.info("g").worker_ready; }, 3s));
	CHECK(h.engine->tick_now("g").ok());	// a fresh worker, an empty ctx.state
}

TEST_CASE("deep recursion ends with a stack overflow error at its line", "[safety]")
{
	Ran r("local function f(n) return 1 + f(n + 1) end\nf(1)");
	REQUIRE_FALSE(r.second.ok());
	// with the line when LuaJIT has room to run the message handler (the
	// usual case), without when the recursion used every last slot
	CHECK_THAT(r.second.error().msg, ContainsSubstring(r.path + ":7: stack overflow") ||
						 ContainsSubstring(r.path + ": stack overflow (recursion too deep"));
	r.host_survives(true);	// LuaJIT's stack stays at overflow size: a fresh worker
}

TEST_CASE("recursion through metamethods and pcall is caught", "[safety]")
{
	Ran r("local t = setmetatable({}, { __index = function(t, k) return t[k] end })\n"
	      "local function g() return pcall(g) end\n"
	      "g()\n"
	      "return t.x");
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg, ContainsSubstring("overflow"));
	CHECK_THAT(r.second.error().msg, ContainsSubstring(r.path + ":7:"));
	r.host_survives(true);
}

TEST_CASE("error() with any value reports file:line", "[safety][errors]")
{
	struct Case {
		const char *raise, *want;
	} cases[] = {
		{"error('plain')", ":7: plain"},
		{"error({ code = 5 })", ":7: error object is a table value, not a message"},
		{"error(nil)", ":7: error object is a nil value, not a message"},
		{"error(42)", ":7: 42"},
		{"error(true)", ":7: error object is a boolean value, not a message"},
		{"error(setmetatable({}, { __tostring = function() error('in tostring') end }))",
		 ":7: error object is a table value, not a message"},
		{"error(setmetatable({}, { __tostring = function() while true do end end }))",
		 ":7: error object is a table value, not a message"},
		{"error('no position', 0)", ":7: no position"},
		{"local x = nil; x.field = 1", ":7: attempt to index local 'x' (a nil value)"},
		{"local x = {} .. 'a'", ":7: attempt to concatenate"},
		{"error(coroutine.create(function() end))", ":7: error object is a thread value"},
	};
	for (auto &c : cases) {
		INFO(c.raise);
		Ran r(c.raise);
		REQUIRE_FALSE(r.second.ok());
		CHECK_THAT(r.second.error().msg, ContainsSubstring(r.path + c.want));
		CHECK(r.h.engine->errors().back().kind == policy::ErrorKind::Tick);
		// the same worker goes on: plain errors do not cost the policy its state
		r.host_survives(false);
	}
}

TEST_CASE("an error inside the policy's own error handler is reported", "[safety][errors]")
{
	Ran r("local ok, e = xpcall(function() error('first') end, function(m) error({}) end)\n"
	      "error(e)");
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg, ContainsSubstring(r.path + ":8: error in error handling"));
	r.host_survives(false);
}

TEST_CASE("errors in init and at the top level carry file:line", "[safety][errors]")
{
	Harness h;
	auto p1 = h.write("a.lua", "return {\n  tick = function() end,\n  init = function(ctx)\n    error('init broke')\n  end }");
	auto r = h.engine->load(p1);
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring(p1 + ":4: init broke"));
	CHECK(h.engine->errors().back().kind == policy::ErrorKind::Init);
	auto p2 = h.write("b.lua", "local x = 1\nlocal y = x + nil\nreturn {}");
	r = h.engine->load(p2);
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring(p2 + ":2: attempt to perform arithmetic on a nil value"));
	CHECK(h.engine->errors().back().kind == policy::ErrorKind::Policy);
	auto p3 = h.write("c.lua", "return {\n  tick = function()\n    if then\n  end }");
	r = h.engine->load(p3);
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring(p3 + ":3: unexpected symbol near 'then'"));
	CHECK(h.engine->errors().back().kind == policy::ErrorKind::Compile);
}

TEST_CASE("a crashing worker is reported and replaced", "[safety]")
{
	auto o = Harness::quiet_options();
	o.unsafe = true;	// only ffi can crash LuaJIT on purpose
	Ran r("require('ffi').cast('int *', 0)[0] = 1", o);
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg, ContainsSubstring(kSegvDeath));
	CHECK(r.h.engine->errors().back().kind == policy::ErrorKind::Crash);
	r.host_survives(true);
}

TEST_CASE("a worker that exits on its own is reported and replaced", "[safety]")
{
	auto o = Harness::quiet_options();
	o.unsafe = true;
	Ran r("os.exit(3)", o);
	REQUIRE_FALSE(r.second.ok());
	CHECK_THAT(r.second.error().msg, ContainsSubstring("exited with status 3"));
	r.host_survives(true);
}
