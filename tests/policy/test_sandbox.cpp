// The sandbox: an allow-list environment per policy. Every forbidden thing
// fails with an error that says what and how an operator could allow it;
// --unsafe-policies lifts it; the worker process holds no host fds and may
// not write the backend's tables even with ffi.
#include "fixture.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fcntl.h>
#include <unistd.h>

using namespace lotto;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;

static const char *kForbidden[][2] = {
	{"os.execute('true')", "os.execute"},
	{"os.exit(1)", "os.exit"},
	{"os.getenv('HOME')", "os.getenv"},
	{"os.remove('/tmp/x')", "os.remove"},
	{"os.rename('/tmp/x', '/tmp/y')", "os.rename"},
	{"os.tmpname()", "os.tmpname"},
	{"io.open('/etc/passwd')", "io"},
	{"local f = io", "io"},
	{"load('return 1')", "load"},
	{"loadstring('return 1')", "loadstring"},
	{"loadfile('/etc/passwd')", "loadfile"},
	{"dofile('/etc/passwd')", "dofile"},
	{"require('os')", "require"},
	{"debug.getinfo(1)", "debug"},
	{"ffi.C.getpid()", "ffi"},
	{"jit.off()", "jit"},
	{"package.loaded.io.open('/etc/passwd')", "package"},
	{"module('x')", "module"},
	{"getfenv(0)", "getfenv"},
	{"setfenv(1, {})", "setfenv"},
	{"newproxy(true)", "newproxy"},
	{"string.dump(print)", "string.dump"},
	{"collectgarbage('stop')", "collectgarbage(\"stop\")"},
};

TEST_CASE("each forbidden function fails at load with a clear sandbox error", "[sandbox]")
{
	Harness h;
	for (auto &f : kForbidden) {
		INFO(f[0]);
		auto path = h.write("s.lua", std::string("return { tick = function() end,\n  init = function(ctx)\n    ") +
						    f[0] + "\n  end }\n");
		auto r = h.engine->load(path);
		REQUIRE_FALSE(r.ok());
		CHECK_THAT(r.error().msg, ContainsSubstring(path + ":3: " + f[1] +
							    " is not available to policies (sandbox)"));
		CHECK_THAT(r.error().msg, ContainsSubstring("--unsafe-policies"));
	}
	CHECK(h.engine->list().empty());
}

TEST_CASE("each forbidden function fails inside a tick too", "[sandbox]")
{
	Harness h;
	// one closure per forbidden call, made in the policy's own environment
	std::string src = "local tries, run = {}, {}\n";
	for (auto &f : kForbidden)
		src += std::string("tries[#tries + 1] = [[") + f[0] + "]]; run[ [[" + f[0] + "]] ] = function() " +
		       f[0] + " end\n";
	src += "return { name = 'sb', init = function(ctx) ctx.state.tries = tries; ctx.state.run = run end,\n"
	       "  tick = function(tasks, ctx)\n"
	       "    ctx.state.r = {}\n"
	       "    for _, s in ipairs(ctx.state.tries) do\n"
	       "      local ok, e = pcall(ctx.state.run[s])\n"
	       "      ctx.state.r[#ctx.state.r + 1] = ok and ('ALLOWED ' .. s) or e\n"
	       "    end\n"
	       "  end }\n";
	auto path = h.write("s.lua", src);
	REQUIRE(h.engine->load(path).ok());
	for (size_t i = 0; i < std::size(kForbidden); i++) {
		INFO(kForbidden[i][0]);
		auto got = h.eval("sb", "ctx.state.r[" + std::to_string(i + 1) + "]");
		std::erase(got, '\\');	// as %q shows it
		CHECK_THAT(got,
			   ContainsSubstring(std::string(kForbidden[i][1]) + " is not available to policies (sandbox)"));
	}
}

TEST_CASE("the allowed libraries work in the sandbox", "[sandbox]")
{
	Harness h;
	auto path = h.write("s.lua", policy_src("ok", R"(
		local t = { 3, 1, 2 }
		table.sort(t)
		local co = coroutine.wrap(function() coroutine.yield(5) end)
		ctx.state.r = { string.format("%05.1f", 3.14159), table.concat(t, ","), math.floor(2.7),
			type(os.time()), type(os.clock()), os.date("!%Y", 0), select("#", 1, 2, 3),
			pcall(error, "x") == false, bit.band(6, 3), co(), ("abc"):upper(), tostring(nil),
			tonumber("0x10"), next({}) == nil, rawequal(t, t), #string.rep("a", 3),
			getmetatable(setmetatable({}, { __index = {} })) ~= nil, unpack({ 7 }),
			collectgarbage("count") > 0 }
	)"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.eval("ok", "ctx.state.r") ==
	      "{[1] = \"003.1\", [2] = \"1,2,3\", [3] = 2, [4] = \"number\", [5] = \"number\", [6] = \"1970\", "
	      "[7] = 3, [8] = true, [9] = 2, [10] = 5, [11] = \"ABC\", [12] = \"nil\", [13] = 16, [14] = true, "
	      "[15] = true, [16] = 3, [17] = true, [18] = 7, [19] = true}");
}

TEST_CASE("policies cannot reach the real globals or another policy's globals", "[sandbox]")
{
	Harness h;
	h.backend.add(0, 100);
	REQUIRE(h.engine->load(h.write("a.lua", "shared_name = 'from a'\nreturn { name = 'a', tick = function() end }"))
			.ok());
	REQUIRE(h.engine->load(h.write("b.lua", R"(
		return { name = 'b', tick = function(tasks, ctx)
			ctx.state.r = { shared_name == nil, rawget(_G, 'io') == nil, rawget(_G, 'ffi') == nil,
				getmetatable('') == false and (''):len() == 0 and ('').dump == nil, getmetatable(tasks), getmetatable(tasks[1]),
				(pcall(setmetatable, tasks, {})) }
		end }
	)")).ok());
	REQUIRE(h.engine->tick_now("b").ok());
	CHECK(h.eval("b", "ctx.state.r") ==
	      "{[1] = true, [2] = true, [3] = true, [4] = true, [5] = \"ffi\", [6] = \"ffi\", [7] = false}");
	CHECK(h.eval("a", "shared_name") == "\"from a\"");
}

TEST_CASE("the operator flag --unsafe-policies lifts the sandbox", "[sandbox]")
{
	auto o = Harness::quiet_options();
	o.unsafe = true;
	Harness h(o);
	auto f = h.write("data.txt", "hello");
	auto path = h.write("u.lua", policy_src("u", "local fh = io.open('" + f + "'); ctx.state.r = fh:read('*a'); fh:close()\n"
						      "ctx.state.ffi = require('ffi').C ~= nil\n"
						      "ctx.state.jit = jit.status()"));
	REQUIRE(h.engine->load(path).ok());
	CHECK(h.eval("u", "ctx.state.r") == "\"hello\"");
	CHECK(h.eval("u", "ctx.state.ffi") == "true");
	CHECK(h.eval("u", "ctx.state.jit") == "true");	// policies run JIT-compiled
}

TEST_CASE("a worker holds no file descriptor of the host but its channel", "[sandbox]")
{
	auto o = Harness::quiet_options();
	o.unsafe = true;	// ffi, to look
	Harness h(o);
	int fds[2];
	REQUIRE(pipe(fds) == 0);	// inherited by fork (no CLOEXEC): must be closed in the worker
	auto path = h.write("u.lua", policy_src("fd", R"(
		local ffi = require('ffi')
		ffi.cdef('int fcntl(int fd, int cmd, ...);')
		local open = {}
		for fd = 0, 1023 do
			if ffi.C.fcntl(fd, 1) >= 0 then open[#open + 1] = fd end
		end
		ctx.state.open = open
	)"));
	REQUIRE(h.engine->load(path).ok());
	auto open = h.eval("fd", "#ctx.state.open");
	CHECK(open == "4");	// stdin, stdout, stderr and the channel
	CHECK(h.eval("fd", "ctx.state.open[4] > 2") == "true");
	close(fds[0]);
	close(fds[1]);
}

TEST_CASE("a worker cannot write the backend's control table even with ffi", "[sandbox]")
{
	auto o = Harness::quiet_options();
	o.unsafe = true;
	Harness h(o);
	h.backend.add(0, 100);
	auto addr = std::to_string(reinterpret_cast<uintptr_t>(h.backend.ctl()));
	auto path = h.write("u.lua", policy_src("w", "if ctx.tick > 1 then require('ffi').cast('uint32_t *', " + addr +
							     "ULL)[1] = 5 end"));
	REQUIRE(h.engine->load(path).ok());
	auto r = h.engine->tick_now("w");
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring(kSegvDeath));
	CHECK(h.backend.ctl()[0].tickets == 0);
	CHECK(h.engine->errors().back().kind == policy::ErrorKind::Crash);
}
