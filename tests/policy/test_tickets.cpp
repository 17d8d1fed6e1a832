// Ticket validation: every kind of bad value is refused with the policy, the
// pid and the value named; the whole tick's output is dropped and the
// tickets of the last good tick stay in force.
#include "fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("an invalid ticket value fails the tick and the previous tickets stay", "[tickets]")
{
	struct Bad {
		const char *lua, *shown;
	};
	auto bad = GENERATE(Bad{"0", "0"}, Bad{"-5", "-5"}, Bad{"1.5", "1.5"}, Bad{"1000001", "1000001"},
			    Bad{"0/0", "nan"}, Bad{"math.huge", "inf"}, Bad{"-math.huge", "-inf"},
			    Bad{"'100'", "\"100\" (a string)"}, Bad{"nil", "nil"}, Bad{"true", "true"},
			    Bad{"{}", "a table value"}, Bad{"tasks[1]", "a cdata value"});
	INFO(bad.lua);
	Harness h;
	h.backend.add(0, 100, 0, 1000, "good");
	h.backend.add(1, 4711, 0, 1000, "victim");
	// tick 1 is good; tick 2 changes the first task, then sets a bad value
	auto path = h.write("v.lua", std::string("return { name = 'val', tick = function(tasks, ctx)\n"
						 "  if ctx.tick == 1 then\n"
						 "    tasks[1].tickets = 300; tasks[2].tickets = 301\n"
						 "  else\n"
						 "    tasks[1].tickets = 999\n"
						 "    tasks[2].tickets = ") + bad.lua + "\n"
						 "  end\n"
						 "end }\n");
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.backend.ctl_tickets(0) == 300);
	CHECK(h.backend.ctl_tickets(1) == 301);

	auto r = h.engine->tick_now("val");
	REQUIRE_FALSE(r.ok());
	const std::string &m = r.error().msg;
	CHECK_THAT(m, ContainsSubstring(path + ":6: policy val: invalid tickets " + std::string(bad.shown) +
					" for pid 4711 (victim)"));
	CHECK_THAT(m, ContainsSubstring("an integer in 1..1000000"));
	// nothing of tick 2 took effect, not even the valid 999
	h.book.apply();
	CHECK(h.backend.ctl_tickets(0) == 300);
	CHECK(h.backend.ctl_tickets(1) == 301);
	auto i = h.info("val");
	CHECK(i.errors == 1);
	CHECK(i.last_error == m);
	REQUIRE(h.engine->errors().size() == 1);
	CHECK(h.engine->errors()[0].kind == policy::ErrorKind::Tick);
	CHECK_THAT(h.engine->errors()[0].traceback, ContainsSubstring("stack traceback:"));
	// the worker lives on: the next tick runs (and fails the same way)
	CHECK(h.info("val").worker_pid == i.worker_pid);
}

TEST_CASE("the extreme valid ticket values are accepted", "[tickets]")
{
	Harness h;
	h.backend.add(0, 100);
	h.backend.add(1, 101);
	auto path = h.write("v.lua", policy_src("ok", "tasks[1].tickets = 1; tasks[2].tickets = 1e6"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.backend.ctl_tickets(0) == 1);
	CHECK(h.backend.ctl_tickets(1) == 1000000);
}

TEST_CASE("only tickets that change are written to the control table", "[tickets]")
{
	Harness h;
	for (uint32_t s = 0; s < 100; s++)
		h.backend.add(s, 1000 + s);
	auto path = h.write("v.lua", policy_src("ch", R"(
		for i = 1, #tasks do tasks[i].tickets = (i <= ctx.tick) and 500 or 200 end
	)"));
	std::vector<policy::TickReport> reps;
	size_t written = 0;
	h.engine->set_after_tick([&](const policy::TickReport &r) {
		reps.push_back(r);
		written = h.book.apply();
	});
	REQUIRE(h.engine->load(path).ok());	// its first tick
	CHECK(written == 100);	// 200 everywhere but task 1 (500)
	REQUIRE(h.engine->tick_now("ch").ok());
	CHECK(written == 1);	// only task 2 changed (200 -> 500)
	CHECK(reps.back().assigned == 100);
}
