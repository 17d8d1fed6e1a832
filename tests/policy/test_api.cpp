// The policy API as policies/README.md documents it: the policy table,
// tasks[i] (every field), ctx (every field), outputs and combining.
#include "fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("a policy table loads with its name, interval, budget and description", "[api]")
{
	Harness h;
	auto path = h.write("p.lua", policy_src("mine", "", 250,
						"  budget_ms = 30,\n  description = \"a test policy\",\n"));
	auto r = h.engine->load(path);
	REQUIRE(r.ok());
	CHECK(*r == "mine");
	auto i = h.info("mine");
	CHECK(i.path == path);
	CHECK(i.interval_ms == 250);
	CHECK(i.budget_ms == 30);
	CHECK(i.description == "a test policy");
	CHECK(i.version == 1);
	CHECK(i.running);
	CHECK(i.worker_pid > 0);
	CHECK(i.errors == 0);
}

TEST_CASE("name defaults to the file name, interval to 1000 ms, budget to half the interval", "[api]")
{
	Harness h;
	auto path = h.write("my_policy.lua", "return { tick = function(tasks, ctx) end }\n");
	auto r = h.engine->load(path);
	REQUIRE(r.ok());
	CHECK(*r == "my_policy");
	auto i = h.info("my_policy");
	CHECK(i.interval_ms == 1000);
	CHECK(i.budget_ms == 500);
}

TEST_CASE("a malformed policy table is refused with file and reason", "[api]")
{
	Harness h;
	struct Case {
		const char *src, *want;
	} cases[] = {
		{"return 5", "must return a table"},
		{"return {}", "tick must be a function"},
		{"return { tick = 1 }", "tick must be a function"},
		{"return { tick = function() end, init = 5 }", "init must be a function"},
		{"return { tick = function() end, interval_ms = 5 }", "interval_ms must be an integer"},
		{"return { tick = function() end, interval_ms = 100.5 }", "interval_ms must be an integer"},
		{"return { tick = function() end, interval_ms = 'x' }", "interval_ms must be an integer"},
		{"return { tick = function() end, name = 'has space' }", "name must be a string"},
		{"return { tick = function() end, budget_ms = 5000 }", "budget_ms must be a number"},
		{"return { tick = function() end, description = 3 }", "description must be a string"},
	};
	for (auto &c : cases) {
		auto path = h.write("bad.lua", c.src);
		auto r = h.engine->load(path);
		INFO(c.src);
		REQUIRE_FALSE(r.ok());
		CHECK_THAT(r.error().msg, ContainsSubstring(path + ": ") && ContainsSubstring(c.want));
	}
	CHECK(h.engine->list().empty());
	CHECK(h.engine->errors().size() == std::size(cases));
}

TEST_CASE("an unknown field in the policy table is logged as a warning", "[api]")
{
	Harness h;
	auto path = h.write("p.lua", "return { tick = function() end, intervall_ms = 5 }");
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.log.contains("unknown policy field \"intervall_ms\""));
}

TEST_CASE("two policies cannot share a name", "[api]")
{
	Harness h;
	REQUIRE(h.engine->load(h.write("a.lua", policy_src("same", ""))).ok());
	auto r = h.engine->load(h.write("b.lua", policy_src("same", "")));
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("\"same\" is already used by"));
	REQUIRE_FALSE(h.engine->load(h.dir.file("a.lua")).ok());	// the same file twice
}

TEST_CASE("tasks[i] gives every field of the task in its slot", "[api]")
{
	Harness h;
	auto &s = h.backend.add(3, 4242, -5, 1001, "worker-thread");
	s.tgid = 4200;
	s.cgroup_id = 77;
	s.runtime_ns = 123456789;
	s.wins = 11;
	s.wait_ns = 5000;
	s.wait_max_ns = 3000;
	s.waits = 2;
	s.rescues = 1;
	s.last_cpu = 2;
	s.tickets = 99;
	auto path = h.write("p.lua", policy_src("f", R"(
		local t = tasks[1]
		ctx.state.f = { pid = t.pid, tgid = t.tgid, comm = t.comm, uid = t.uid, nice = t.nice,
			cgroup = t.cgroup, runtime_ns = t.runtime_ns, runtime_delta_ns = t.runtime_delta_ns,
			wins = t.wins, wait_ns = t.wait_ns, wait_max_ns = t.wait_max_ns, waits = t.waits,
			rescues = t.rescues, last_cpu = t.last_cpu, drawn_tickets = t.drawn_tickets,
			slot = t.slot, tickets = t.tickets, n = #tasks }
	)"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.eval("f", "ctx.state.f") ==
	      "{cgroup = 77, comm = \"worker-thread\", drawn_tickets = 99, last_cpu = 2, n = 1, nice = -5, "
	      "pid = 4242, rescues = 1, runtime_delta_ns = 0, runtime_ns = 123456789, slot = 3, tgid = 4200, "
	      "tickets = 99, uid = 1001, wait_max_ns = 3000, wait_ns = 5000, waits = 2, wins = 11}");
}

TEST_CASE("a full 16-byte comm is read without running past it", "[api]")
{
	Harness h;
	auto &s = h.backend.add(0, 10, 0);
	memcpy(s.comm, "0123456789abcdef", 16);	// no NUL inside the field
	s.cgroup_id = 0x4142434445464748ull;	// the bytes right after comm are not text
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("c", "ctx.state.c = tasks[1].comm"))).ok());
	CHECK(h.eval("c", "ctx.state.c") == "\"0123456789abcdef\"");
}

TEST_CASE("#tasks counts the used slots and tasks[i] skips free ones", "[api]")
{
	Harness h;
	h.backend.add(0, 100);
	h.backend.add(2, 102);
	h.backend.add(5, 105);
	h.backend.add(6, 106);
	h.backend.remove(6);
	auto path = h.write("p.lua", policy_src("n", R"(
		local pids = {}
		for i = 1, #tasks do pids[i] = tasks[i].pid end
		ctx.state.pids = pids
		ctx.state.outside = { tasks[0] == nil, tasks[4] == nil, tasks[1.5] == nil, tasks.x == nil,
			tasks[-1] == nil }
	)"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.eval("n", "#tasks") == "3");
	CHECK(h.eval("n", "ctx.state.pids") == "{[1] = 100, [2] = 102, [3] = 105}");
	CHECK(h.eval("n", "ctx.state.outside") == "{[1] = true, [2] = true, [3] = true, [4] = true, [5] = true}");
}

TEST_CASE("runtime_delta_ns is the runtime since the policy's previous tick", "[api]")
{
	Harness h;
	h.backend.add(0, 100).runtime_ns = 1000000;
	h.backend.add(1, 101).runtime_ns = 5000000;
	auto path = h.write("p.lua", policy_src("d", R"(
		local d = {}
		for i = 1, #tasks do d[tasks[i].pid] = tasks[i].runtime_delta_ns end
		ctx.state.d = d
		ctx.state.dt = ctx.dt
	)"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.eval("d", "ctx.state.d") == "{[100] = 0, [101] = 0}");	// first tick: no earlier snapshot
	CHECK(h.eval("d", "ctx.state.dt") == "0");

	h.backend.at(0).runtime_ns += 2500000;
	h.backend.add(1, 201).runtime_ns = 700;	// slot reused by a new task (new gen)
	h.backend.add(2, 102).runtime_ns = 900;	// a task that arrived
	REQUIRE(h.engine->tick_now("d").ok());
	CHECK(h.eval("d", "ctx.state.d") == "{[100] = 2500000, [102] = 900, [201] = 700}");
	CHECK(h.eval("d", "ctx.state.dt > 0 and ctx.state.dt < 5") == "true");

	REQUIRE(h.engine->tick_now("d").ok());
	CHECK(h.eval("d", "ctx.state.d") == "{[100] = 0, [102] = 0, [201] = 0}");
}

TEST_CASE("tickets start from the tickets in force and only assigned ones become the output", "[api]")
{
	Harness h;
	h.backend.add(0, 100, 0);
	h.backend.add(1, 101, 5);
	auto path = h.write("p.lua", policy_src("t", R"(
		local seen = {}
		for i = 1, #tasks do
			local t = tasks[i]
			seen[i] = t.tickets
			if t.nice > 0 then t.tickets = 42 end
			seen[i + 2] = t.tickets
		end
		ctx.state.seen = seen
	)"));
	REQUIRE(h.engine->load(path).ok());
	auto rep = h.engine->tick_now("t");
	REQUIRE(rep.ok());
	CHECK(rep->tasks == 2);
	CHECK(rep->assigned == 1);
	CHECK(h.eval("t", "ctx.state.seen") == "{[1] = 100, [2] = 100, [3] = 100, [4] = 42}");
	CHECK(h.backend.ctl_tickets(1) == 42);
	CHECK(h.backend.ctl_tickets(0) == 0);	// nothing to write: the core's default stays
	CHECK(h.book.source(1) == "policy t");
	CHECK(h.book.source(0) == "default");
}

TEST_CASE("ctx gives name, interval, ncpus, now, time, dt, tick and state across ticks", "[api]")
{
	Harness h(Harness::quiet_options(), 6);
	auto path = h.write("p.lua", policy_src("c", R"(
		ctx.state.count = (ctx.state.count or 0) + 1
		ctx.state.seen = { name = ctx.name, interval = ctx.interval_ms, ncpus = ctx.ncpus,
			tick = ctx.tick, now_ok = ctx.now > 0, time_ok = math.abs(ctx.time - os.time()) < 5,
			min = ctx.tickets_min, max = ctx.tickets_max }
		ctx.interval_ms = 1  -- a policy scribbling on ctx does not change its schedule
	)", 300));
	REQUIRE(h.engine->load(path).ok());
	for (int i = 0; i < 2; i++)	// tick 1 is part of the load
		REQUIRE(h.engine->tick_now("c").ok());
	CHECK(h.eval("c", "ctx.state.count") == "3");
	CHECK(h.eval("c", "ctx.state.seen") ==
	      "{interval = 300, max = 1000000, min = 1, name = \"c\", ncpus = 6, now_ok = true, tick = 3, "
	      "time_ok = true}");
	CHECK(h.info("c").interval_ms == 300);
}

TEST_CASE("init runs once with ctx before the first tick", "[api]")
{
	Harness h;
	auto path = h.write("p.lua", policy_src("i", "ctx.state.ticks = ctx.state.ticks + 1", 100,
						"  init = function(ctx) ctx.state.ticks = 0; ctx.state.init_tick = ctx.tick end,\n"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.eval("i", "ctx.state.ticks") == "1");	// init, then the load's first tick
	REQUIRE(h.engine->tick_now("i").ok());
	REQUIRE(h.engine->tick_now("i").ok());
	CHECK(h.eval("i", "ctx.state.ticks") == "3");
	CHECK(h.eval("i", "ctx.state.init_tick") == "0");
}

TEST_CASE("ctx.nice_to_weight is the kernel's sched_prio_to_weight table", "[api]")
{
	Harness h;
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("w", ""))).ok());
	CHECK(h.eval("w", "ctx.nice_to_weight(0)") == "1024");
	CHECK(h.eval("w", "ctx.nice_to_weight(-20)") == "88761");
	CHECK(h.eval("w", "ctx.nice_to_weight(19)") == "15");
	CHECK(h.eval("w", "ctx.nice_to_weight(5)") == "335");
	CHECK(h.eval("w", "ctx.nice_to_weight(-1)") == "1277");
	CHECK(h.eval("w", "ctx.nice_to_weight(40)") == "15");	// clamped like the kernel's nice range
	CHECK(h.eval("w", "ctx.nice_to_weight(-99)") == "88761");
	CHECK_THAT(h.eval("w", "ctx.nice_to_weight('x')"), ContainsSubstring("nice must be a number"));
}

TEST_CASE("ctx.log and print reach the host log tagged with the policy name", "[api]")
{
	Harness h;
	auto path = h.write("p.lua", policy_src("lg", R"(
		ctx.log("warn", "hello %d", 42)
		ctx.log("just text")
		print("printed", 1, true)
	)"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.log.contains("warning: policy lg: hello 42"));
	CHECK(h.log.contains("info: policy lg: just text"));
	CHECK(h.log.contains("info: policy lg: printed\t1\ttrue"));
	CHECK_THAT(h.eval("lg", "ctx.log('loud', 'x')"), ContainsSubstring("ctx.log: level must be one of"));
}

TEST_CASE("a flood of log lines is capped per tick and the rest counted", "[api]")
{
	Harness h;
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("fl", "for i = 1, 1000 do ctx.log('info', 'line') end")))
			.ok());
	REQUIRE(h.engine->tick_now("fl").ok());
	CHECK(h.log.contains("policy fl: 900 more log lines dropped"));
}

TEST_CASE("policies combine in load order, each seeing the tickets the previous left", "[api]")
{
	Harness h;
	h.backend.add(0, 100);
	h.backend.add(1, 101);
	REQUIRE(h.engine->load(h.write("a.lua", policy_src("a", "for i = 1, #tasks do tasks[i].tickets = 200 end")))
			.ok());
	REQUIRE(h.engine->load(h.write("b.lua", policy_src("b", R"(
		local t = tasks[1]
		t.tickets = t.tickets * 2
	)"))).ok());
	REQUIRE(h.engine->tick_now("a").ok());
	REQUIRE(h.engine->tick_now("b").ok());
	CHECK(h.backend.ctl_tickets(0) == 400);	// b's opinion, from a's 200
	CHECK(h.backend.ctl_tickets(1) == 200);	// b said nothing: a's stays
	CHECK(h.book.source(0) == "policy b");
	CHECK(h.book.source(1) == "policy a");

	SECTION("a pin from the REPL overrides every policy until unpinned")
	{
		REQUIRE(h.book.pin(100, 7).ok());
		REQUIRE(h.engine->tick_now("b").ok());
		CHECK(h.backend.ctl_tickets(0) == 7);
		REQUIRE(h.book.unpin(100).ok());
		REQUIRE(h.engine->tick_now("b").ok());
		CHECK(h.backend.ctl_tickets(0) == 400);
	}
	SECTION("unloading a policy drops its opinions")
	{
		REQUIRE(h.engine->unload("b").ok());
		h.book.apply();
		CHECK(h.backend.ctl_tickets(0) == 200);
		REQUIRE(h.engine->unload("a").ok());
		h.book.apply();
		CHECK(h.backend.ctl_tickets(0) == LOTTO_TICKETS_DEFAULT);
		CHECK(h.engine->list().empty());
		CHECK_FALSE(h.engine->unload("a").ok());
	}
}

TEST_CASE("the after-tick hook replaces the engine's own apply", "[api]")
{
	Harness h;
	h.backend.add(0, 100);
	std::vector<policy::TickReport> seen;
	h.engine->set_after_tick([&](const policy::TickReport &r) { seen.push_back(r); });
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("k", "tasks[1].tickets = 55"))).ok());
	REQUIRE(seen.size() == 1);
	CHECK(seen[0].name == "k");
	CHECK(seen[0].index == 1);
	CHECK(seen[0].version == 1);
	CHECK(seen[0].tasks == 1);
	CHECK(seen[0].assigned == 1);
	CHECK(seen[0].total_us >= seen[0].worker_us);
	CHECK(h.backend.ctl_tickets(0) == 0);	// the hook did not apply
	h.book.apply();
	CHECK(h.backend.ctl_tickets(0) == 55);
}

TEST_CASE("a task from an earlier tick cannot be used", "[api]")
{
	Harness h;
	h.backend.add(0, 100);
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("s", R"(
		if ctx.state.old then return ctx.state.old.pid end
		ctx.state.old = tasks[1]
	)"))).ok());	// its first tick keeps tasks[1]
	auto r = h.engine->tick_now("s");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("p.lua:6: a task from an earlier tick was used"));
}

TEST_CASE("fields other than tickets are read-only and unknown fields are errors", "[api]")
{
	Harness h;
	h.backend.add(0, 100);
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("ro", R"(
		if ctx.tick == 2 then tasks[1].nice = 3 end
		if ctx.tick == 3 then local x = tasks[1].nicee end
		if ctx.tick == 4 then tasks[1] = 5 end
	)"))).ok());	// tick 1, part of the load, does nothing
	auto r = h.engine->tick_now("ro");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("p.lua:6: tasks[i].nice is read-only"));
	r = h.engine->tick_now("ro");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("p.lua:7: tasks[i] has no field \"nicee\""));
	r = h.engine->tick_now("ro");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("p.lua:8: tasks is read-only"));
}

TEST_CASE("lua EXPR reads a policy's view and writes only as admin", "[api][eval]")
{
	Harness h;
	h.backend.add(0, 100, 3, 1000, "bash");
	REQUIRE(h.engine->load(h.write("p.lua", policy_src("e", "ctx.state.n = #tasks", 100,
							   "  init = function(ctx) helper_value = 9 end,\n"))).ok());
	REQUIRE(h.engine->tick_now("e").ok());
	CHECK(h.eval("e", "1 + 2") == "3");
	CHECK(h.eval("e", "tasks[1].comm, tasks[1].nice") == "\"bash\"\t3");
	CHECK(h.eval("e", "helper_value") == "9");
	CHECK(h.eval("e", "ctx.state", false) == "{n = 1}");
	CHECK(h.eval("e", "policy.interval_ms", false) == "100");
	CHECK_THAT(h.eval("e", "ctx.state.n = 5", false), ContainsSubstring("permission denied"));
	CHECK_THAT(h.eval("e", "helper_value = 5", false), ContainsSubstring("permission denied"));
	CHECK(h.eval("e", "ctx.state.n", false) == "1");
	CHECK(h.eval("e", "ctx.state.n = 5", true) == "");
	CHECK(h.eval("e", "ctx.state.n") == "5");
	CHECK_THAT(h.eval("e", "tasks[1].tickets = 5"), ContainsSubstring("pin them with `tickets PID N`"));
	CHECK_THAT(h.eval("e", "1 +"), ContainsSubstring("lua:1:"));
	CHECK_THAT(h.eval("e", "error('boom')"), ContainsSubstring("lua:1: boom"));
	// without @NAME: the first policy
	auto r = h.engine->eval("ctx.name", false);
	REQUIRE(r.ok());
	CHECK(*r == "\"e\"");
	CHECK_FALSE(h.engine->eval("@nope 1", true).ok());
}
