// The state file keeps pins and policies across restarts, written atomically.
#include "daemon/state_file.h"

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>

using namespace lotto;
namespace fs = std::filesystem;

static std::string temp_dir()
{
	char d[] = "/tmp/lotto-state-XXXXXX";
	REQUIRE(mkdtemp(d));
	return d;
}

TEST_CASE("a saved state loads back the same", "[state]")
{
	auto dir = temp_dir();
	StateFile f(dir + "/sub/state.json");
	SavedState s;
	s.policies = {"/a/one.lua", "/b/two.lua"};
	s.pins = {{1234, 7}, {99, 1000000}};
	REQUIRE(f.save(s));
	auto back = f.load();
	REQUIRE(back);
	CHECK(back->policies == s.policies);
	CHECK(back->pins == s.pins);
	CHECK_FALSE(fs::exists(dir + "/sub/state.json.tmp"));
	fs::remove_all(dir);
}

TEST_CASE("a missing state file is an empty state", "[state]")
{
	StateFile f("/nonexistent-dir/state.json");
	auto s = f.load();
	REQUIRE(s);
	CHECK(s->pins.empty());
	CHECK(s->policies.empty());
}

TEST_CASE("a corrupt state file is an error that names it and is left alone", "[state]")
{
	auto dir = temp_dir();
	std::string path = dir + "/state.json";
	for (auto text : {"{not json", "[1,2]", "{\"version\": 9}", "{\"version\": 1, \"pins\": {\"x\": 1}}",
			  "{\"version\": 1, \"pins\": {\"5\": \"many\"}}"}) {
		std::ofstream(path) << text;
		auto s = StateFile(path).load();
		REQUIRE_FALSE(s);
		CHECK(s.error().msg.find(path) != std::string::npos);
		CHECK(fs::exists(path));
	}
	fs::remove_all(dir);
}
