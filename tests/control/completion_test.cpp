#include "completion.h"

#include <algorithm>
#include <catch2/catch_test_macros.hpp>

using namespace lotto::shell;
using V = std::vector<std::string>;

namespace {
struct Source : CompletionSource {
	V pids() override { return {"100", "101", "200"}; }
	V comms() override { return {"stress", "editor"}; }
	V policy_names() override { return {"nice_weighted", "interactive"}; }
	V group_names() override { return {"uid:1000", "uid:1001", "batch"}; }
	V files(std::string_view prefix, bool lua_only) override
	{
		last_prefix = std::string(prefix);
		last_lua = lua_only;
		return {std::string(prefix) + "x.lua", std::string(prefix) + "dir/"};
	}
	std::string last_prefix;
	bool last_lua = false;
};

V at_end(std::string_view line, Source &s) { return complete(line, line.size(), s).candidates; }
} // namespace

TEST_CASE("the first word completes to command names and aliases", "[completion]")
{
	Source s;
	CHECK(at_end("", s).size() == commands().size() + 1);	// + the alias exit
	CHECK(at_end("t", s) == V{"tasks", "tickets"});
	CHECK(at_end("ex", s) == V{"exit", "export"});
	CHECK(at_end("stats; sh", s) == V{"shares", "show"});
	CHECK(at_end("nosuch ", s).empty());
}

TEST_CASE("subcommands, flags and flag values complete from the table", "[completion]")
{
	Source s;
	CHECK(at_end("policy ", s) == V{"errors", "list", "load", "reload", "unload"});
	CHECK(at_end("policy re", s) == V{"reload"});
	CHECK(at_end("tasks --s", s) == V{"--sort"});
	CHECK(at_end("tasks --sort ", s) == V{"cpu", "pid", "tickets", "wait"});
	CHECK(at_end("tasks --sort t", s) == V{"tickets"});
	CHECK(at_end("tasks --sort cpu --", s) == V{"--comm", "--json", "--pid", "--top", "--user"});
	CHECK(at_end("draw --", s) == V{"--json", "--seed"});
	CHECK(at_end("export ", s) == V{"csv"});
}

TEST_CASE("pids, comm names and policy names come from the host", "[completion]")
{
	Source s;
	CHECK(at_end("show ", s) == V{"100", "101", "200"});
	CHECK(at_end("show 10", s) == V{"100", "101"});
	CHECK(at_end("unpin ", s) == V{"100", "101", "200", "all"});
	CHECK(at_end("tickets ", s) == V{"100", "101", "200", "editor", "stress"});
	CHECK(at_end("tickets st", s) == V{"stress"});
	CHECK(at_end("tickets 100 ", s).empty());	// a number of tickets: nothing to offer
	CHECK(at_end("tasks --comm e", s) == V{"editor"});
	CHECK(at_end("policy unload ", s) == V{"interactive", "nice_weighted"});
	CHECK(at_end("boost 100 x2 ", s) == V{"for"});
	CHECK(at_end("help po", s) == V{"policy"});
}

TEST_CASE("policy files complete as paths, .lua only", "[completion]")
{
	Source s;
	auto c = complete("policy load pol", 15, s);
	CHECK(c.is_path);
	CHECK(s.last_prefix == "pol");
	CHECK(s.last_lua);
	CHECK(c.candidates == V{"poldir/", "polx.lua"});
	complete("export csv out", 14, s);
	CHECK_FALSE(s.last_lua);
}

TEST_CASE("watch completes the command it repeats, read commands only", "[completion][watch]")
{
	Source s;
	auto w = at_end("watch ", s);
	CHECK(std::find(w.begin(), w.end(), "tasks") != w.end());
	CHECK(std::find(w.begin(), w.end(), "tickets") == w.end());
	CHECK(at_end("watch tasks --so", s) == V{"--sort"});
	CHECK(at_end("watch show ", s) == V{"100", "101", "200"});
}

TEST_CASE("completion in the middle of a line uses the words before the cursor", "[completion]")
{
	Source s;
	std::string line = "show 1 ; tasks";
	CHECK(complete(line, 6, s).candidates == V{"100", "101"});
}

TEST_CASE("fund completes policy group names, then off", "[completion][groups]")
{
	Source s;
	CHECK(at_end("fund uid", s) == V{"uid:1000", "uid:1001"});
	CHECK(at_end("fund b", s) == V{"batch"});
	CHECK(at_end("fund batch o", s) == V{"off"});
	CHECK(at_end("gr", s) == V{"groups"});
}
