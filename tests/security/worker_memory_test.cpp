// issue 9, "Memory safety of the policy worker". LuaJIT 2.1 as Debian ships
// it anchors the FFI's metatype table and its finalizer table only through
// the environments of the ffi module's own functions: once nothing reaches
// the module (the sandbox prelude drops package.loaded.ffi; an unsafe policy
// may do the same), the next full GC frees them while the task proxies still
// use them. A 10 MB string or a stack overflow caught with pcall brought that
// GC cycle: "'struct 118' has no member named 'tickets'", then SIGSEGV.
// Under ASan (scripts/test.sh --asan) the freed tables are filled with 0xbe
// and the worker dies with an AddressSanitizer SEGV report instead.
// A __gc metamethod that raised an error while the worker's C++ code (not a
// Lua call) allocated took the worker down with no file:line.
#include "../policy/fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;

namespace {

// n ticks of `name`; every one must succeed on the same worker, and every
// task must end with `tickets`
void ticks_stay_good(Harness &h, const std::string &name, int n, uint32_t tickets)
{
	int pid = h.info(name).worker_pid;
	for (int i = 0; i < n; i++) {
		auto r = h.engine->tick_now(name);
		if (!r.ok())
			FAIL("tick " << i + 1 << " of " << n << ": " << r.error().msg);
	}
	CHECK(h.info(name).worker_pid == pid);
	CHECK(h.info(name).errors == 0);
	h.book.apply();
	for (uint32_t s = 0; s < 4; s++)
		CHECK(h.backend.ctl_tickets(s) == tickets);
}

Harness &four_tasks(Harness &h)
{
	for (uint32_t s = 0; s < 4; s++)
		h.backend.add(s, 100 + s);
	return h;
}

policy::EngineOptions unsafe()
{
	auto o = Harness::quiet_options();
	o.unsafe = true;
	return o;
}

} // namespace

TEST_CASE("a policy that makes a 10 MB string every tick keeps its task proxies", "[security][worker]")
{
	Harness h;
	four_tasks(h);
	auto path = h.write("big.lua", policy_src("big", R"(
		local s = string.rep("x", 10 * 1000 * 1000)
		for i = 1, #tasks do tasks[i].tickets = 100 + #s % 7 end)"));
	REQUIRE(h.engine->load(path).ok());
	ticks_stay_good(h, "big", 12, 100 + 10000000 % 7);
}

TEST_CASE("a policy that catches a stack overflow with pcall keeps its task proxies", "[security][worker]")
{
	Harness h;
	four_tasks(h);
	auto path = h.write("so.lua", policy_src("so", R"(
		local ok, e = pcall(deep, 1)
		assert(not ok and tostring(e):find("stack overflow"))
		for i = 1, #tasks do tasks[i].tickets = 123 end)",
						 100, "") .insert(0, "local function deep(n) return deep(n + 1) + 1 end\n"));
	REQUIRE(h.engine->load(path).ok());
	ticks_stay_good(h, "so", 12, 123);
}

TEST_CASE("a bigger memory cap does not hide it", "[security][worker]")
{
	auto o = Harness::quiet_options();
	o.memory_cap = size_t(512) << 20;
	o.budget_fraction = 10;
	Harness h(o);
	four_tasks(h);
	auto path = h.write("big.lua", policy_src("big", R"(
		local t = {}
		for k = 1, 4 do t[k] = string.rep(tostring(k), 10 * 1000 * 1000) end
		for i = 1, #tasks do tasks[i].tickets = 200 end)"));
	REQUIRE(h.engine->load(path).ok());
	ticks_stay_good(h, "big", 8, 200);
}

TEST_CASE("an unsafe policy that drops package.loaded.ffi keeps its task proxies", "[security][worker]")
{
	Harness h(unsafe());
	four_tasks(h);
	auto path = h.write("noffi.lua", policy_src("noffi", R"(
		package.loaded.ffi = nil
		collectgarbage(); collectgarbage()
		local junk = {}
		for k = 1, 20000 do junk[k] = { k } end
		for i = 1, #tasks do tasks[i].tickets = 321 end)"));
	REQUIRE(h.engine->load(path).ok());
	ticks_stay_good(h, "noffi", 10, 321);
}

TEST_CASE("`lua` after such ticks still sees the task proxies", "[security][worker]")
{
	Harness h;
	four_tasks(h);
	auto path = h.write("big.lua", policy_src("big", R"(
		local s = string.rep("y", 10 * 1000 * 1000)
		for i = 1, #tasks do tasks[i].tickets = 150 end)"));
	REQUIRE(h.engine->load(path).ok());
	for (int i = 0; i < 6; i++)
		REQUIRE(h.engine->tick_now("big").ok());
	CHECK(h.eval("big", "tasks[1].tickets + tasks[4].pid") == "253");
	CHECK(h.eval("big", "tostring(tasks[2])") == "\"task(pid=101, comm=task, nice=0, tickets=150)\"");
}

TEST_CASE("a __gc metamethod that raises is reported with its file:line, wherever the GC runs",
	  "[security][worker]")
{
	Harness h(unsafe());
	four_tasks(h);
	// garbage with raising finalizers, made under a pcall that succeeds:
	// the GC runs them later, at some allocation of the tick, of the
	// worker's own code or of a `lua` evaluation. Made from the second
	// tick on: whether the load's own tick meets one depends on where the
	// GC's pacing stands, which any change to the prelude moves.
	auto path = h.write("gc.lua", "local function junk()\n"
				      "  for i = 1, 300 do\n"
				      "    local p = newproxy(true)\n"
				      "    getmetatable(p).__gc = function() error('finalizer failed') end\n"
				      "  end\n"
				      "end\n" +
					      policy_src("gc", "if ctx.tick > 1 then pcall(junk) end\n"
							       "for i = 1, #tasks do tasks[i].tickets = 400 end"));
	REQUIRE(h.engine->load(path).ok());
	int crashes = 0;
	for (int i = 0; i < 15; i++) {
		auto r = h.engine->tick_now("gc");
		if (!r.ok()) {
			CHECK_THAT(r.error().msg, ContainsSubstring(path + ":4: finalizer failed"));
		}
		std::string v = h.eval("gc", "string.rep('ab', 2000):sub(1, 4)");
		CHECK((v == "\"abab\"" || v.find(path + ":4: finalizer failed") != std::string::npos));
		h.run_until([&] { return h.info("gc").worker_ready; }, 2s);
	}
	for (auto &e : h.engine->errors()) {
		INFO(e.message);
		if (e.kind == policy::ErrorKind::Crash)
			crashes++;
	}
	CHECK(crashes == 0);
}

TEST_CASE("a __gc metamethod that loops is stopped at the budget like any loop", "[security][worker]")
{
	Harness h(unsafe());
	four_tasks(h);
	auto path = h.write("gcl.lua", "local function junk()\n"
				       "  local p = newproxy(true)\n"
				       "  getmetatable(p).__gc = function() while true do end end\n"
				       "end\n" +
					       policy_src("gcl", "if ctx.tick > 1 then junk(); collectgarbage() end\n"
								 "for i = 1, #tasks do tasks[i].tickets = 400 end"));
	REQUIRE(h.engine->load(path).ok());
	auto r = h.engine->tick_now("gcl");
	for (int i = 0; i < 2 && r.ok(); i++)
		r = h.engine->tick_now("gcl");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("exceeded its time budget"));
	REQUIRE(h.run_until([&] { return h.info("gcl").worker_ready; }, 3s));
	for (auto &e : h.engine->errors())
		CHECK(e.kind != policy::ErrorKind::Crash);
	h.book.apply();
	CHECK(h.backend.ctl_tickets(0) == 400);	// the first tick's tickets stay
}
