// The state file keeps pins and policies across restarts, written atomically.
#include "daemon/state_file.h"

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

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
	s.policies = {{"/a/one.lua", 0, 0}, {"/b/two.lua", 1000, 100}};
	s.pins = {{1234, 7}, {99, 1000000}};
	REQUIRE(f.save(s));
	auto back = f.load();
	REQUIRE(back);
	CHECK(back->policies == s.policies);
	CHECK(back->pins == s.pins);
	CHECK_FALSE(fs::exists(dir + "/sub/state.json.tmp"));
	fs::remove_all(dir);
}

TEST_CASE("group pins are saved by name, as version 3; without them the file stays version 2", "[state][groups]")
{
	SavedState s;
	s.pins = {{7, 9}};
	CHECK(StateFile::serialize(s).find("\"version\": 2") != std::string::npos);
	CHECK(StateFile::serialize(s).find("group_pins") == std::string::npos);
	s.group_pins = {{"uid:1000", 300}, {"batch", 1}};
	auto text = StateFile::serialize(s);
	CHECK(text.find("\"version\": 3") != std::string::npos);
	auto back = StateFile::parse(text, "f");
	REQUIRE(back);
	CHECK(*back == s);
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
			  "{\"version\": 1, \"pins\": {\"5\": \"many\"}}", ""}) {
		std::ofstream(path) << text;
		auto s = StateFile(path).load();
		REQUIRE_FALSE(s);
		CHECK(s.error().msg.find(path) != std::string::npos);
		CHECK(fs::exists(path));
	}
	fs::remove_all(dir);
}

TEST_CASE("a version 1 state file (plain paths, read as root) is still read", "[state]")
{
	auto s = StateFile::parse(R"({"version": 1, "policies": ["/a.lua"], "pins": {"7": 9}})", "f");
	REQUIRE(s);
	CHECK(s->policies == std::vector<SavedPolicy>{{"/a.lua", 0, 0}});
	CHECK(s->pins == std::map<uint32_t, uint32_t>{{7, 9}});
}

TEST_CASE("every bad value in a state file is refused with its field named, never dropped or rounded", "[state]")
{
	struct Case {
		const char *text, *says;
	};
	for (auto c : {
		     Case{R"({"version":2,"pins":{"100":0}})", R"(f: pins."100": tickets 0 is not an integer in 1..1000000)"},
		     Case{R"({"version":2,"pins":{"100":-5}})", R"(pins."100": tickets -5 is not)"},
		     Case{R"({"version":2,"pins":{"100":1e12}})", R"(pins."100": tickets 1e+12 is not)"},
		     Case{R"({"version":2,"pins":{"100":2.5}})", R"(pins."100": tickets 2.5 is not)"},
		     Case{R"({"version":2,"pins":{"100":"7"}})", R"(pins."100": tickets "7" is not)"},
		     Case{R"({"version":2,"pins":{"100":null}})", R"(pins."100": tickets null is not)"},
		     Case{R"({"version":2,"pins":{"abc":5}})", R"(f: pins: "abc" is not a pid)"},
		     Case{R"({"version":2,"pins":{"0":5}})", R"(pins: "0" is not a pid)"},
		     Case{R"({"version":2,"pins":{"4294967296":5}})", R"(pins: "4294967296" is not a pid)"},
		     Case{R"({"version":2,"pins":{"-1":5}})", R"(pins: "-1" is not a pid)"},
		     Case{R"({"version":2,"pins":[1]})", "pins: [1] is not an object"},
		     Case{R"({"version":2,"policies":[5]})", "policies[0]: 5 is not an object"},
		     Case{R"({"version":1,"policies":[5]})", "policies[0]: 5 is not a path"},
		     Case{R"({"version":2,"policies":[{"file":"rel.lua","uid":0,"gid":0}]})", "policies[0].file: \"rel.lua\" is not an absolute path"},
		     Case{R"({"version":2,"policies":[{"file":"/a.lua","uid":-1,"gid":0}]})", "policies[0].uid: -1 is not an integer"},
		     Case{R"({"version":2,"policies":[{"file":"/a.lua","gid":0}]})", "policies[0]: missing field \"uid\""},
		     Case{R"({"version":2,"policies":[{"file":"/a.lua","uid":0,"gid":0,"x":1}]})", "policies[0]: unknown field \"x\""},
		     Case{R"({"version":2,"policies":{}})", "policies: {} is not a list"},
		     Case{R"({"version":2,"extra":1})", "unknown field \"extra\""},
		     Case{R"({"version":2,"pins":{"1":5,"1":6}})", "duplicate key \"1\""},
		     Case{R"({"version":2,"pins":{},"pins":{}})", "duplicate key \"pins\""},
		     Case{R"({"version":4})", "f: version 4 is not one this lotto-host reads"},
		     Case{R"({"version":3,"group_pins":[1]})", "group_pins: [1] is not an object"},
		     Case{R"({"version":3,"group_pins":{"a b":5}})", "group_pins: \"a b\" is not a group name"},
		     Case{R"({"version":3,"group_pins":{"512":5}})", "is a number"},
		     Case{R"({"version":3,"group_pins":{"":5}})", "may not be empty"},
		     Case{R"({"version":3,"group_pins":{"u":0}})", "group_pins.\"u\": funding 0 is not an integer in 1..1000000"},
		     Case{R"({"version":3,"group_pins":{"u":2.5}})", "funding 2.5 is not"},
		     Case{R"({"version":"2"})", "version \"2\" is not one"},
		     Case{R"({"pins":{}})", "version: missing"},
	     }) {
		INFO(c.text);
		auto s = StateFile::parse(c.text, "f");
		REQUIRE_FALSE(s);
		CHECK(s.error().msg.find(c.says) != std::string::npos);
		CHECK(s.error().msg.find("stoul") == std::string::npos);
		CHECK(s.error().msg.find("json.exception") == std::string::npos);
	}
}

TEST_CASE("a state file that is not a regular file is refused without blocking", "[state]")
{
	auto dir = temp_dir();
	std::string fifo = dir + "/state.json";
	REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
	auto s = StateFile(fifo).load();
	REQUIRE_FALSE(s);
	CHECK(s.error().msg.find("not a regular file (a FIFO)") != std::string::npos);
	auto d = StateFile(dir).load();
	REQUIRE_FALSE(d);
	CHECK(d.error().msg.find("is a directory") != std::string::npos);
	fs::remove_all(dir);
}

TEST_CASE("a state file that cannot be written is an error of its own kind", "[state]")
{
	auto dir = temp_dir();
	std::string path = dir + "/state.json";
	fs::create_directory(path + ".tmp");	// the temp name is taken
	auto r = StateFile(path).save(SavedState{});
	REQUIRE_FALSE(r);
	CHECK(r.error().code == Errc::not_saved);
	CHECK(r.error().msg.find("the state file " + path + " could not be written") != std::string::npos);
	fs::remove_all(dir);
}
