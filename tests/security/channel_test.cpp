// The policy channel (worker -> engine) carries what a policy makes: long
// error messages, many log lines. Every message must stay within its limit
// and decode; before, a long error or many log lines were cut in the middle
// of a field, the engine could not decode the reply and killed the worker
// as if it had crashed.
#include "../policy/fixture.h"
#include "policy/channel.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto;
using namespace lotto::policy;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("a reply with huge texts and many log lines stays within the limit and decodes", "[security][channel]")
{
	TickDoneMsg m;
	m.ok = false;
	m.error.kind = ErrorKind::Tick;
	m.error.message = std::string(1 << 20, 'm');
	m.error.traceback = std::string(1 << 20, 't');
	for (int i = 0; i < 300; i++)
		m.logs.push_back(LogLine{2, std::string(5000, 'l')});
	std::string buf = encode(m);
	CHECK(buf.size() <= kMaxMessage);
	auto back = decode_tick_done(buf);
	REQUIRE(back);
	CHECK(back->error.message.size() == kMaxText);
	CHECK(back->error.message.substr(kMaxText - 3) == "...");
	CHECK(back->logs.size() + back->logs_dropped == 300);
	CHECK(back->logs.size() > 10);
	for (auto &l : back->logs)
		CHECK(l.text.size() <= kMaxLogLine);
}

TEST_CASE("malformed or trailing bytes are refused by every decoder", "[security][channel]")
{
	EvalDoneMsg e;
	e.id = 7;
	e.ok = true;
	e.text = "42";
	std::string buf = encode(e);
	CHECK(decode_eval_done(buf));
	CHECK_FALSE(decode_eval_done(buf + "x"));
	CHECK_FALSE(decode_eval_done(buf.substr(0, buf.size() - 1)));
	CHECK_FALSE(decode_tick_done(buf));
	EvalMsg q;
	q.groups.assign(kMaxGroups + 10, 5);
	auto qb = encode(q);
	auto qd = decode_eval(qb);
	REQUIRE(qd);
	CHECK(qd->groups.size() == kMaxGroups);
}

TEST_CASE("a policy that raises a 1 MB error or logs a lot keeps its worker", "[security][channel]")
{
	Harness h;
	h.backend.add(0, 100);
	auto path = h.write("loud.lua", policy_src("loud", R"(
		for i = 1, 150 do ctx.log("info", string.rep("x", 2000)) end
		if ctx.tick > 1 then error(string.rep("e", 1000000)) end
		tasks[1].tickets = 5)"));
	REQUIRE(h.engine->load(path).ok());
	int pid = h.info("loud").worker_pid;
	auto r = h.engine->tick_now("loud");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("loud.lua:7: eeee"));
	CHECK(r.error().msg.size() <= kMaxText);
	CHECK(h.info("loud").worker_pid == pid);
	for (auto &e : h.engine->errors())
		CHECK(e.kind != ErrorKind::Crash);
	CHECK(h.log.contains("more log lines dropped"));
}
