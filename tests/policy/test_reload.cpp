// Hot reload: every way a file changes, what happens when the new version is
// bad, and the takeover itself (at a tick boundary: no tick lost or doubled).
// These run the real timers and the inotify watcher on the event loop.
#include "fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstdio>
#include <set>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;

namespace {

policy::EngineOptions live_options()
{
	policy::EngineOptions o;
	o.timers = true;
	o.budget_fraction = 0.9;	// a loaded 2-core CI box must not fail good ticks
	return o;
}

// a version that gives every task `tickets` and counts its ticks
std::string version(int tickets, int interval_ms = 50, const std::string &name = "r")
{
	return "return { name = '" + name + "', interval_ms = " + std::to_string(interval_ms) +
	       ",\n  tick = function(tasks, ctx)\n"
	       "    for i = 1, #tasks do tasks[i].tickets = " + std::to_string(tickets) + " end\n"
	       "  end }\n";
}

struct Live {
	Harness h;
	std::vector<policy::TickReport> reports;
	std::string path;

	explicit Live(const std::string &first = version(111), policy::EngineOptions o = live_options()) : h(o)
	{
		h.backend.add(0, 100);
		h.engine->set_after_tick([this](const policy::TickReport &r) {
			reports.push_back(r);
			h.book.apply();
		});
		path = h.write("r.lua", first);
		REQUIRE(h.engine->load(path).ok());
		REQUIRE(h.run_until([&] { return h.backend.ctl_tickets(0) == 111; }, 2s));
	}

	uint64_t version_now() { return h.info("r").version; }
	bool wait_version(uint64_t v, std::chrono::milliseconds t = 2s)
	{
		return h.run_until([&] { return version_now() >= v; }, t);
	}
	size_t ticks_of(uint64_t v)
	{
		size_t n = 0;
		for (auto &r : reports)
			n += r.version == v;
		return n;
	}
	// every tick slot ran exactly once (overruns are slots skipped on purpose)
	void check_schedule()
	{
		std::set<uint64_t> seen;
		uint64_t last_version = 0;
		for (auto &r : reports) {
			CHECK(seen.insert(r.index).second);	// never twice
			CHECK(r.version >= last_version);	// versions only move forward
			last_version = r.version;
		}
		REQUIRE_FALSE(reports.empty());
		auto i = h.info("r");
		uint64_t first = reports.front().index, last = reports.back().index;
		uint64_t failed_slots = 0;
		for (auto &e : h.engine->errors())
			failed_slots += e.kind == policy::ErrorKind::Tick || e.kind == policy::ErrorKind::Timeout;
		// the slots from the first to the last good tick: each ran, or was
		// counted as an overrun, or failed in every version that tried it
		CHECK(seen.size() + i.overruns + failed_slots >= last - first + 1);
	}
};

} // namespace

TEST_CASE("saving a policy in place reloads it", "[reload]")
{
	Live l;
	auto t0 = std::chrono::steady_clock::now();
	l.h.write("r.lua", version(222));	// truncate + write, same inode
	REQUIRE(l.h.run_until([&] { return l.h.backend.ctl_tickets(0) == 222; }, 2s));
	auto took = std::chrono::steady_clock::now() - t0;
	CHECK(took < 250ms);
	CHECK(l.version_now() == 2);
	CHECK(l.h.log.contains("policy r: version 2 from " + l.path + " took over"));
	l.check_schedule();
}

TEST_CASE("an editor's write-and-rename reloads it", "[reload]")
{
	Live l;
	l.h.write_rename("r.lua", version(333));
	REQUIRE(l.h.run_until([&] { return l.h.backend.ctl_tickets(0) == 333; }, 2s));
	CHECK(l.version_now() == 2);
	// and again: the watch survives the inode change
	l.h.write_rename("r.lua", version(444));
	REQUIRE(l.h.run_until([&] { return l.h.backend.ctl_tickets(0) == 444; }, 2s));
	CHECK(l.version_now() == 3);
	l.check_schedule();
}

TEST_CASE("a version with a syntax error keeps the old one running", "[reload]")
{
	Live l;
	l.h.write("r.lua", "return { name = 'r',\n  tick = function(tasks, ctx)\n    for i = 1, do end\n  end }\n");
	REQUIRE(l.h.run_until([&] { return !l.h.engine->errors().empty(); }, 2s));
	auto e = l.h.engine->errors().back();
	CHECK(e.kind == policy::ErrorKind::Compile);
	CHECK_THAT(e.message, ContainsSubstring(l.path + ":3: unexpected symbol near 'do'"));
	CHECK(e.policy == "r");
	CHECK(l.h.info("r").last_error == e.message);
	size_t before = l.ticks_of(1);
	l.h.run_for(300ms);
	CHECK(l.ticks_of(1) > before);	// still ticking
	CHECK(l.version_now() == 1);
	CHECK(l.h.backend.ctl_tickets(0) == 111);
	CHECK(l.h.log.contains("reload failed, version 1 keeps running"));
	// fixing the file brings the new version in
	l.h.write("r.lua", version(555));
	REQUIRE(l.h.run_until([&] { return l.h.backend.ctl_tickets(0) == 555; }, 2s));
	l.check_schedule();
}

TEST_CASE("a version whose init fails keeps the old one running", "[reload]")
{
	Live l;
	l.h.write("r.lua", "return { name = 'r', interval_ms = 50,\n"
			   "  init = function(ctx)\n    error('no way')\n  end,\n"
			   "  tick = function(tasks, ctx) for i = 1, #tasks do tasks[i].tickets = 999 end end }\n");
	REQUIRE(l.h.run_until([&] { return !l.h.engine->errors().empty(); }, 2s));
	auto e = l.h.engine->errors().back();
	CHECK(e.kind == policy::ErrorKind::Init);
	CHECK_THAT(e.message, ContainsSubstring(l.path + ":3: no way"));
	l.h.run_for(200ms);
	CHECK(l.version_now() == 1);
	CHECK(l.h.backend.ctl_tickets(0) == 111);
	l.check_schedule();
}

TEST_CASE("a version whose init runs away keeps the old one running", "[reload]")
{
	auto o = live_options();
	o.init_budget = 200ms;
	Live l(version(111), o);
	l.h.write("r.lua", "return { name = 'r', init = function() while true do end end, tick = function() end }");
	REQUIRE(l.h.run_until([&] { return !l.h.engine->errors().empty(); }, 3s));
	CHECK(l.h.engine->errors().back().kind == policy::ErrorKind::Timeout);
	l.h.run_for(100ms);
	CHECK(l.version_now() == 1);
	CHECK(l.h.backend.ctl_tickets(0) == 111);
	l.check_schedule();
}

TEST_CASE("a version whose first tick fails keeps the old one, which runs that tick", "[reload]")
{
	Live l;
	l.h.write("r.lua", "return { name = 'r', interval_ms = 50,\n"
			   "  tick = function(tasks, ctx)\n    tasks[1].tickets = -1\n  end }\n");
	REQUIRE(l.h.run_until([&] { return !l.h.engine->errors().empty(); }, 2s));
	auto e = l.h.engine->errors().back();
	CHECK(e.kind == policy::ErrorKind::Tick);
	CHECK_THAT(e.message, ContainsSubstring(l.path + ":3: policy r: invalid tickets -1"));
	CHECK(l.h.log.contains("the new version's first tick failed; version 1 keeps running"));
	l.h.run_for(200ms);
	CHECK(l.version_now() == 1);
	CHECK(l.h.backend.ctl_tickets(0) == 111);
	CHECK_FALSE(l.h.info("r").reload_pending);
	l.check_schedule();	// the failed slot was run by version 1
}

TEST_CASE("a version whose first tick runs away keeps the old one", "[reload]")
{
	Live l;
	l.h.write("r.lua", "return { name = 'r', interval_ms = 50, tick = function() while true do end end }");
	REQUIRE(l.h.run_until([&] { return !l.h.engine->errors().empty(); }, 2s));
	CHECK(l.h.engine->errors().back().kind == policy::ErrorKind::Timeout);
	l.h.run_for(200ms);
	CHECK(l.version_now() == 1);
	CHECK(l.h.backend.ctl_tickets(0) == 111);
	CHECK(l.h.info("r").timeouts == 1);
}

TEST_CASE("deleting the file keeps the last good version running", "[reload]")
{
	Live l;
	REQUIRE(remove(l.path.c_str()) == 0);
	REQUIRE(l.h.run_until([&] { return l.h.info("r").file_deleted; }, 2s));
	CHECK(l.h.log.contains("was deleted; its last good version (version 1) keeps running"));
	size_t before = l.ticks_of(1);
	l.h.run_for(200ms);
	CHECK(l.ticks_of(1) > before);
	CHECK(l.h.info("r").running);
	// putting it back reloads it
	l.h.write("r.lua", version(666));
	REQUIRE(l.h.run_until([&] { return l.h.backend.ctl_tickets(0) == 666; }, 2s));
	CHECK_FALSE(l.h.info("r").file_deleted);
	l.check_schedule();
}

TEST_CASE("a new file in a watched directory loads, a broken one waits for its fix", "[reload]")
{
	Harness h(live_options());
	h.backend.add(0, 100);
	h.write("a.lua", version(101, 50, "a"));
	h.write("notes.txt", "not a policy");
	REQUIRE(h.engine->watch_dir(h.dir.path()).ok());
	REQUIRE(h.engine->list().size() == 1);
	CHECK(h.info("a").running);

	h.write("b.lua", version(202, 50, "b"));
	REQUIRE(h.run_until([&] { return h.engine->list().size() == 2 && h.info("b").ticks > 0; }, 2s));
	CHECK(h.backend.ctl_tickets(0) == 202);	// b after a in load order

	h.write("c.lua", "return { tick = ");
	REQUIRE(h.run_until([&] { return !h.engine->errors().empty(); }, 2s));
	CHECK(h.engine->errors().back().kind == policy::ErrorKind::Compile);
	CHECK_FALSE(h.info("c").running);
	h.write("c.lua", version(303, 50, "c"));
	REQUIRE(h.run_until([&] { return h.info("c").running && h.info("c").ticks > 0; }, 2s));
	h.write_rename("d.lua", version(404, 50, "d"));	// an editor's save of a new file
	REQUIRE(h.run_until([&] { return h.engine->list().size() == 4; }, 2s));
	CHECK(h.engine->list()[3].name == "d");
}

TEST_CASE("reload() reloads now; unchanged saves are ignored", "[reload]")
{
	Live l;
	REQUIRE(l.h.engine->reload("r").ok());	// same text: an explicit reload still runs it
	REQUIRE(l.wait_version(2));
	l.h.write("r.lua", version(111));	// saved, text unchanged: no reload
	l.h.run_for(200ms);
	CHECK(l.version_now() == 2);
	CHECK_FALSE(l.h.engine->reload("nope").ok());
	l.check_schedule();
}

TEST_CASE("a reload may rename the policy and change its interval", "[reload]")
{
	Live l;
	l.h.write("r.lua", version(777, 100, "renamed"));
	REQUIRE(l.h.run_until([&] { return l.h.backend.ctl_tickets(0) == 777; }, 2s));
	auto list = l.h.engine->list();
	REQUIRE(list.size() == 1);
	CHECK(list[0].name == "renamed");
	CHECK(list[0].interval_ms == 100);
	CHECK(l.h.book.source(0) == "policy renamed");
}

TEST_CASE("ctx.state starts afresh in a reloaded version and runtime deltas run on", "[reload]")
{
	auto src = [](int v) {
		return "return { name = 'r', interval_ms = 50, tick = function(tasks, ctx)\n"
		       "  ctx.state.n = (ctx.state.n or 0) + 1\n"
		       "  ctx.state.d = tasks[1].runtime_delta_ns\n"
		       "  for i = 1, #tasks do tasks[i].tickets = " + std::to_string(v) + " end end }\n";
	};
	Live l(src(111));
	l.h.run_for(200ms);
	CHECK(l.h.eval("r", "ctx.state.n > 1") == "true");
	l.h.write("r.lua", src(222));
	REQUIRE(l.h.run_until([&] { return l.h.backend.ctl_tickets(0) == 222; }, 2s));
	l.h.backend.at(0).runtime_ns += 1000;
	REQUIRE(l.h.run_until([&] { return l.h.eval("r", "ctx.state.d") == "1000"; }, 2s));
	CHECK(l.h.eval("r", "ctx.state.n < 5") == "true");
}

TEST_CASE("no tick is lost or run twice across many reloads", "[reload]")
{
	Live l;
	for (int v = 2; v <= 6; v++) {
		if (v % 2)
			l.h.write("r.lua", version(100 + v));
		else
			l.h.write_rename("r.lua", version(100 + v));
		REQUIRE(l.wait_version(uint64_t(v)));
		l.h.run_for(60ms);
	}
	l.h.run_for(100ms);
	l.check_schedule();
	for (uint64_t v = 1; v <= 6; v++)
		CHECK(l.ticks_of(v) >= 1);
}

TEST_CASE("reload latency from save to the new version's first tick is below 250 ms", "[reload]")
{
	Live l(version(111, 20));
	std::vector<double> ms;
	for (int v = 2; v <= 6; v++) {
		l.h.run_for(30ms);
		auto t0 = std::chrono::steady_clock::now();
		l.h.write("r.lua", version(100 + v, 20));
		REQUIRE(l.h.run_until([&] { return !l.reports.empty() && l.reports.back().version == uint64_t(v); },
				      2s));
		ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
	}
	std::sort(ms.begin(), ms.end());
	INFO("median " << ms[ms.size() / 2] << " ms, max " << ms.back() << " ms");
	CHECK(ms.back() < 250);
}
